"""Beside UA: macro-F1 and per-class recall of the selected configurations, where the results carry them.

The sweep writes them per trial as ``test_f1`` (macro-F1 on the held-out corpus) and ``test_recall/<class>`` (the
recall of each class of the sweep's class set), fractions like ``test_ua``. Results without these columns (older
sweeps) get no metrics page; nothing is estimated from other columns. One row per (features, protocol, method,
held-out corpus): mean over the seeds of the configuration the selection chose, macro-F1 with its 95 % t-interval
(:mod:`rdlr.report.intervals`); UA is the mean of the recalls of the classes present in the held-out corpus, so a
UA gain can be traced to the classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from rdlr.normalization import DEFAULT_NORMALIZATION, TITLES
from rdlr.report.intervals import half_width
from rdlr.report.layout import RowKey, features_title
from rdlr.report.render import MISSING_MARK, PROTOCOL_TITLES, pipe_table
from rdlr.results import GROUP_KEYS

F1_COLUMN = "test_f1"
RECALL_PREFIX = "test_recall/"
PERCENT = 100.0


def recall_columns(frame: pd.DataFrame) -> list[str]:
    """The per-class recall columns present, in class order (:func:`rdlr.results.results_frame` writes them so)."""
    return [column for column in frame.columns if column.startswith(RECALL_PREFIX)]


def has_class_metrics(frame: pd.DataFrame) -> bool:
    """True when the results carry macro-F1 or per-class recall for at least one trial."""
    columns = [c for c in (F1_COLUMN, *recall_columns(frame)) if c in frame.columns]
    return bool(columns) and bool(frame[columns].notna().any().any())


def class_metrics_frame(trials: pd.DataFrame, order: Sequence[RowKey]) -> pd.DataFrame:
    """Per (features, protocol, method, held_out) of the selected ``trials``: seeds, mean UA / WA / macro-F1 (%),
    macro-F1's 95 % half-width and mean recall per class (%); rows follow ``order`` (table rows), then the rest."""
    recalls = recall_columns(trials)
    metrics = [
        "test_ua",
        *(["test_wa"] if "test_wa" in trials.columns else []),
        *([F1_COLUMN] if F1_COLUMN in trials.columns else []),
        *recalls,
    ]
    records = []
    for key, group in trials.groupby(list(GROUP_KEYS), sort=False):
        record: dict[str, object] = dict(zip(GROUP_KEYS, key))
        record["n_seeds"] = int(group["seed"].nunique())
        for column in metrics:
            values = pd.to_numeric(group[column], errors="coerce").dropna() * PERCENT
            record[f"{column}_mean"] = float(values.mean()) if len(values) else math.nan
            if column == F1_COLUMN:
                std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
                record[f"{column}_ci95"] = half_width(std, len(values))
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    rank = {key: i for i, key in enumerate(order)}
    position = [rank.get((r["features"], r["protocol"], r["method"]), len(rank)) for _, r in frame.iterrows()]
    return frame.assign(_rank=position).sort_values(["_rank", "held_out"], kind="mergesort").drop(columns="_rank")


def _percent(value: float) -> str:
    return MISSING_MARK if math.isnan(value) else f"{value:.1f}"


def render_class_metrics(frame: pd.DataFrame, labels: Mapping[RowKey, str], notes: Sequence[str]) -> str:
    """metrics.md: one table per feature set (and normalisation, where the results have another than the
    paper's), a row per (method, protocol, held-out corpus)."""
    recalls = [c for c in frame.columns if c.startswith(RECALL_PREFIX) and c.endswith("_mean")]
    has_wa, has_f1 = "test_wa_mean" in frame.columns, f"{F1_COLUMN}_mean" in frame.columns
    header = [
        "Method",
        "Protocol",
        "Held-out",
        "Seeds",
        "UA",
        *(["WA"] if has_wa else []),
        *(["Macro-F1"] if has_f1 else []),
        *(f"Recall {c.removeprefix(RECALL_PREFIX).removesuffix('_mean')}" for c in recalls),
    ]
    parts = ["# Macro-F1 and per-class recall\n", *(f"{note}\n" for note in notes)]
    named = set(frame["normalization"]) != {DEFAULT_NORMALIZATION}
    for (features, normalization), block in frame.groupby(["features", "normalization"], sort=False):
        rows = []
        for _, r in block.iterrows():
            f1 = _percent(r[f"{F1_COLUMN}_mean"]) if has_f1 else ""
            if has_f1 and not math.isnan(r[f"{F1_COLUMN}_ci95"]):
                f1 += f" ± {r[f'{F1_COLUMN}_ci95']:.1f}"
            rows.append(
                [
                    labels.get((r["features"], r["protocol"], r["method"]), r["method"]),
                    PROTOCOL_TITLES.get(r["protocol"], r["protocol"]),
                    r["held_out"],
                    str(r["n_seeds"]),
                    _percent(r["test_ua_mean"]),
                    *([_percent(r["test_wa_mean"])] if has_wa else []),
                    *([f1] if has_f1 else []),
                    *(_percent(r[c]) for c in recalls),
                ]
            )
        said = f" — normalisation: {TITLES.get(normalization, normalization)}" if named else ""
        parts.append(f"## {features_title(str(features))}{said}\n")
        parts.append(pipe_table(header, rows, ["l", "l", "l"] + ["r"] * (len(header) - 3)))
    return "\n".join(parts)
