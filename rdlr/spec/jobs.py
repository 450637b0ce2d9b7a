"""A spec's jobs: one Tuner per (feature set, normalisation, protocol, method, held-out corpus), in table order
(Section 3.1's protocols: within-single-corpus, then leave-one-corpus-out). Each job searches ``configs``
configurations of its method's search set (Section 3.2), capped at the size of that grid, and runs every
configuration once per seed; ``search.sampler: auto`` picks the whole grid when the budget covers it, else TPE.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.methods import get_method
from rdlr.normalization import DEFAULT_NORMALIZATION

if TYPE_CHECKING:
    from rdlr.spec.core import SweepSpec

JOB_ORDER: tuple[str, ...] = (WITHIN_CORPUS, OUT_OF_CORPUS)  # the order jobs are planned and listed in


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
        return grid_size(self.space)


def grid_size(space: Mapping[str, Any]) -> int:
    """Configurations in the grid of ``space`` (the product of its sets' sizes)."""
    return math.prod(len(values) for values in space.values())


def spec_jobs(spec: SweepSpec) -> list[Job]:
    """One job per (feature set, normalisation, protocol, method, held-out corpus) of ``spec``, in table order
    (:meth:`rdlr.spec.core.SweepSpec.jobs`)."""
    jobs = []
    for features in spec.features:
        for normalization in spec.normalization:
            for protocol in JOB_ORDER:
                for method_id in getattr(spec.protocols, protocol):
                    space = get_method(method_id).search_space(spec.search.protocol_space(protocol))
                    grid = grid_size(space)
                    configs = min(spec.search.configs_per_method.get(method_id, spec.search.configs), grid)
                    sampler = spec.search.sampler
                    if sampler == "auto":
                        sampler = "grid" if configs >= grid else "tpe"
                    jobs += [
                        Job(features, protocol, method_id, held_out, space, configs, sampler, normalization)
                        for held_out in spec.held_out
                    ]
    return jobs
