"""Feature-set names -> extractors, and the fixed order in which feature sets are concatenated.

Built-in names: ``is10`` (openSMILE IS10, 1582), ``w2v`` (wav2vec, 512), ``bert`` (Whisper transcript -> BERT, 768),
``whisper`` (the encoder of the Whisper checkpoint), ``hf:<local dir>`` (a transformers speech encoder). ``whisper``
and ``hf:<dir>`` take a layer suffix, ``@N`` or ``@all`` (:mod:`rdlr.features.layers`). Combinations concatenate in
the order is10, w2v, bert, whisper, hf-* (layers in increasing order), then any name registered with
:func:`register_extractor`, whatever order they were asked in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePath

from rdlr.features.base import Extractor
from rdlr.features.layers import ALL, LayerName, split_layer

BUILTIN_ORDER = ("is10", "w2v", "bert", "whisper")
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


def layered_name(name: str) -> LayerName:
    """``name`` split into base and layer (:func:`rdlr.features.layers.split_layer`); a suffix on a feature set
    without layers, or a malformed one, is one ValueError line naming the feature set."""
    parts = split_layer(name)
    if parts.layer is not None and not is_encoder(parts.base):
        raise ValueError(
            f"feature set {name!r}: {parts.base} has no layers; @N and @all apply to whisper and {HF_PREFIX}<dir> "
            "encoders"
        )
    return parts


def is_encoder(base: str) -> bool:
    """Whether feature set ``base`` (no suffix) is an encoder with layers: ``whisper`` or ``hf:<dir>``."""
    return base == "whisper" or base.startswith(HF_PREFIX)


def _require(models: Mapping[str, str], key: str, name: str) -> str:
    path = models.get(key)
    if not path:
        raise ValueError(
            f"feature set {name!r} needs a local model path: set models[{key!r}] (CLI: {MODEL_FLAGS[key]} PATH)"
        )
    return str(path)


def build_extractor(
    name: str, models: Mapping[str, str] | None = None, *, hf_layer: int | None = None, fp16: bool = False
) -> Extractor:
    """The extractor for feature-set ``name``, configured with the local model paths in ``models``.

    ``models`` keys: ``w2v`` (wav2vec checkpoint), ``bert`` (BERT dir), ``whisper`` (optional Whisper checkpoint:
    given, every utterance is transcribed by it as in the paper; without it the manifest's transcripts are used).
    ``hf_layer`` sets ``HFEncoderConfig.layer`` of ``hf:<dir>`` encoders named without a layer suffix (``None``: that
    config's default, the last layer); other feature sets ignore it. ``whisper`` and ``hf:<dir>`` take ``@N`` /
    ``@all`` (:mod:`rdlr.features.layers`); ``fp16`` runs those encoders in half precision (GPU only). Only the
    config is built here (reading the model's layer count); the model loads in :meth:`Extractor.setup`, once per
    worker.
    """
    models = dict(models or {})
    parts = layered_name(name)
    if parts.base == "whisper" or parts.layer is not None:
        return build_layered(parts.base, {name: parts.layer}, models, fp16=fp16)
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
        from rdlr.features.hf_layers import encoder_shape

        if encoder_shape(model_dir).is_whisper:  # a Whisper folder: its hidden_states[N] is layer @N
            return build_layered(name, {name: hf_layer}, models, fp16=fp16)
        if fp16:
            raise ValueError(f"feature set {name!r}: fp16 applies to whisper and {HF_PREFIX}<dir>@N encoders")
        config = HFEncoderConfig(model_dir=model_dir) if hf_layer is None else HFEncoderConfig(model_dir, hf_layer)
        return HFEncoderExtractor(config)
    if name in _REGISTERED:
        return _REGISTERED[name](models)
    raise ValueError(f"unknown feature set {name!r}; valid: {', '.join(valid_names())}")


def build_layered(
    base: str, requests: Mapping[str, int | str | None], models: Mapping[str, str], *, fp16: bool = False
) -> Extractor:
    """One extractor computing every layer that ``requests`` (requested name -> layer, ``"all"`` or ``None``) asks
    of encoder ``base`` (``whisper`` or ``hf:<dir>``) in one forward pass per batch; each requested layer is its
    own feature set (:meth:`Extractor.outputs`). ``None``: the final output."""
    if base == "whisper":
        from rdlr.features.whisper_encoder import WhisperEncoderExtractor

        return WhisperEncoderExtractor(_require(models, "whisper", base), requests, fp16=fp16)
    from rdlr.features.hf_layers import HFLayersExtractor

    model_dir = base[len(HF_PREFIX) :]
    if not model_dir:
        raise ValueError(f"feature set {base!r}: give the model folder, e.g. hf:/models/hubert-base")
    return HFLayersExtractor(model_dir, requests, fp16=fp16)


def build_extractors(
    names: Iterable[str], models: Mapping[str, str] | None = None, *, hf_layer: int | None = None, fp16: bool = False
) -> list[tuple[str, Extractor]]:
    """(requested names joined by '+', extractor) for ``names`` (parsed feature sets): the layers asked of one
    encoder (``whisper@6``, ``whisper@12``, ``whisper@all``, ...) share one extractor, so they come from one forward
    pass per batch; every other name gets its own (:func:`build_extractor`). In the order of the first name of
    each."""
    models = dict(models or {})
    groups: dict[str, dict[str, int | str | None]] = {}
    singles: dict[str, Extractor] = {}
    for name in names:
        parts = layered_name(name)
        if parts.base == "whisper" or parts.layer is not None:
            key = "whisper" if parts.base == "whisper" else HF_PREFIX + str(PurePath(parts.base[len(HF_PREFIX) :]))
            groups.setdefault(key, {})[name] = parts.layer
            singles.setdefault(key, None)  # keeps the order of first appearance
        else:
            singles[name] = build_extractor(name, models, hf_layer=hf_layer, fp16=fp16)
    return [
        (key, extractor)
        if extractor is not None
        else ("+".join(groups[key]), build_layered(key, groups[key], models, fp16=fp16))
        for key, extractor in singles.items()
    ]


def store_name(name: str) -> str:
    """The folder name of feature set ``name`` in the store (``hf:/m/hubert-base`` -> ``hf-hubert-base``,
    ``hf:/m/hubert-base@6`` -> ``hf-hubert-base@6``, ``whisper@6`` -> ``whisper@6``)."""
    parts = layered_name(name)
    if parts.base.startswith(HF_PREFIX):
        base = PurePath(parts.base[len(HF_PREFIX) :].rstrip("/\\")).name
        suffix = "" if parts.layer is None else f"@{parts.layer}"
        return HF_STORE_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "_", base) + suffix
    return name


def _order_key(name: str) -> tuple[int, str, int]:
    stored = store_name(name)
    base, _, layer = stored.partition("@")
    position = -1 if not layer else (10**6 if layer == ALL else int(layer))
    if base in BUILTIN_ORDER:
        return (BUILTIN_ORDER.index(base), "", position)
    if base.startswith(HF_STORE_PREFIX):
        return (len(BUILTIN_ORDER), base, position)
    return (len(BUILTIN_ORDER) + 1, stored, position)


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
