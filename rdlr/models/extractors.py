"""The model's feature extractors: recorded with their configs at training, rebuilt and checked at prediction.

A model only works on features computed exactly as its training features were. The folder records each feature
set's extractor class, config and config hash (the feature store's cache key, :mod:`rdlr.features.base`); loading
rebuilds every extractor through :func:`rdlr.features.build_extractor` from those configs (local model paths
included) and refuses the model, naming the fields, when what this installation builds differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rdlr.features import FeatureStore, build_extractor
from rdlr.features.base import Extractor
from rdlr.features.layers import split_layer
from rdlr.features.registry import HF_PREFIX, HF_STORE_PREFIX
from rdlr.models.folder import FeatureSpec, ModelFolderError


def _plain(value: Any) -> Any:
    """The JSON form of a config (tuples as lists, paths as strings), for comparisons with a saved one."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def class_path(extractor: Extractor) -> str:
    return f"{type(extractor).__module__}.{type(extractor).__qualname__}"


def spec_of(name: str, extractor: Extractor, dim: int) -> FeatureSpec:
    """The :class:`FeatureSpec` of a built extractor whose features in the store are ``dim`` wide."""
    return FeatureSpec(
        name=name,
        extractor=class_path(extractor),
        config=_plain(extractor.config.to_dict()),
        config_hash=extractor.config.config_hash(),
        dim=int(dim),
    )


def specs_from_store(store: str, config_hashes: Mapping[str, str], dims: Mapping[str, int]) -> list[FeatureSpec]:
    """Feature specs from the store's ``config.json`` of each (feature set, config hash) a table was read from."""
    feature_store = FeatureStore(store)
    specs = []
    for name, config_hash in config_hashes.items():
        info = feature_store.read_config(name, config_hash)
        specs.append(
            FeatureSpec(
                name=name,
                extractor=str(info.get("extractor", "")),
                config=_plain(info.get("config", {})),
                config_hash=config_hash,
                dim=int(dims[name]),
            )
        )
    return specs


def rebuild_extractor(spec: FeatureSpec) -> Extractor:
    """The extractor this installation builds for ``spec``, with the local model paths of its saved config."""
    config = spec.config
    if spec.name == "w2v":
        return build_extractor("w2v", {"w2v": str(config.get("checkpoint", ""))})
    if spec.name == "bert":
        models = {"bert": str(config.get("bert_dir", ""))}
        if config.get("whisper_checkpoint"):
            models["whisper"] = str(config["whisper_checkpoint"])
        return build_extractor("bert", models)
    layers = config.get("layers")
    if spec.name.startswith("whisper") and layers is not None:  # whisper or whisper@N: the encoder by layer
        return build_extractor(spec.name, {"whisper": str(config.get("checkpoint", ""))}, fp16=bool(config.get("fp16")))
    if spec.name.startswith(HF_STORE_PREFIX):
        model = HF_PREFIX + str(config.get("model_dir", ""))
        if layers is None:
            return build_extractor(model)
        suffix = split_layer(spec.name).layer
        name, hf_layer = (model, layers[0]) if suffix is None else (f"{model}@{suffix}", None)
        return build_extractor(name, hf_layer=hf_layer, fp16=bool(config.get("fp16")))
    return build_extractor(spec.name)


def _differences(spec: FeatureSpec, extractor: Extractor) -> list[str]:
    built = spec_of(spec.name, extractor, getattr(extractor, "dim", spec.dim))
    found = []
    if built.extractor != spec.extractor:
        found.append(f"extractor class {spec.extractor} (model) vs {built.extractor} (installed)")
    for key in sorted(set(spec.config) | set(built.config)):
        saved, now = spec.config.get(key, "<absent>"), built.config.get(key, "<absent>")
        if saved != now:
            found.append(f"{key}: {saved!r} (model) vs {now!r} (installed)")
    if built.config_hash != spec.config_hash:
        found.append(f"config hash {spec.config_hash} (model) vs {built.config_hash} (installed)")
    if built.dim != spec.dim:
        found.append(f"dim {spec.dim} (model) vs {built.dim} (installed)")
    return found


def model_extractors(specs: Iterable[FeatureSpec], source: Path | str) -> list[Extractor]:
    """One checked extractor per feature spec, in the model's input order (not yet set up)."""
    extractors = []
    for spec in specs:
        try:
            extractor = rebuild_extractor(spec)
        except (ValueError, FileNotFoundError) as error:
            message = f"{source}: cannot build the extractor of feature set {spec.name!r}: {error}"
            raise ModelFolderError(message) from None
        differences = _differences(spec, extractor)
        if differences:
            raise ModelFolderError(
                f"{source}: feature set {spec.name!r} was computed with another extractor config than this "
                f"installation builds: {'; '.join(differences)}. The model's inputs would not match its training "
                "features: use the rdlr version that trained it (see 'versions' in the model card) or retrain"
            )
        extractors.append(extractor)
    return extractors
