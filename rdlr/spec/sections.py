"""The sections of a sweep spec (:class:`rdlr.spec.core.SweepSpec`): the data (and the demo source's corpora), the
table rows per protocol, the hyperparameter search, one trial's resources, ``hf:`` extraction and experiment
tracking. Plain frozen dataclasses, read by :mod:`rdlr.spec.schema`; their values are checked with the whole spec
(:mod:`rdlr.spec.checks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEMO_LABELED: tuple[str, ...] = ("CRE-demo", "IEM-demo", "IMP-demo", "POD-demo")  # the demo source's corpora
DEMO_UNLABELED = "LIB-demo"


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
    ``space`` overrides the paper's sets (Section 3.2) for every method that uses the hyperparameter;
    ``space_per_protocol`` overrides ``space`` for one protocol's jobs (a within-corpus job trains on one corpus, an
    out-of-corpus job on all the others: M that fits one rarely fits the other)."""

    sampler: str = "auto"
    sampler_seed: int = 0
    configs: int = 8
    configs_per_method: dict[str, int] = field(default_factory=dict)
    space: dict[str, tuple[float, ...]] = field(default_factory=dict)
    space_per_protocol: dict[str, dict[str, tuple[float, ...]]] = field(default_factory=dict)

    def protocol_space(self, protocol: str) -> dict[str, tuple[float, ...]]:
        """The sets that override the paper's for ``protocol``'s jobs."""
        return {**self.space, **self.space_per_protocol.get(protocol, {})}


@dataclass(frozen=True)
class ResourcesSpec:
    """Resources of one trial (adapted to the cluster: no GPU where none exists, at most one node's CPUs),
    retries of a failed trial, and how many jobs (Tuners) run at once (0: enough to keep the cluster busy).
    ``custom``: Ray custom resources each trial also asks for (e.g. to pin trials to one node type)."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 2
    parallel_jobs: int = 0
    custom: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HFSpec:
    """How ``hf:<dir>`` feature sets are extracted; the key is the extractor config's own
    (:class:`rdlr.features.hf_encoder.HFEncoderConfig`; ``rdlr extract --hf-layer``): ``layer`` indexes
    ``hidden_states`` (0 = the input to the first transformer layer, -1 = the last layer)."""

    layer: int = -1


@dataclass(frozen=True)
class TrackingSpec:
    """Experiment tracking beyond the TensorBoard events Tune writes: ``mlflow``, a tracking URI (e.g.
    ``file:./mlruns``, ``http://HOST:5000``), logs one MLflow run per trial (:mod:`rdlr.sweep.mlflow_logger`);
    ``rdlr sweep --mlflow URI`` overrides it."""

    mlflow: str | None = None
