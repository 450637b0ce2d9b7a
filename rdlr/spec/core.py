"""Sweep specs (``sweeps/*.yaml``): what a reproduction runs, validated before Ray starts.

A spec names the data (the generated demo corpora, real corpora read by their loaders, or CSV manifests), the
feature sets, the table rows per protocol (Section 3.1: within-single-corpus and leave-one-corpus-out), the
held-out corpora, the unlabeled corpus for AE (12) and PEL (13), the seeds (Section 3.2: 5), the hyperparameter
search over each method's own search set (Section 3.2), the training protocol, the resources of one trial, the
local model paths and, for ``hf:<dir>`` feature sets, the encoder layer. Every section is a frozen dataclass (read
by :mod:`rdlr.spec.schema`); an unknown key, an unknown method / corpus / feature set or a bad value raises
:class:`SpecError` naming the key and the valid choices.

One spec expands into jobs (:meth:`SweepSpec.jobs`): one per (feature set, normalisation, protocol, method, held-out
corpus), each searching ``configs`` hyperparameter configurations and running every configuration once per seed.
``normalization`` lists the inputs' z-normalisations (:mod:`rdlr.normalization`; ``[train]``, the paper's, by
default), each run like a feature set.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdlr.corpora.registry import MODULES as LOADER_MODULES
from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.features.layers import ALL
from rdlr.features.registry import HF_PREFIX, MODEL_FLAGS, layered_name, parse_feature_sets, valid_names
from rdlr.features.seen import refusal, seen_by, unmatched_keys
from rdlr.labels import ANY_CORPUS, LabelSet, LabelSetError, label_set
from rdlr.methods import SEARCH_SPACE, STAGE1_CHOICES, get_method
from rdlr.normalization import DEFAULT_NORMALIZATION, NORMALIZATIONS
from rdlr.report.selection import DEFAULT_SELECTION, SELECTIONS
from rdlr.spec.files import resolve_spec_path
from rdlr.spec.schema import SPEC_KEY, SchemaError, SpecError, build, plain
from rdlr.spec.sections import DataSpec, HFSpec, ProtocolsSpec, ResourcesSpec, SearchSpec, TrackingSpec
from rdlr.spec.strict_yaml import read_spec_document

DATA_SOURCES: tuple[str, ...] = ("demo", "real", "manifests")
LOADERS: tuple[str, ...] = tuple(LOADER_MODULES)  # the corpus registry's loaders
DEMO_LABELED: tuple[str, ...] = ("CRE-demo", "IEM-demo", "IMP-demo", "POD-demo")
DEMO_UNLABELED = "LIB-demo"
JOB_ORDER: tuple[str, ...] = (WITHIN_CORPUS, OUT_OF_CORPUS)  # the order jobs are planned and listed in
SAMPLERS: tuple[str, ...] = ("auto", "tpe", "random", "grid")
MODEL_KEYS: tuple[str, ...] = tuple(MODEL_FLAGS)
RAY_BUILTIN_RESOURCES: tuple[str, ...] = ("CPU", "GPU", "memory", "object_store_memory")  # not for resources.custom
SMOOTHING_GAMMAS: dict[str, str] = {"gamma": "LR's γ (10)", "unigram_gamma": "unigram smoothing's γ"}
UNSET_OMITTED: tuple[str, ...] = (
    "hf",
    "headline",
    "tracking",
    "labels",
    "label_map",
    "seen_corpora",
    "allow_seen",
)  # optional sections left out of to_dict() while unset
DEFAULT_OMITTED: dict[str, Any] = {"normalization": [DEFAULT_NORMALIZATION]}  # left out of to_dict() at this value
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep: one table (or a demo of it)."""

    id: str
    data: DataSpec
    features: tuple[str, ...]
    held_out: tuple[str, ...]
    protocols: ProtocolsSpec
    seeds: tuple[int, ...]
    unlabeled: str | None = None
    description: str | None = None
    search: SearchSpec = field(default_factory=SearchSpec)
    training: dict[str, Any] = field(default_factory=dict)
    resources: ResourcesSpec = field(default_factory=ResourcesSpec)
    models: dict[str, str] = field(default_factory=dict)
    hf: HFSpec | None = None
    headline: str | None = None
    tracking: TrackingSpec | None = None
    labels: str | tuple[str, ...] | None = None
    label_map: dict[str, dict[str, str | None]] | None = None
    seen_corpora: dict[str, tuple[str, ...]] | None = None
    allow_seen: bool | None = None
    normalization: tuple[str, ...] = (DEFAULT_NORMALIZATION,)
    source_text: str | None = field(default=None, compare=False, repr=False, metadata={SPEC_KEY: False})  # as read

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def headline_selection(self) -> str:
        """The selection of the report's headline (:data:`rdlr.report.selection.SELECTIONS`; the other is rendered
        beside it): ``headline`` when the spec sets it, else validation selection."""
        return self.headline or DEFAULT_SELECTION

    def label_set(self) -> LabelSet:
        """The experiment's classes and label map (:mod:`rdlr.labels`): ``labels`` (a named set or a list; the
        paper's four by default) with ``label_map`` over the named set's merges."""
        return label_set(self.labels, self.label_map)

    def labeled_corpora(self) -> tuple[str, ...] | None:
        """Labeled corpus names the data provides (``None`` for manifests: known once they are read)."""
        if self.data.source == "demo":
            return DEMO_LABELED
        if self.data.source == "real":
            return tuple(name for name in self.data.corpora if name != self.unlabeled)
        return None

    def corpora(self) -> tuple[str, ...] | None:
        """Every corpus the sweep reads (labeled + unlabeled), ``None`` for manifests."""
        labeled = self.labeled_corpora()
        if labeled is None:
            return None
        return labeled + ((self.unlabeled,) if self.unlabeled else ())

    def jobs(self) -> list[Job]:
        """One job per (feature set, normalisation, protocol, method, held-out corpus), in table order."""
        jobs = []
        for features in self.features:
            for normalization in self.normalization:
                for protocol in JOB_ORDER:
                    for method_id in getattr(self.protocols, protocol):
                        space = get_method(method_id).search_space(self.search.protocol_space(protocol))
                        grid = _grid_size(space)
                        configs = min(self.search.configs_per_method.get(method_id, self.search.configs), grid)
                        sampler = self.search.sampler
                        if sampler == "auto":
                            sampler = "grid" if configs >= grid else "tpe"
                        jobs += [
                            Job(features, protocol, method_id, held_out, space, configs, sampler, normalization)
                            for held_out in self.held_out
                        ]
        return jobs

    def num_trials(self) -> int:
        """Trials of the whole sweep: configurations × seeds, summed over jobs."""
        return sum(job.configs for job in self.jobs()) * len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        """Plain (YAML/JSON-able) form; ``SweepSpec.from_dict(spec.to_dict()) == spec``. Sections of
        :data:`UNSET_OMITTED` are left out while unset, and keys of :data:`DEFAULT_OMITTED` at their default, so a
        spec that does not use them reads (and resumes) as before (and so is ``search.space_per_protocol`` while
        empty)."""
        raw = plain(dataclasses.asdict(self))
        del raw["source_text"]
        if not raw["search"]["space_per_protocol"]:
            del raw["search"]["space_per_protocol"]
        return {
            k: v
            for k, v in raw.items()
            if not (k in UNSET_OMITTED and v is None) and not (k in DEFAULT_OMITTED and v == DEFAULT_OMITTED[k])
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str = "spec") -> SweepSpec:
        """Build and validate a spec from parsed YAML; errors are prefixed with ``where``."""
        try:
            return build(cls, raw, "")
        except SchemaError as error:
            raise SpecError(f"{where}: {error}") from None


@dataclass(frozen=True)
class Job:
    """One Tuner: a method's search on one held-out corpus with one feature set and input normalisation."""

    features: str
    protocol: str
    method: str
    held_out: str
    space: dict[str, list[Any]]
    configs: int
    sampler: str
    normalization: str = DEFAULT_NORMALIZATION

    @property
    def name(self) -> str:
        """Experiment folder name (unique within a spec); the paper's normalisation adds nothing to it, so the
        Tune state of a sweep written before normalisations existed is found again."""
        text = f"{self.features}__{self.protocol}__{self.method}__{self.held_out}"
        if self.normalization != DEFAULT_NORMALIZATION:
            text += f"__norm-{self.normalization}"
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text)

    @property
    def grid_size(self) -> int:
        """Configurations in the job's search space (the grid of its hyperparameter sets)."""
        return _grid_size(self.space)


def _grid_size(space: Mapping[str, Any]) -> int:
    return math.prod(len(values) for values in space.values())


# ---- loading -----------------------------------------------------------------------------------------------------
def load_spec(name_or_path: str | Path) -> SweepSpec:
    """Read and validate a spec file (or packaged spec name); errors name the file and the key."""
    path = resolve_spec_path(name_or_path)
    try:
        raw = read_spec_document(path)
    except ValueError as error:
        raise SpecError(str(error)) from None
    spec = SweepSpec.from_dict(raw, where=str(path))
    return dataclasses.replace(spec, source_text=path.read_text(encoding="utf-8-sig"))


# ---- semantic checks ---------------------------------------------------------------------------------------------
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


def _validate(spec: SweepSpec) -> None:
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
