"""Paired comparison of the proposed method (RDLR + CWW + †, loss (11)) against each baseline.

For one feature set and held-out corpus, the selected configuration of each method has one test UA per seed. The
two methods are paired by seed: Δ = mean over the n common seeds of (proposed − baseline) in percentage points, its
95 % t-interval (:mod:`rdlr.report.intervals`, over the n per-seed differences), and p = two-sided paired t-test
(``scipy.stats.ttest_rel``). Every cell says how many seeds it pairs (n). With fewer than 2 common seeds, or
differences that do not vary across seeds (t undefined), p is "n/a". The Avg column pairs the per-seed mean over all
held-out corpora, for seeds that both methods have on every corpus. p-values are not corrected for multiple comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from rdlr.corpora.splits import OUT_OF_CORPUS
from rdlr.normalization import DEFAULT_NORMALIZATION, TITLES
from rdlr.report.intervals import half_width
from rdlr.report.layout import AVG, RowKey, avg_defined, features_title
from rdlr.report.render import MISSING_MARK, pipe_table


@dataclass(frozen=True)
class PairedResult:
    """Δ (pp) with its 95 % t-interval half-width, t, p and the number of paired seeds; NaN t/p when the test is
    undefined, NaN half-width for one seed."""

    n: int
    diff: float
    statistic: float
    pvalue: float
    half_width: float = math.nan

    def columns(self) -> dict[str, float]:
        """The result as the comparison tables' columns (``n``, ``diff_pp``, ``ci95_pp``, ``t``, ``p``)."""
        return {"n": self.n, "diff_pp": self.diff, "ci95_pp": self.half_width, "t": self.statistic, "p": self.pvalue}


def paired_test(proposed: pd.Series, baseline: pd.Series) -> PairedResult:
    """Paired t-test over the seeds both series (test UA as fractions, indexed by seed) have."""
    common = proposed.index.intersection(baseline.index).sort_values()
    if len(common) == 0:
        return PairedResult(0, math.nan, math.nan, math.nan)
    a = proposed.loc[common].to_numpy(dtype=float)
    b = baseline.loc[common].to_numpy(dtype=float)
    d = a - b
    diff = float(np.mean(d) * 100.0)
    width = half_width(float(np.std(d, ddof=1)) * 100.0, len(d)) if len(d) > 1 else math.nan
    if len(common) < 2 or np.allclose(d, d[0], rtol=0.0, atol=1e-12):
        return PairedResult(len(common), diff, math.nan, math.nan, width)
    result = stats.ttest_rel(a, b)
    return PairedResult(len(common), diff, float(result.statistic), float(result.pvalue), width)


def _series(trials: pd.DataFrame, features: str, method: str, column: str) -> pd.Series:
    rows = trials[
        (trials["features"] == features)
        & (trials["protocol"] == OUT_OF_CORPUS)
        & (trials["method"] == method)
        & (trials["held_out"] == column)
    ]
    return rows.set_index("seed")["test_ua"].astype(float).sort_index()


def _avg_series(trials: pd.DataFrame, features: str, method: str, columns: Sequence[str]) -> pd.Series:
    """Per-seed mean over ``columns`` for seeds present on every column."""
    parts = [_series(trials, features, method, c).rename(c) for c in columns]
    frame = pd.concat(parts, axis=1).dropna(how="any")
    return frame.mean(axis=1)


def compare_methods(
    trials: pd.DataFrame,
    columns: Sequence[str],
    labels: Mapping[RowKey, str],
    proposed: str,
) -> pd.DataFrame:
    """One row per (features, baseline, column): n, Δ (pp), its 95 % half-width, t, p of the proposed method vs
    the baseline.

    ``trials`` are the selected trials (one row per seed); ``labels`` orders the feature sets and baselines (table
    order first) and names them. Only out-of-corpus rows are compared; feature sets without the proposed method are
    skipped.
    """
    records = []
    out = trials[trials["protocol"] == OUT_OF_CORPUS]
    seen = dict.fromkeys(zip(out["features"], out["protocol"], out["method"]))
    ordered = [k for k in labels if k in seen] + [k for k in seen if k not in labels]
    feature_sets = [f for f in dict.fromkeys(k[0] for k in ordered) if (f, OUT_OF_CORPUS, proposed) in seen]
    for features in feature_sets:
        baselines = [k[2] for k in ordered if k[0] == features and k[2] != proposed]
        for method in baselines:
            pairs = [(c, _series(out, features, proposed, c), _series(out, features, method, c)) for c in columns]
            if avg_defined(columns):
                avg = (_avg_series(out, features, proposed, columns), _avg_series(out, features, method, columns))
                pairs.append((AVG, *avg))
            for column, a, b in pairs:
                result = paired_test(a, b)
                records.append(
                    {
                        "features": features,
                        "proposed": proposed,
                        "baseline": method,
                        "baseline_label": labels.get((features, OUT_OF_CORPUS, method), method),
                        "column": column,
                        **result.columns(),
                    }
                )
    columns_out = ["features", "proposed", "baseline", "baseline_label", "column", "n", "diff_pp", "ci95_pp", "t", "p"]
    return pd.DataFrame.from_records(records, columns=columns_out)


def format_pair(n: int, diff: float, pvalue: float, width: float = math.nan) -> str:
    """ "+2.1 ± 1.3 (p=0.034, n=5)" (± the 95 % half-width when defined); "p=n/a" when the test is undefined; the
    missing mark without common seeds."""
    if n == 0:
        return MISSING_MARK
    if math.isnan(pvalue):
        p_text = "p=n/a"
    elif pvalue < 0.001:
        p_text = "p<0.001"
    else:
        p_text = f"p={pvalue:.3f}"
    interval = "" if math.isnan(width) else f" ± {width:.1f}"
    return f"{diff:+.1f}{interval} ({p_text}, n={n})"


def comparison_tables(comparison: pd.DataFrame, columns: Sequence[str], level: int = 2) -> list[str]:
    """Markdown: per feature set (and normalisation, when ``comparison`` has a ``normalization`` column with
    another than the paper's) a heading (``level``) and its table, a row per baseline, a column per held-out
    corpus (+ Avg)."""
    shown = list(columns) + ([AVG] if avg_defined(columns) else [])
    parts = []
    if "normalization" not in comparison.columns:
        comparison = comparison.assign(normalization=DEFAULT_NORMALIZATION)
    named = set(comparison["normalization"]) != {DEFAULT_NORMALIZATION}
    for (normalization, features), block in comparison.groupby(["normalization", "features"], sort=False):
        rows = []
        for _baseline, group in block.groupby("baseline", sort=False):
            by_column = {r["column"]: r for _, r in group.iterrows()}
            cells = []
            for column in shown:
                r = by_column.get(column)
                pair = (
                    MISSING_MARK
                    if r is None
                    else format_pair(int(r["n"]), float(r["diff_pp"]), float(r["p"]), float(r["ci95_pp"]))
                )
                cells.append(pair)
            rows.append([str(group["baseline_label"].iloc[0]), *cells])
        said = f", normalisation: {TITLES.get(normalization, normalization)}" if named else ""
        parts.append(f"{'#' * level} {features_title(str(features))} (out-of-corpus{said})\n")
        parts.append(pipe_table(["Baseline", *shown], rows, ["l"] + ["r"] * len(shown)))
    return parts


def no_comparison(proposed_label: str) -> str:
    """What a report says when there is nothing to pair."""
    return (
        f"No comparison: the results hold no out-of-corpus trials of {proposed_label} together with another "
        "out-of-corpus method of the same features.\n"
    )


def render_comparison(
    comparison: pd.DataFrame, columns: Sequence[str], proposed_label: str, notes: Sequence[str]
) -> str:
    """comparison.md: title, notes and :func:`comparison_tables`."""
    parts = [f"# Paired comparison: {proposed_label} vs each baseline\n", *(f"{note}\n" for note in notes)]
    if comparison.empty:
        parts.append(no_comparison(proposed_label))
    parts += comparison_tables(comparison, columns)
    return "\n".join(parts)
