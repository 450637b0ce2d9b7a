"""What :func:`rdlr.features.extract` reports: per (feature set, corpus) counts, per feature set timings, and
the plain-text table the CLI prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class CorpusCounts:
    """Outcome for one (feature set, corpus): what was extracted, skipped, or failed."""

    feature_set: str
    config_hash: str
    corpus: str
    total: int
    present: int = 0
    failed_before: int = 0
    changed: int = 0  # stored vectors whose audio changed since: extracted again
    extracted: int = 0
    errors: Counter = field(default_factory=Counter)


@dataclass
class FeatureSetRun:
    """Timing of one feature set's Ray Data run. ``steady_seconds`` runs from the moment the first actor started
    its first batch to the last result written: actor start-up (and Ray start-up) excluded."""

    feature_set: str
    config_hash: str
    workers: int
    processed: int
    wall_seconds: float
    steady_seconds: float
    device: str = "cpu"
    nodes: dict[str, int] = field(default_factory=dict)  # Ray node id -> utterances extracted there

    @property
    def rate(self) -> float:
        """Utterances per second once started."""
        return self.processed / self.steady_seconds if self.steady_seconds > 0 else float("nan")


@dataclass
class ExtractSummary:
    """What :func:`rdlr.features.extract` did, per feature set and corpus."""

    store: str
    counts: list[CorpusCounts] = field(default_factory=list)
    runs: list[FeatureSetRun] = field(default_factory=list)
    manifests_updated: list[str] = field(default_factory=list)  # corpora whose stored manifest columns changed

    @property
    def extracted(self) -> int:
        return sum(c.extracted for c in self.counts)

    @property
    def present(self) -> int:
        return sum(c.present for c in self.counts)

    @property
    def failed_before(self) -> int:
        return sum(c.failed_before for c in self.counts)

    def errors_by_reason(self) -> dict[str, int]:
        """New errors of this run, by kind of reason (``"empty audio"``, ``"too short"``, ...)."""
        total: Counter = Counter()
        for counts in self.counts:
            total.update(counts.errors)
        return dict(total.most_common())

    def format(self) -> str:
        """A plain-text table for the terminal."""
        header = (
            "feature set",
            "config",
            "corpus",
            "total",
            "extracted",
            "present",
            "failed before",
            "errors",
            "reasons",
        )
        rows = [
            (
                c.feature_set,
                c.config_hash,
                c.corpus,
                c.total,
                c.extracted,
                c.present,
                c.failed_before,
                sum(c.errors.values()),
                ", ".join(f"{k} ×{n}" for k, n in c.errors.most_common()) or "-",
            )
            for c in self.counts
        ]
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        lines = [f"feature store: {self.store}"]
        for row in [header, *rows]:
            cells = [
                str(v).ljust(w) if i < 3 or i == 8 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths))
            ]
            lines.append("  ".join(cells).rstrip())
        for run in self.runs:
            nodes = ", ".join(f"{node} ×{n}" for node, n in sorted(run.nodes.items()))
            lines.append(
                f"{run.feature_set}: {run.processed} utterances with {run.workers} workers in "
                f"{run.wall_seconds:.1f} s ({run.rate:.1f} utt/s once started) on {run.device}; "
                f"nodes: {nodes or '-'}"
            )
        changed = sum(c.changed for c in self.counts)
        if changed:
            lines.append(f"{changed} utterance(s) extracted again because their audio changed since they were stored")
        if self.manifests_updated:
            lines.append(
                f"manifest columns (labels, speakers, ...) updated in the store for: "
                f"{', '.join(self.manifests_updated)}"
            )
        if self.failed_before:
            lines.append(
                f"{self.failed_before} utterances skipped because they failed before "
                f"(see the errors tables; rerun with --retry-errors to try them again)"
            )
        return "\n".join(lines)
