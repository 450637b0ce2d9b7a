"""The report's normalisation blocks: each strategy of :mod:`rdlr.normalization` against the paper's ``train``.

For one (features, protocol, method, held-out corpus), the configuration each normalisation selected has one test UA
per seed; a strategy is paired with ``train`` by seed (:func:`rdlr.report.compare.paired_test`): Δ = strategy −
train in percentage points, its 95 % t-interval, p of the paired t-test, n paired seeds. The Avg column pairs the
per-seed mean over every held-out corpus, for seeds both have on every corpus. Per-speaker normalisation also states
how many speakers had too few utterances for statistics of their own (they used their corpus').
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pandas as pd

from rdlr.normalization import DEFAULT_NORMALIZATION, DESCRIPTIONS, MIN_SPEAKER_UTTERANCES, NORMALIZATIONS, TITLES
from rdlr.report.cells import Table
from rdlr.report.compare import format_pair, paired_test
from rdlr.report.layout import AVG, PROTOCOL_ORDER, RowKey, avg_defined, features_title
from rdlr.report.render import MISSING_MARK, pipe_table

NORMALIZATION_NOTE = (
    "Δ = strategy − training statistics (the paper's normalisation), test UA in percentage points, each with its "
    "own selected configuration, mean over the n seeds both have ± the half-width of its 95 % t-interval; p = "
    "two-sided paired t-test over those seeds; Avg pairs the per-seed mean over all held-out corpora. "
    "corpus and speaker normalisation are transductive: they use the held-out corpus' features (never its labels) "
    f"and, per speaker, its speaker labels. {MISSING_MARK}: no seeds in common."
)
COUNT_COLUMNS: tuple[str, ...] = ("norm_speakers", "norm_fallback_speakers", "norm_fallback_rows")


def normalizations(frame: pd.DataFrame) -> list[str]:
    """The normalisations in the results, in the order of :data:`NORMALIZATIONS` (unknown ones last)."""
    present = list(dict.fromkeys(frame["normalization"].astype(str)))
    return [n for n in NORMALIZATIONS if n in present] + [n for n in present if n not in NORMALIZATIONS]


def normalization_title(name: str) -> str:
    """``per corpus (transductive)`` ... for a caption; an unknown name as it is."""
    return TITLES.get(name, name)


def normalization_table(table: Table, name: str, blocks: bool) -> Table:
    """``table`` of the trials normalised with ``name``: it says so, and when the report has several
    normalisations (``blocks``) its title says which and another than the paper's is named ``<table>-<name>``."""
    suffix = "" if name == DEFAULT_NORMALIZATION else f"-{name}"
    title = f"{table.title} — normalisation: {normalization_title(name)}" if blocks else table.title
    return dataclasses.replace(table, name=table.name + suffix, title=title, normalization=name)


def normalization_note(name: str) -> str:
    """The note every table of ``name``'s block states: how its inputs were normalised, and whether the paper's
    numbers can be compared."""
    note = f"Normalisation: {DESCRIPTIONS.get(name, name)}."
    if name != DEFAULT_NORMALIZATION:
        note += (
            " Not the paper's protocol (it normalises with training statistics only): these numbers answer another "
            "question, and the paper's numbers are not set beside them."
        )
    return note


def _series(trials: pd.DataFrame, normalization: str, key: RowKey, column: str) -> pd.Series:
    features, protocol, method = key
    rows = trials[
        (trials["normalization"] == normalization)
        & (trials["features"] == features)
        & (trials["protocol"] == protocol)
        & (trials["method"] == method)
        & (trials["held_out"] == column)
    ]
    return rows.set_index("seed")["test_ua"].astype(float).sort_index()


def _avg_series(trials: pd.DataFrame, normalization: str, key: RowKey, columns: Sequence[str]) -> pd.Series:
    parts = [_series(trials, normalization, key, c).rename(c) for c in columns]
    return pd.concat(parts, axis=1).dropna(how="any").mean(axis=1)


def compare_normalizations(trials: pd.DataFrame, columns: Sequence[str], labels: Mapping[RowKey, str]) -> pd.DataFrame:
    """One row per (normalisation other than train, features, protocol, method, column): n, Δ (pp), its 95 %
    half-width, t, p of that normalisation against ``train`` (rows in ``labels``' order, then by appearance)."""
    records = []
    keys = list(dict.fromkeys(zip(trials["features"], trials["protocol"], trials["method"])))
    keys = [k for k in labels if k in keys] + [k for k in keys if k not in labels]
    for name in normalizations(trials):
        if name == DEFAULT_NORMALIZATION:
            continue
        for key in keys:
            pairs = [
                (c, _series(trials, name, key, c), _series(trials, DEFAULT_NORMALIZATION, key, c)) for c in columns
            ]
            if avg_defined(columns):
                pairs.append(
                    (
                        AVG,
                        _avg_series(trials, name, key, columns),
                        _avg_series(trials, DEFAULT_NORMALIZATION, key, columns),
                    )
                )
            for column, a, b in pairs:
                if a.empty and b.empty:
                    continue
                result = paired_test(a, b)
                records.append(
                    {
                        "normalization": name,
                        "features": key[0],
                        "protocol": key[1],
                        "method": key[2],
                        "label": labels.get(key, key[2]),
                        "column": column,
                        **result.columns(),
                    }
                )
    names = ["normalization", "features", "protocol", "method", "label", "column", "n", "diff_pp", "ci95_pp", "t", "p"]
    return pd.DataFrame.from_records(records, columns=names)


def normalization_tables(comparison: pd.DataFrame, columns: Sequence[str], level: int = 2) -> list[str]:
    """Markdown: per (normalisation, feature set) a heading and a table, a row per (protocol, method), a column
    per held-out corpus (+ Avg)."""
    shown = list(columns) + ([AVG] if avg_defined(columns) else [])
    parts = []
    for (name, features), block in comparison.groupby(["normalization", "features"], sort=False):
        rows = []
        rank = {p: i for i, p in enumerate(PROTOCOL_ORDER)}
        for (protocol, _method), group in sorted(
            block.groupby(["protocol", "method"], sort=False), key=lambda item: rank.get(item[0][0], len(rank))
        ):
            cells = {r["column"]: r for _, r in group.iterrows()}
            row = [str(group["label"].iloc[0]), protocol.replace("_", "-")]
            for column in shown:
                r = cells.get(column)
                row.append(
                    MISSING_MARK
                    if r is None
                    else format_pair(int(r["n"]), float(r["diff_pp"]), float(r["p"]), float(r["ci95_pp"]))
                )
            rows.append(row)
        parts.append(
            f"{'#' * level} {normalization_title(str(name))} vs training statistics: {features_title(str(features))}\n"
        )
        parts.append(pipe_table(["Method", "Protocol", *shown], rows, ["l", "l"] + ["r"] * len(shown)))
    return parts


def speaker_fallback_lines(frame: pd.DataFrame) -> list[str]:
    """Per (protocol, held-out corpus) of the per-speaker trials: speakers with statistics of their own, speakers
    below the minimum and the utterances that used their corpus' statistics (the same for every trial of a job)."""
    rows = frame[frame["normalization"] == "speaker"]
    if rows.empty or not set(COUNT_COLUMNS) <= set(rows.columns):
        return []
    lines = []
    for (protocol, held_out), group in rows.groupby(["protocol", "held_out"], sort=False):
        first = group.iloc[0]
        if pd.isna(first["norm_speakers"]):
            continue
        lines.append(
            f"- {protocol.replace('_', '-')}, held out {held_out}: {int(first['norm_speakers'])} speakers "
            f"with statistics of their own; {int(first['norm_fallback_speakers'])} speakers with fewer than "
            f"{MIN_SPEAKER_UTTERANCES} utterances and utterances without a speaker used their corpus' "
            f"statistics ({int(first['norm_fallback_rows'])} utterances)"
        )
    return lines


def normalization_section(comparison: pd.DataFrame, columns: Sequence[str], fallback: Sequence[str]) -> list[str]:
    """The normalisation comparison inline in the index (the notes: normalization.md)."""
    lines = [
        "## Normalisation: each strategy vs training statistics (the paper's)\n",
        "Δ = strategy − training statistics (percentage points), each with its own selected configuration, ± the "
        "95 % t-interval over paired seeds; p: paired t-test (uncorrected). corpus and speaker are transductive. "
        "Notes: [normalization.md](normalization.md) — [CSV](normalization.csv)\n",
    ]
    if comparison.empty:
        lines.append("No comparison: no row was run with training statistics and another normalisation.\n")
    lines += normalization_tables(comparison, columns, level=3)
    if fallback:
        lines += ["Per-speaker statistics:\n", "\n".join(fallback) + "\n"]
    return lines


def render_normalization(
    comparison: pd.DataFrame, columns: Sequence[str], notes: Sequence[str], fallback: Sequence[str]
) -> str:
    """normalization.md: title, notes, the comparison per strategy and the per-speaker fallback counts."""
    parts = ["# Normalisation: each strategy vs training statistics (the paper's)\n", *(f"{n}\n" for n in notes)]
    if comparison.empty:
        parts.append("No comparison: no row was run with training statistics and another normalisation.\n")
    parts += normalization_tables(comparison, columns)
    if fallback:
        parts += ["## Per-speaker statistics\n", "\n".join(fallback) + "\n"]
    return "\n".join(parts)
