"""The local model paths a sweep spec names (``hf:<dir>`` feature sets, ``models.w2v/bert/whisper``), checked
before Ray starts, so a wrong path costs one line naming the spec file, the key and the path within milliseconds,
not an error from Ray's actors (or a missing feature set) half a minute later.

The checks are the extractors' own (:func:`rdlr.features.local_models.require_model_dir` and
:func:`~rdlr.features.local_models.require_model_file`, what ``Extractor.check_models`` and ``setup`` call), run
without importing torch. An encoder layer (``whisper@N``, ``hf:<dir>@N``) is also checked to exist in its model
(``config.json``, or the Whisper checkpoint's ``dims``, read weights-only: then torch is imported). A feature set the
store already holds is not checked: its model is not needed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from rdlr.features.local_models import require_model_dir, require_model_file, resolved_path
from rdlr.features.registry import HF_PREFIX, build_layered, layered_name, store_name
from rdlr.features.store import FeatureStore
from rdlr.spec.core import SpecError, SweepSpec
from rdlr.sweep.inputs import feature_components, resolved_models

Check = Callable[[str | Path, str], Path]
MODEL_CHECKS: dict[str, tuple[Check, str]] = {  # spec model key -> (check, what the model is)
    "w2v": (require_model_file, "wav2vec checkpoint"),
    "bert": (require_model_dir, "BERT"),
    "whisper": (require_model_file, "Whisper checkpoint"),
}
USES: dict[str, tuple[str, ...]] = {  # feature set (without a layer) -> model keys
    "w2v": ("w2v",),
    "bert": ("bert", "whisper"),
    "whisper": ("whisper",),
}


def _model_paths(name: str, models: dict[str, str]) -> Iterator[tuple[str, str, Check, str]]:
    """(spec key, path, check, what) of every model feature set ``name`` loads."""
    base = layered_name(name).base
    if base.startswith(HF_PREFIX):
        model_dir = resolved_path(base[len(HF_PREFIX) :])
        yield f"features ({name})", model_dir, require_model_dir, "transformers audio encoder"
    for key in USES.get(base, ()):
        if models.get(key):
            check, what = MODEL_CHECKS[key]
            yield f"models.{key}", models[key], check, what


def check_model_paths(spec: SweepSpec, data_root: Path | None, where: str, store: str | None = None) -> None:
    """Raise :class:`SpecError` (``"<where>: <key>: <what> not found: <path> ..."``) for the first model path of
    the spec's feature sets that is not on this machine; feature sets the feature store ``store`` already holds
    are left out."""
    stored = FeatureStore(store).feature_sets() if store else []
    models = resolved_models(spec, data_root)
    for name in feature_components(spec):
        if store_name(name) in stored:
            continue
        for key, path, check, what in _model_paths(name, models):
            try:
                check(path, what)
            except FileNotFoundError as error:
                raise SpecError(f"{where}: {key}: {error}") from None
        parts = layered_name(name)
        if parts.layer is not None:  # the layer exists in that model: its config (or checkpoint dims) is read
            try:
                build_layered(parts.base, {name: parts.layer}, models)
            except ValueError as error:
                raise SpecError(f"{where}: features: {error}") from None
