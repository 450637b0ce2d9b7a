"""Sweep specs (``sweeps/*.yaml``): what a reproduction runs, validated before Ray starts.

A spec names the data (the generated demo corpora, real corpora read by their loaders, or CSV manifests), the
feature sets, the table rows per protocol (Section 3.1: within-single-corpus and leave-one-corpus-out), the
held-out corpora, the unlabeled corpus for AE (12) and PEL (13), the seeds (Section 3.2: 5), the hyperparameter
search over each method's own search set (Section 3.2), the training protocol, the resources of one trial and the
local model paths. Every section is a frozen dataclass; an unknown key, an unknown method / corpus / feature set or
a bad value raises :class:`SpecError` naming the key and the valid choices.

One spec expands into jobs (:meth:`SweepSpec.jobs`): one per (feature set, protocol, method, held-out corpus), each
searching ``configs`` hyperparameter configurations and running every configuration once per seed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from rdlr.corpora.registry import MODULES as CORPUS_LOADERS
from rdlr.features.registry import BUILTIN_ORDER, HF_PREFIX, MODEL_FLAGS, parse_feature_sets, valid_names
from rdlr.methods import SEARCH_SPACE, get_method

DATA_SOURCES: tuple[str, ...] = ("demo", "real", "manifests")
LOADERS: tuple[str, ...] = tuple(CORPUS_LOADERS)  # every loader of rdlr.corpora (paper corpora, free corpora, csv)
DEMO_LABELED: tuple[str, ...] = ("CRE-demo", "IEM-demo", "IMP-demo", "POD-demo")
DEMO_UNLABELED = "LIB-demo"
PROTOCOLS: tuple[str, ...] = ("within_corpus", "out_of_corpus")
SAMPLERS: tuple[str, ...] = ("auto", "tpe", "random", "grid")
MODEL_KEYS: tuple[str, ...] = tuple(MODEL_FLAGS)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
SWEEPS_DIR = Path(__file__).resolve().parents[1] / "sweeps"


class SpecError(ValueError):
    """A sweep spec is invalid; the message names the key, the bad value and the valid choices."""


@dataclass(frozen=True)
class CorpusSource:
    """Where a real corpus is: its loader (:func:`rdlr.corpora.load_corpus`), root under --data-root, options."""

    loader: str
    root: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSpec:
    """The utterances: ``demo`` (generated), ``real`` (``corpora``: name -> loader + root) or ``manifests``.

    ``store`` is the feature store (relative paths resolve against the storage path; ``s3://`` URIs as is);
    ``split_seed`` fixes the speaker splits (Section 3.1) so that seeds vary only the initialisation.
    """

    source: str
    corpora: dict[str, CorpusSource] = field(default_factory=dict)
    manifests: tuple[str, ...] = ()
    store: str = "features"
    split_seed: int = 0
    demo_seed: int = 0


@dataclass(frozen=True)
class ProtocolsSpec:
    """Table rows per protocol: method ids of :mod:`rdlr.methods` (or compositions such as ``rd+lr+cww``)."""

    within_corpus: tuple[str, ...] = ()
    out_of_corpus: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchSpec:
    """Optuna search per job: ``configs`` configurations (capped at the size of the method's grid), each run
    with every seed. ``sampler``: auto (grid when the budget covers the grid, else TPE), tpe, random or grid.
    ``space`` overrides the paper's sets (Section 3.2) for every method that uses the hyperparameter."""

    sampler: str = "auto"
    sampler_seed: int = 0
    configs: int = 8
    configs_per_method: dict[str, int] = field(default_factory=dict)
    space: dict[str, tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourcesSpec:
    """Resources of one trial (adapted to the cluster: no GPU where none exists, at most one node's CPUs),
    retries of a failed trial, and how many jobs (Tuners) run at once (0: enough to keep the cluster busy)."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 2
    parallel_jobs: int = 0


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

    def __post_init__(self) -> None:
        _validate(self)

    # ---- derived views -----------------------------------------------------------------------------------------
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

    def jobs(self) -> list["Job"]:
        """One job per (feature set, protocol, method, held-out corpus), in table order."""
        jobs = []
        for features in self.features:
            for protocol in PROTOCOLS:
                for method_id in getattr(self.protocols, protocol):
                    space = get_method(method_id).search_space(self.search.space)
                    grid = math.prod(len(values) for values in space.values())
                    budget = self.search.configs_per_method.get(method_id, self.search.configs)
                    configs = min(budget, grid)
                    sampler = self.search.sampler
                    if sampler == "auto":
                        sampler = "grid" if configs >= grid else "tpe"
                    for held_out in self.held_out:
                        jobs.append(Job(features, protocol, method_id, held_out, space, configs, sampler))
        return jobs

    def num_trials(self) -> int:
        """Trials of the whole sweep: configurations × seeds, summed over jobs."""
        return sum(job.configs for job in self.jobs()) * len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        """Plain (YAML/JSON-able) form; ``SweepSpec.from_dict(spec.to_dict()) == spec``."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, raw: Any, where: str = "spec") -> "SweepSpec":
        """Build and validate a spec from parsed YAML; errors are prefixed with ``where``."""
        try:
            return _build(cls, raw, "")
        except SpecError as error:
            raise SpecError(f"{where}: {error}") from None


@dataclass(frozen=True)
class Job:
    """One Tuner: a method's search on one held-out corpus with one feature set."""

    features: str
    protocol: str
    method: str
    held_out: str
    space: dict[str, list[Any]]
    configs: int
    sampler: str

    @property
    def name(self) -> str:
        """Experiment folder name (unique within a spec)."""
        text = f"{self.features}__{self.protocol}__{self.method}__{self.held_out}"
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text)

    @property
    def grid_size(self) -> int:
        return math.prod(len(values) for values in self.space.values())


# ---- loading -----------------------------------------------------------------------------------------------------
def packaged_specs() -> list[str]:
    """Names of the specs shipped in ``sweeps/`` (``table2``, ``table3``, ``demo``)."""
    return sorted(path.stem for path in SWEEPS_DIR.glob("*.yaml"))


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A spec file: an existing path, or the name of a packaged spec (``table2`` -> ``sweeps/table2.yaml``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    if not path.is_absolute() and (SWEEPS_DIR.parent / path).is_file():  # "sweeps/table2.yaml" from anywhere
        return (SWEEPS_DIR.parent / path).resolve()
    packaged = SWEEPS_DIR / f"{Path(str(name_or_path)).stem}.yaml"
    if path.suffix in ("", ".yaml", ".yml") and path.parent == Path(".") and packaged.is_file():
        return packaged
    raise SpecError(
        f"sweep spec {str(name_or_path)!r} not found; give a YAML file or one of the packaged specs: "
        f"{', '.join(packaged_specs()) or '(none found in ' + str(SWEEPS_DIR) + ')'}"
    )


def load_spec(name_or_path: str | Path) -> SweepSpec:
    """Read and validate a spec file (or packaged spec name); errors name the file and the key."""
    path = resolve_spec_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from None
    return SweepSpec.from_dict(raw, where=str(path))


def dump_spec(spec: SweepSpec) -> str:
    """The spec as YAML text (keys in declaration order)."""
    return yaml.safe_dump(spec.to_dict(), sort_keys=False)


# ---- generic building from parsed YAML ---------------------------------------------------------------------------
def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if hint is Any:
        return "any value"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(hint)[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(typing.get_args(hint)[1])}"
    if dataclasses.is_dataclass(hint):
        return f"a mapping ({hint.__name__})"
    if hint is type(None):
        return "null"
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false"}.get(hint, str(hint))


def _build(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping: unknown keys, missing keys and wrong types raise."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where or 'the spec'} must be a mapping, got {type(raw).__name__} {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [key for key in raw if key not in fields]
    if unknown:
        raise SpecError(
            f"unknown key {_join(where, str(unknown[0]))!r}; valid keys{' of ' + where if where else ''}: "
            f"{', '.join(fields)}"
        )
    missing = [
        name
        for name, f in fields.items()
        if name not in raw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise SpecError(f"missing required key {_join(where, missing[0])!r} ({_type_name(hints[missing[0]])})")
    values = {name: _coerce(value, hints[name], _join(where, name)) for name, value in raw.items()}
    try:
        return cls(**values)
    except SpecError as error:
        if where and not str(error).startswith(where):
            raise SpecError(f"{where}: {error}") from None
        raise


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except SpecError as error:
                errors.append(str(error))
        raise SpecError(errors[0] if len(errors) == 1 else f"{where} must be {_type_name(hint)}, got {value!r}")
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is tuple:
        if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
            raise SpecError(f"{where} must be {_type_name(hint)}, got {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(v, item, _join(where, i)) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SpecError(f"{where} must be {_type_name(hint)}, got {value!r}")
        _, item = typing.get_args(hint)
        return {str(k): _coerce(v, item, _join(where, str(k))) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{where} must be a number, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise SpecError(f"{where} must be a non-empty string, got {value!r}")
        return value
    raise SpecError(f"{where}: unsupported type {hint!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---- semantic checks ---------------------------------------------------------------------------------------------
def _choice(value: str, valid: tuple[str, ...] | list[str], where: str) -> None:
    if value not in valid:
        raise SpecError(f"{where}: unknown value {value!r}; valid: {', '.join(valid)}")


def _unique(values: tuple[Any, ...], where: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise SpecError(f"{where}: {value!r} is listed twice")
        seen.add(value)


def _validate(spec: SweepSpec) -> None:
    if not _ID.fullmatch(spec.id):
        raise SpecError(f"id: {spec.id!r} must start with a letter or digit and use only letters, digits, '_-.'")
    _validate_data(spec)
    _validate_features(spec)
    _validate_corpora(spec)
    _validate_methods(spec)
    if not spec.seeds:
        raise SpecError("seeds: give at least one seed, e.g. [0, 1, 2, 3, 4] (Section 3.2 uses 5)")
    _unique(spec.seeds, "seeds")
    if any(seed < 0 for seed in spec.seeds):
        raise SpecError(f"seeds: must be non-negative integers, got {list(spec.seeds)}")
    _validate_search(spec)
    _validate_training(spec.training)
    _validate_resources(spec.resources)
    _validate_models(spec)


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
    if data.split_seed < 0 or data.demo_seed < 0:
        raise SpecError("data.split_seed and data.demo_seed must be non-negative integers")


def _validate_features(spec: SweepSpec) -> None:
    if not spec.features:
        raise SpecError(f"features: give at least one feature set, e.g. [is10]; valid: {', '.join(valid_names())}")
    _unique(spec.features, "features")
    for i, text in enumerate(spec.features):
        names = parse_feature_sets(text)
        for name in names:
            if name not in BUILTIN_ORDER and not (name.startswith(HF_PREFIX) and len(name) > len(HF_PREFIX)):
                valid = ", ".join(valid_names())
                raise SpecError(f"features[{i}]: unknown feature set {name!r} in {text!r}; valid: {valid}")
        canonical = "+".join(names)
        if canonical != text:
            raise SpecError(f"features[{i}]: write {text!r} as {canonical!r} (feature sets joined by '+' in order)")


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
    total = 0
    for protocol in PROTOCOLS:
        methods = getattr(spec.protocols, protocol)
        _unique(methods, f"protocols.{protocol}")
        for i, method_id in enumerate(methods):
            where = f"protocols.{protocol}[{i}]"
            try:
                method = get_method(method_id)
            except ValueError as error:
                raise SpecError(f"{where}: {error}") from None
            if method.needs_unlabeled and spec.unlabeled is None:
                raise SpecError(
                    f"{where}: method {method_id!r} uses AE (12) / PEL (13), which need unlabeled speech; "
                    "set `unlabeled` (e.g. LIB)"
                )
        total += len(methods)
    if total == 0:
        raise SpecError(f"protocols: list methods under at least one of {', '.join(PROTOCOLS)}")


def _validate_search(spec: SweepSpec) -> None:
    search = spec.search
    _choice(search.sampler, SAMPLERS, "search.sampler")
    if search.configs < 1:
        raise SpecError(f"search.configs: must be >= 1, got {search.configs}")
    listed = {m for protocol in PROTOCOLS for m in getattr(spec.protocols, protocol)}
    for method_id, budget in search.configs_per_method.items():
        if method_id not in listed:
            raise SpecError(
                f"search.configs_per_method: method {method_id!r} is not in protocols; valid: {', '.join(sorted(listed))}"
            )
        if budget < 1:
            raise SpecError(f"search.configs_per_method.{method_id}: must be >= 1, got {budget}")
    for name, values in search.space.items():
        _choice(name, list(SEARCH_SPACE), "search.space")
        if not values:
            raise SpecError(f"search.space.{name}: give at least one value")
        _unique(values, f"search.space.{name}")
        if name == "batch_size" and any(not float(v).is_integer() or v < 1 for v in values):
            raise SpecError(f"search.space.batch_size: must be positive integers, got {list(values)}")
        if name == "gamma" and any(not 0 <= v <= 1 for v in values):
            raise SpecError(f"search.space.gamma: LR's γ (10) must be in [0, 1], got {list(values)}")
        if any(v < 0 for v in values):
            raise SpecError(f"search.space.{name}: must be non-negative, got {list(values)}")


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


def _validate_models(spec: SweepSpec) -> None:
    for key in spec.models:
        _choice(key, MODEL_KEYS, "models")
    needed = {name for text in spec.features for name in parse_feature_sets(text)} & {"w2v", "bert"}
    for name in sorted(needed):
        if not spec.models.get(name):
            raise SpecError(f"models.{name}: feature set {name!r} needs a local model path (models: {{{name}: PATH}})")
