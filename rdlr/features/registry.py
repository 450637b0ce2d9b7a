"""Feature-set names -> extractors, and the fixed order in which feature sets are concatenated.

Built-in names: ``is10`` (openSMILE IS10, 1582), ``w2v`` (wav2vec, 512), ``bert`` (Whisper transcript -> BERT, 768),
``hf:<local dir>`` (any Hugging Face audio encoder). Combinations concatenate in the order is10, w2v, bert, hf-*,
then any name registered with :func:`register_extractor`, whatever order they were asked in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePath

from rdlr.features.base import Extractor

BUILTIN_ORDER = ("is10", "w2v", "bert")
HF_PREFIX = "hf:"
HF_STORE_PREFIX = "hf-"
MODEL_FLAGS = {"w2v": "--w2v-checkpoint", "bert": "--bert-dir", "whisper": "--whisper-checkpoint"}

ExtractorFactory = Callable[[Mapping[str, str]], Extractor]
_REGISTERED: dict[str, ExtractorFactory] = {}


def register_extractor(name: str, factory: ExtractorFactory) -> None:
    """Make ``name`` buildable by :func:`build_extractor` (``factory(models) -> Extractor``)."""
    if name in BUILTIN_ORDER or name.startswith((HF_PREFIX, HF_STORE_PREFIX)):
        raise ValueError(f"feature-set name {name!r} is reserved for a built-in extractor")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"feature-set name {name!r}: use letters, digits, '_', '-', '.' only")
    _REGISTERED[name] = factory


def unregister_extractor(name: str) -> None:
    """Forget a name added with :func:`register_extractor` (no error if absent)."""
    _REGISTERED.pop(name, None)


def valid_names() -> list[str]:
    """The names :func:`build_extractor` accepts, for error messages."""
    return [*BUILTIN_ORDER, "hf:<local model dir>", *sorted(_REGISTERED)]


def _require(models: Mapping[str, str], key: str, name: str) -> str:
    path = models.get(key)
    if not path:
        raise ValueError(
            f"feature set {name!r} needs a local model path: set models[{key!r}] (CLI: {MODEL_FLAGS[key]} PATH)"
        )
    return str(path)


def build_extractor(name: str, models: Mapping[str, str] | None = None, *, hf_layer: int | None = None) -> Extractor:
    """The extractor for feature-set ``name``, configured with the local model paths in ``models``.

    ``models`` keys: ``w2v`` (wav2vec checkpoint), ``bert`` (BERT dir), ``whisper`` (optional Whisper checkpoint:
    given, every utterance is transcribed by it as in the paper; without it the manifest's transcripts are used).
    ``hf_layer`` sets ``HFEncoderConfig.layer`` of ``hf:<dir>`` encoders (``None``: that config's default, the last
    layer); other feature sets ignore it. Only the config is built here; the model loads in
    :meth:`Extractor.setup`, once per worker.
    """
    models = dict(models or {})
    if name == "is10":
        from rdlr.features.is10 import IS10Config, IS10Extractor

        return IS10Extractor(IS10Config())
    if name == "w2v":
        checkpoint = _require(models, "w2v", name)
        from rdlr.features.wav2vec import Wav2VecConfig, Wav2VecExtractor

        return Wav2VecExtractor(Wav2VecConfig(checkpoint=checkpoint))
    if name == "bert":
        bert_dir = _require(models, "bert", name)
        from rdlr.features.text import BertTextExtractor, TextConfig

        whisper = models.get("whisper") or None
        config = TextConfig(whisper_checkpoint=whisper, bert_dir=bert_dir, use_manifest_transcripts=whisper is None)
        return BertTextExtractor(config)
    if name.startswith(HF_PREFIX):
        model_dir = name[len(HF_PREFIX) :]
        if not model_dir:
            raise ValueError(f"feature set {name!r}: give the model folder, e.g. hf:/models/hubert-base")
        from rdlr.features.hf_encoder import HFEncoderConfig, HFEncoderExtractor

        config = HFEncoderConfig(model_dir=model_dir) if hf_layer is None else HFEncoderConfig(model_dir, hf_layer)
        return HFEncoderExtractor(config)
    if name in _REGISTERED:
        return _REGISTERED[name](models)
    raise ValueError(f"unknown feature set {name!r}; valid: {', '.join(valid_names())}")


def store_name(name: str) -> str:
    """The folder name of feature set ``name`` in the store (``hf:/m/hubert-base`` -> ``hf-hubert-base``)."""
    if name.startswith(HF_PREFIX):
        base = PurePath(name[len(HF_PREFIX) :].rstrip("/\\")).name
        return HF_STORE_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "_", base)
    return name


def _order_key(name: str) -> tuple[int, str]:
    stored = store_name(name)
    if stored in BUILTIN_ORDER:
        return (BUILTIN_ORDER.index(stored), "")
    if stored.startswith(HF_STORE_PREFIX):
        return (len(BUILTIN_ORDER), stored)
    return (len(BUILTIN_ORDER) + 1, stored)


def parse_feature_sets(spec: str | Iterable[str]) -> list[str]:
    """Feature-set names from ``"is10+w2v"``, ``"is10,w2v"`` or a list, de-duplicated, in the fixed order."""
    items = [spec] if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        for part in re.split(r"[+,]", item):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    if not names:
        raise ValueError(f"no feature set given in {spec!r}; valid: {', '.join(valid_names())}")
    return sorted(names, key=_order_key)
