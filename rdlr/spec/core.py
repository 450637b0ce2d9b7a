"""Sweep specs (``sweeps/*.yaml``): what a reproduction runs, validated before Ray starts.

A spec names the data (the generated demo corpora, real corpora read by their loaders, or CSV manifests), the
feature sets, the table rows per protocol (Section 3.1: within-single-corpus and leave-one-corpus-out), the
held-out corpora, the unlabeled corpus for AE (12) and PEL (13), the seeds (Section 3.2: 5), the hyperparameter
search over each method's own search set (Section 3.2), the training protocol, the resources of one trial, the
local model paths and, for ``hf:<dir>`` feature sets, the encoder layer. Every section is a frozen dataclass (read
by :mod:`rdlr.spec.schema`, checked as a whole by :mod:`rdlr.spec.checks`); an unknown key, an unknown method /
corpus / feature set or a bad value raises :class:`SpecError` naming the key and the valid choices.

One spec expands into jobs (:meth:`SweepSpec.jobs`, :mod:`rdlr.spec.jobs`): one per (feature set, normalisation,
protocol, method, held-out corpus), each searching ``configs`` hyperparameter configurations and running every
configuration once per seed.
``normalization`` lists the inputs' z-normalisations (:mod:`rdlr.normalization`; ``[train]``, the paper's, by
default), each run like a feature set.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdlr.labels import LabelSet, label_set
from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.report.selection import DEFAULT_SELECTION
from rdlr.spec.checks import check_spec
from rdlr.spec.files import resolve_spec_path
from rdlr.spec.jobs import Job, spec_jobs
from rdlr.spec.schema import SPEC_KEY, SchemaError, SpecError, build, plain
from rdlr.spec.sections import DEMO_LABELED, DataSpec, HFSpec, ProtocolsSpec, ResourcesSpec, SearchSpec, TrackingSpec
from rdlr.spec.strict_yaml import read_spec_document

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
        check_spec(self)

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
        """One job per (feature set, normalisation, protocol, method, held-out corpus), in table order
        (:func:`rdlr.spec.jobs.spec_jobs`)."""
        return spec_jobs(self)

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


def load_spec(name_or_path: str | Path) -> SweepSpec:
    """Read and validate a spec file (or packaged spec name); errors name the file and the key."""
    path = resolve_spec_path(name_or_path)
    try:
        raw = read_spec_document(path)
    except ValueError as error:
        raise SpecError(str(error)) from None
    spec = SweepSpec.from_dict(raw, where=str(path))
    return dataclasses.replace(spec, source_text=path.read_text(encoding="utf-8-sig"))
