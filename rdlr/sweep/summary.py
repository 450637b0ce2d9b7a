"""The text a sweep ends with: counts, failures, where the results are, and test UA per table row under both
selections (validation: the default; the paper's protocol: best mean test UA, optimistic by construction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rdlr.sweep.files import read_results_uri

if TYPE_CHECKING:
    from rdlr.sweep.driver import SweepOutcome

SELECTION_TITLES = {
    "validation": "Test UA (%) of the configuration with the best mean validation UA over seeds (default)",
    "paper": "Test UA (%) under the paper's protocol (best mean test UA; optimistic by construction)",
}


def selection_summary(results_uri: str, order: Sequence[tuple[str, str, str]] = ()) -> str:
    """Test UA (%) per row (and normalisation, unless all are the paper's) and held-out corpus under validation
    selection, and under the paper's protocol; rows in ``order`` ((features, protocol, method) as in the spec)
    first."""
    from rdlr.report.selection import select_configs
    from rdlr.results import validate_results

    frame = read_results_uri(results_uri)
    if frame.empty:
        return "no finished trials yet"
    frame = validate_results(frame, results_uri)
    rank = {key: i for i, key in enumerate(dict.fromkeys(order))}
    several = set(frame["normalization"]) != {"train"}  # then a row per normalisation (rdlr.normalization)
    parts = []
    for selection, title in SELECTION_TITLES.items():
        chosen = select_configs(frame, selection)
        index = ["features", *(["normalization"] if several else []), "protocol", "method"]
        table = chosen.pivot_table(index=index, columns="held_out", values="test_ua_mean", sort=False) * 100
        table["Avg"] = table.mean(axis=1)
        row_key = [(key[0], *key[-2:]) for key in table.index]  # (features, protocol, method) of each row
        table = table.iloc[sorted(range(len(table)), key=lambda i: rank.get(row_key[i], len(rank)))]
        parts.append(f"{title}:\n{table.round(1).to_string()}")
    return "\n\n".join(parts)


def outcome_text(outcome: SweepOutcome) -> str:
    """One block for the end of a sweep: counts, failures, where the results are, the selection summary, and last
    the run's efficiency and projected against used core-minutes (:mod:`rdlr.sweep.efficiency`)."""
    minutes, seconds = divmod(int(outcome.wall_time_s), 60)
    lines = [
        f"\nsweep {outcome.spec_id}: {outcome.rows}/{outcome.planned} trials in the results "
        f"({outcome.new_rows} new, {minutes}m{seconds:02d}s); results: {outcome.results_uri}"
    ]
    lines += [f"  failed: {error}" for error in outcome.errors]
    if outcome.rows:
        order = [(o.job.features, o.job.protocol, o.job.method) for o in outcome.jobs]
        lines.append("\n" + selection_summary(outcome.results_uri, order))
    if outcome.run is not None:
        lines.append("\n" + outcome.run.line(outcome.spec_id))
    return "\n".join(lines)
