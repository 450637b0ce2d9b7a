"""The checks of a whole sweep spec beyond its keys and types (those are :mod:`rdlr.spec.schema`'s): known data
sources, loaders, feature sets, corpora, methods and samplers; seeds in NumPy's range; search sets that fit each
hyperparameter (γ of LS (9) and LR (10) in [0, 1]); training options of :class:`rdlr.train.TrainConfig`; one
trial's resources; local model paths for the feature sets that need them; and backbones that saw a held-out corpus
(:mod:`rdlr.features.seen`). Every failure is a :class:`rdlr.spec.schema.SpecError` naming the key and the valid
choices.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rdlr.corpora.registry import MODULES as LOADER_MODULES
from rdlr.features.layers import ALL
from rdlr.features.registry import HF_PREFIX, MODEL_FLAGS, layered_name, parse_feature_sets, valid_names
from rdlr.features.seen import refusal, seen_by, unmatched_keys
from rdlr.labels import ANY_CORPUS, LabelSetError
from rdlr.methods import SEARCH_SPACE, STAGE1_CHOICES, get_method
from rdlr.normalization import NORMALIZATIONS
from rdlr.report.selection import SELECTIONS
from rdlr.spec.jobs import JOB_ORDER
from rdlr.spec.schema import SpecError
from rdlr.spec.sections import DEMO_UNLABELED, ResourcesSpec

if TYPE_CHECKING:
    from rdlr.spec.core import SweepSpec

DATA_SOURCES: tuple[str, ...] = ("demo", "real", "manifests")
LOADERS: tuple[str, ...] = tuple(LOADER_MODULES)  # the corpus registry's loaders
SAMPLERS: tuple[str, ...] = ("auto", "tpe", "random", "grid")
MODEL_KEYS: tuple[str, ...] = tuple(MODEL_FLAGS)
RAY_BUILTIN_RESOURCES: tuple[str, ...] = ("CPU", "GPU", "memory", "object_store_memory")  # not for resources.custom
SMOOTHING_GAMMAS: dict[str, str] = {"gamma": "LR's γ (10)", "unigram_gamma": "unigram smoothing's γ"}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _choice(value: str, valid: tuple[str, ...] | list[str], where: str) -> None:
    if value not in valid:
        raise SpecError(f"{where}: unknown value {value!r}; valid: {', '.join(valid)}")


def _unique(values: tuple[Any, ...], where: str) -> None:
    repeated = [value for i, value in enumerate(values) if value in values[:i]]
    if repeated:
        raise SpecError(f"{where}: {repeated[0]!r} is listed twice")


def _seeds(values: tuple[int, ...], where: str) -> None:
    if any(not 0 <= seed < 2**32 for seed in values):  # NumPy's seed range
        raise SpecError(f"{where}: seeds must be integers in 0..4294967295 (2**32 - 1), got {list(values)}")


def check_spec(spec: SweepSpec) -> None:
    """Check ``spec`` as a whole (called when it is built); raise :class:`SpecError` at the first problem."""
    if not _ID.fullmatch(spec.id):
        raise SpecError(f"id: {spec.id!r} must start with a letter or digit and use only letters, digits, '_-.'")
    _validate_data(spec)
    _validate_labels(spec)
    _validate_features(spec)
    _validate_corpora(spec)
    _validate_methods(spec)
    if not spec.seeds:
        raise SpecError("seeds: give at least one seed, e.g. [0, 1, 2, 3, 4] (Section 3.2 uses 5)")
    _unique(spec.seeds, "seeds")
    _seeds(spec.seeds, "seeds")
    _validate_search(spec)
    _validate_training(spec.training)
    _validate_resources(spec.resources)
    _validate_models(spec)
    _validate_seen(spec)
    if spec.headline is not None:
        _choice(spec.headline, tuple(SELECTIONS), "headline")
    _validate_normalization(spec.normalization)


def _validate_normalization(values: tuple[str, ...]) -> None:
    if not values:
        raise SpecError(f"normalization: list at least one of {', '.join(NORMALIZATIONS)} (the paper's: [train])")
    _unique(values, "normalization")
    for i, value in enumerate(values):
        _choice(value, NORMALIZATIONS, f"normalization[{i}]")


def _validate_data(spec: SweepSpec) -> None:
    data = spec.data
    _choice(data.source, DATA_SOURCES, "data.source")
    if data.source == "real":
        if not data.corpora:
            raise SpecError("data.corpora: a 'real' data source needs corpora: {NAME: {loader: ..., root: ...}}")
        for name, corpus in data.corpora.items():
            _choice(corpus.loader, LOADERS, f"data.corpora.{name}.loader")
    elif data.corpora:
        raise SpecError(f"data.corpora: only used with source 'real', not {data.source!r}")
    if data.source == "manifests" and not data.manifests:
        raise SpecError("data.manifests: a 'manifests' data source needs a list of manifest CSV paths")
    if data.source != "manifests" and data.manifests:
        raise SpecError(f"data.manifests: only used with source 'manifests', not {data.source!r}")
    _seeds((data.split_seed, data.demo_seed), "data.split_seed, data.demo_seed")


def _validate_labels(spec: SweepSpec) -> None:
    """``labels`` and ``label_map`` make a class set (:func:`rdlr.labels.label_set`); ``label_map``'s corpora are
    ``"*"`` or corpora the spec reads (when known before the manifests are read)."""
    try:
        spec.label_set()
    except LabelSetError as error:
        raise SpecError(str(error)) from None
    corpora = spec.corpora()
    if corpora is not None:
        for corpus in spec.label_map or {}:
            if corpus != ANY_CORPUS and corpus not in corpora:
                raise SpecError(
                    f"label_map: unknown corpus {corpus!r}; valid: {ANY_CORPUS!r} (every corpus), {', '.join(corpora)}"
                )


def _validate_features(spec: SweepSpec) -> None:
    if not spec.features:
        raise SpecError(f"features: give at least one feature set, e.g. [is10]; valid: {', '.join(valid_names())}")
    _unique(spec.features, "features")
    for i, text in enumerate(spec.features):
        try:
            names = parse_feature_sets(text)
        except ValueError as error:  # a malformed layer suffix, or one on a feature set without layers
            raise SpecError(f"features[{i}]: {error}") from None
        for name in names:
            if layered_name(name).layer == ALL:
                base = layered_name(name).base
                raise SpecError(
                    f"features[{i}]: {name!r} is every layer; list the layers to compare as feature sets, e.g. "
                    f"[{base}@6, {base}@12] (`rdlr extract --features {name}` extracts them all in one pass)"
                )
            if not _known_feature_set(name):
                valid = ", ".join(valid_names())
                raise SpecError(f"features[{i}]: unknown feature set {name!r} in {text!r}; valid: {valid}")
        canonical = "+".join(names)
        if canonical != text:
            raise SpecError(f"features[{i}]: write {text!r} as {canonical!r} (feature sets joined by '+' in order)")


def _known_feature_set(name: str) -> bool:
    """A name the features registry builds: built in, added with ``register_extractor``, or ``hf:<dir>``; ``whisper``
    and ``hf:<dir>`` may end in a layer ``@N`` (:mod:`rdlr.features.layers`)."""
    base = layered_name(name).base
    return base in valid_names() or (base.startswith(HF_PREFIX) and len(base) > len(HF_PREFIX))


def _validate_corpora(spec: SweepSpec) -> None:
    if not spec.held_out:
        raise SpecError("held_out: give at least one held-out (test) corpus")
    _unique(spec.held_out, "held_out")
    if spec.unlabeled is not None and spec.unlabeled in spec.held_out:
        raise SpecError(f"held_out: {spec.unlabeled!r} is the unlabeled corpus; it cannot be a test corpus")
    if spec.data.source == "demo" and spec.unlabeled not in (None, DEMO_UNLABELED):
        raise SpecError(f"unlabeled: unknown corpus {spec.unlabeled!r}; the demo data has {DEMO_UNLABELED!r}")
    if spec.data.source == "real" and spec.unlabeled is not None and spec.unlabeled not in spec.data.corpora:
        raise SpecError(
            f"unlabeled: unknown corpus {spec.unlabeled!r}; valid (data.corpora): {', '.join(spec.data.corpora)}"
        )
    labeled = spec.labeled_corpora()
    if labeled is not None:
        for i, name in enumerate(spec.held_out):
            if name not in labeled:
                raise SpecError(f"held_out[{i}]: unknown corpus {name!r}; valid: {', '.join(labeled)}")
        if spec.protocols.out_of_corpus and len(labeled) < 2:
            raise SpecError("protocols.out_of_corpus needs at least two labeled corpora (train on the others)")


def _validate_methods(spec: SweepSpec) -> None:
    total, stage1 = 0, spec.training.get("lr_stage1")
    stage1 = stage1 if stage1 in STAGE1_CHOICES else "same_method"  # a bad value: _validate_training reports it
    for protocol in JOB_ORDER:
        methods = getattr(spec.protocols, protocol)
        _unique(methods, f"protocols.{protocol}")
        for i, method_id in enumerate(methods):
            where = f"protocols.{protocol}[{i}]"
            try:
                method = get_method(method_id)
            except ValueError as error:
                raise SpecError(f"{where}: {error}") from None
            if method.needs_unlabeled_with_stage1(stage1) and spec.unlabeled is None:
                raise SpecError(
                    f"{where}: method {method_id!r} uses AE (12) / PEL (13) (itself or in its stage-1 "
                    "model), which need unlabeled speech; set `unlabeled` (e.g. LIB)"
                )
        total += len(methods)
    if total == 0:
        raise SpecError(f"protocols: list methods under at least one of {', '.join(JOB_ORDER)}")


def _validate_search(spec: SweepSpec) -> None:
    search = spec.search
    _choice(search.sampler, SAMPLERS, "search.sampler")
    _seeds((search.sampler_seed,), "search.sampler_seed")
    if search.configs < 1:
        raise SpecError(f"search.configs: must be >= 1, got {search.configs}")
    listed = {m for protocol in JOB_ORDER for m in getattr(spec.protocols, protocol)}
    for method_id, budget in search.configs_per_method.items():
        if method_id not in listed:
            raise SpecError(
                f"search.configs_per_method: method {method_id!r} is not in protocols; valid: "
                f"{', '.join(sorted(listed))}"
            )
        if budget < 1:
            raise SpecError(f"search.configs_per_method.{method_id}: must be >= 1, got {budget}")
    _validate_space(search.space, "search.space")
    for protocol, space in search.space_per_protocol.items():
        _choice(protocol, list(JOB_ORDER), "search.space_per_protocol")
        _validate_space(space, f"search.space_per_protocol.{protocol}")


def _validate_space(space: Mapping[str, tuple[float, ...]], where: str) -> None:
    for name, values in space.items():
        _choice(name, list(SEARCH_SPACE), where)
        if not values:
            raise SpecError(f"{where}.{name}: give at least one value")
        _unique(values, f"{where}.{name}")
        if name == "batch_size" and any(not float(v).is_integer() or v < 1 for v in values):
            raise SpecError(f"{where}.batch_size: must be positive integers, got {list(values)}")
        if name in SMOOTHING_GAMMAS and any(not 0 <= v <= 1 for v in values):
            raise SpecError(f"{where}.{name}: {SMOOTHING_GAMMAS[name]} must be in [0, 1], got {list(values)}")
        if any(v < 0 for v in values):
            raise SpecError(f"{where}.{name}: must be non-negative, got {list(values)}")


def _validate_training(training: Mapping[str, Any]) -> None:
    """Keys and types from :class:`rdlr.train.TrainConfig` (one source of truth), then its own checks."""
    from rdlr.train import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name != "device"}
    for key, value in training.items():
        if key == "device":
            raise SpecError("training.device: set by the trial's resources (GPU when resources.gpus_per_trial > 0)")
        _choice(key, list(defaults), "training")
        kind = type(defaults[key])
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise SpecError(f"training.{key}: expected {kind.__name__} (default {defaults[key]!r}), got {value!r}")
    for key in ("lr", "lr_factor"):
        if key in training and training[key] <= 0:
            raise SpecError(f"training.{key}: must be > 0, got {training[key]}")
    try:
        TrainConfig(**training)
    except (TypeError, ValueError) as error:
        raise SpecError(f"training: {error}") from None


def _validate_resources(resources: ResourcesSpec) -> None:
    if resources.cpus_per_trial <= 0:
        raise SpecError(f"resources.cpus_per_trial: must be > 0, got {resources.cpus_per_trial}")
    gpus = resources.gpus_per_trial
    if gpus < 0 or (gpus > 1 and not float(gpus).is_integer()):
        raise SpecError(f"resources.gpus_per_trial: a fraction in [0, 1] or a whole number, got {gpus}")
    if resources.max_failures < 0:
        raise SpecError(f"resources.max_failures: must be >= 0, got {resources.max_failures}")
    if resources.parallel_jobs < 0:
        raise SpecError(f"resources.parallel_jobs: must be >= 0 (0 = automatic), got {resources.parallel_jobs}")
    for name, amount in resources.custom.items():
        if name in RAY_BUILTIN_RESOURCES:
            raise SpecError(
                f"resources.custom.{name}: set CPUs and GPUs with cpus_per_trial and gpus_per_trial; "
                "custom holds other Ray resources"
            )
        if amount <= 0:
            raise SpecError(f"resources.custom.{name}: must be > 0, got {amount}")


def _validate_models(spec: SweepSpec) -> None:
    for key in spec.models:
        _choice(key, MODEL_KEYS, "models")
    names = {name for text in spec.features for name in parse_feature_sets(text)}
    bases = {layered_name(name).base for name in names}
    for name in sorted(bases & {"w2v", "bert", "whisper"}):
        if not spec.models.get(name):
            raise SpecError(f"models.{name}: feature set {name!r} needs a local model path (models: {{{name}: PATH}})")
    plain_hf = [name for name in names if name.startswith(HF_PREFIX) and layered_name(name).layer is None]
    if spec.hf is not None and not plain_hf:
        raise SpecError(
            f"hf: only used with {HF_PREFIX}<model dir> feature sets; features: {', '.join(spec.features)} (the "
            "layer of a hf:<dir>@N feature set is its suffix)"
        )


def _validate_seen(spec: SweepSpec) -> None:
    """``seen_corpora`` keys name feature sets of the spec; a job testing on a corpus its backbone saw is refused
    unless ``allow_seen`` (:mod:`rdlr.features.seen`)."""
    seen = spec.seen_corpora or {}
    for key in unmatched_keys(seen, spec.features):
        raise SpecError(
            f"seen_corpora: {key!r} names no feature set of this spec (features: {', '.join(spec.features)}); use "
            "a feature-set name, e.g. whisper (every layer) or whisper@6"
        )
    if spec.allow_seen:
        return
    for features in spec.features:
        for held_out in spec.held_out:
            keys = seen_by(features, held_out, seen)
            if keys:
                raise SpecError(f"seen_corpora: {refusal(features, held_out, keys)}")
