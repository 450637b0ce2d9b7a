"""Report figures (PNG, rendered with matplotlib's Agg canvas; pyplot and the global backend are left alone).

* UA per held-out corpus per method: one horizontal bar panel per corpus (+ Avg), error bars = std over seeds,
  the paper's published value as a black tick where there is one.
* Confusion matrices of the proposed method vs out-of-corpus CE per held-out corpus: counts summed over the seeds of
  the selected configuration, rows normalised to recall (%), so the diagonal's mean is the UA.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.labels import CLASSES, NUM_CLASSES
from rdlr.report.cells import Table
from rdlr.report.files import write_bytes

COLOR_BASE = "#4c72b0"
COLOR_PROPOSED = "#c44e52"
COLOR_WITHIN = "#999999"


def plot_ua(table: Table, path: Path, proposed: str, subtitle: str = "") -> Path | None:
    """Bar chart of ``table`` (rows with results only); returns the PNG path, or None when the table is empty."""
    rows = table.present_rows()
    columns = [c for c in table.columns if any(not table.cell(r, c).missing for r in rows)]
    if not rows or not columns:
        return None
    multi = len(table.blocks) > 1 or not table.is_layout
    labels = [f"{r.label} [{r.block}]" if multi and r.block else r.label for r in rows]
    colors = [
        COLOR_WITHIN if r.protocol == WITHIN_CORPUS else COLOR_PROPOSED if r.method == proposed else COLOR_BASE
        for r in rows
    ]
    fig = Figure(figsize=(2.6 * len(columns) + 3.0, 0.3 * len(rows) + 1.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(columns), sharey=True, squeeze=False)[0]
    y = np.arange(len(rows))
    for ax, column in zip(axes, columns):
        cells = [table.cell(r, column) for r in rows]
        shown = [i for i, c in enumerate(cells) if not c.missing]
        ax.barh(
            y[shown], [cells[i].mean for i in shown],
            xerr=[0.0 if math.isnan(cells[i].std) else cells[i].std for i in shown],
            color=[colors[i] for i in shown], height=0.7, error_kw={"elinewidth": 0.8, "capsize": 2},
        )  # fmt: skip
        paper = [i for i, c in enumerate(cells) if not math.isnan(c.paper)]
        if paper:
            ax.scatter([cells[i].paper for i in paper], y[paper], marker="|", s=120, color="black", zorder=3)
        ax.set_title(column, fontsize=10)
        ax.set_xlabel("UA (%)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].invert_yaxis()
    handles = [
        Patch(color=COLOR_BASE, label="out-of-corpus"), Patch(color=COLOR_PROPOSED, label="proposed"),
        Patch(color=COLOR_WITHIN, label="within-corpus"),
        Line2D([], [], marker="|", linestyle="", color="black", markersize=10, label="paper"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"{table.title}" + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG (100 dpi), whole or not at all."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return write_bytes(path, png.getvalue())


def parse_confusion(value: object, where: str) -> np.ndarray:
    """A confusion matrix from the results' JSON (NUM_CLASSES x NUM_CLASSES, rows = true, cols = predicted)."""
    try:
        matrix = np.asarray(json.loads(value) if isinstance(value, str) else value, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: confusion is not a JSON {NUM_CLASSES}x{NUM_CLASSES} list ({error})") from None
    if matrix.shape != (NUM_CLASSES, NUM_CLASSES) or (matrix < 0).any():
        raise ValueError(
            f"{where}: confusion must be a {NUM_CLASSES}x{NUM_CLASSES} matrix of non-negative counts, "
            f"got shape {matrix.shape}"
        )
    return matrix


def check_confusions(trials: pd.DataFrame) -> None:
    """Parse every non-empty confusion of ``trials`` so a malformed one fails before anything is drawn."""
    if "confusion" in trials.columns:
        summed_confusion(trials)


def summed_confusion(trials: pd.DataFrame) -> np.ndarray | None:
    """Sum of the trials' confusion matrices (None when none of them has one)."""
    if "confusion" not in trials.columns:
        return None
    total = np.zeros((NUM_CLASSES, NUM_CLASSES))
    found = False
    for _, row in trials.iterrows():
        if pd.isna(row["confusion"]) or str(row["confusion"]).strip() == "":
            continue
        where = (f"results: trial {row.get('trial_id', '?')} ({row['features']}, {row['method']}, "
                 f"held-out {row['held_out']}, seed {row['seed']})")
        total += parse_confusion(row["confusion"], where)
        found = True
    return total if found else None


def plot_confusions(
    trials: pd.DataFrame,
    features: str,
    columns: Sequence[str],
    methods: Sequence[tuple[str, str]],
    path: Path,
    title: str,
) -> Path | None:
    """Grid of row-normalised confusion matrices: one row per (method id, label), one column per held-out corpus."""
    out = trials[(trials["features"] == features) & (trials["protocol"] == OUT_OF_CORPUS)]
    grid = {
        (m, c): summed_confusion(out[(out["method"] == m) & (out["held_out"] == c)])
        for m, _ in methods
        for c in columns
    }
    used = [c for c in columns if any(grid[(m, c)] is not None for m, _ in methods)]
    if not used:
        return None
    fig = Figure(figsize=(2.8 * len(used) + 1.0, 3.3 * len(methods) + 0.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(methods), len(used), squeeze=False)
    for i, (method, label) in enumerate(methods):
        for j, column in enumerate(used):
            ax = axes[i][j]
            counts = grid[(method, column)]
            ax.set_xticks(range(NUM_CLASSES), [c[:3] for c in CLASSES], fontsize=7)
            ax.set_yticks(range(NUM_CLASSES), [c[:3] for c in CLASSES], fontsize=7)
            if counts is None:
                ax.text(0.5, 0.5, "missing", ha="center", va="center", transform=ax.transAxes)
                ax.set_xlim(-0.5, NUM_CLASSES - 0.5)
                ax.set_ylim(NUM_CLASSES - 0.5, -0.5)
            else:
                sums = counts.sum(axis=1, keepdims=True)
                recall = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0) * 100.0
                ax.imshow(recall, vmin=0.0, vmax=100.0, cmap="Blues")
                for (r, c), value in np.ndenumerate(recall):
                    ax.text(c, r, f"{value:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if value > 60 else "black")
            ax.set_title(f"{label}\n{column}", fontsize=8)
            if j == 0:
                ax.set_ylabel("true")
            if i == len(methods) - 1:
                ax.set_xlabel("predicted")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
