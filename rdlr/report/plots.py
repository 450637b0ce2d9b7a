"""Report figures, each as PNG and PDF (rendered with matplotlib's Agg canvas; pyplot and the global backend are left
alone).

* UA per held-out corpus per method: one horizontal bar panel per corpus (+ Avg) on one shared UA axis, error bars =
  the 95 % t-interval over seeds (as the tables; none for a cell of 1 seed, "1 seed" in the caption), a dashed line at chance (25 %), the paper's published value as a
  black tick on the paper's own corpora (not on the demo's stand-ins, where it is only a reference), and a legend
  of only what is drawn.
* Confusion matrices of the proposed method vs out-of-corpus CE per held-out corpus: counts summed over the seeds of
  the selected configuration, rows normalised to recall (%), so the diagonal's mean is the UA.
"""

from __future__ import annotations

import io
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
from rdlr.safe_text import parse_json

KIND_COLORS: dict[str, str] = {"out-of-corpus": "#4c72b0", "proposed": "#c44e52", "within-corpus": "#999999"}
COLOR_CHANCE = "#444444"
CHANCE_UA = 100.0 / NUM_CLASSES  # UA of a classifier that guesses (every class's recall 1/4)


def plot_ua(table: Table, path: Path, proposed: str, subtitle: str = "") -> Path | None:
    """Bar chart of ``table`` (rows with results only) as PNG and PDF; returns the PNG path, or None when the table
    is empty. Every panel shares one UA axis, starting at 0, with the chance level (25 %) marked."""
    rows = table.present_rows()
    columns = [c for c in table.columns if any(not table.cell(r, c).missing for r in rows)]
    if not rows or not columns:
        return None
    multi = any(r.block for r in rows)  # Table 3 and "other": name the feature set of each bar
    labels = [f"{r.label} [{r.block}]" if multi and r.block else r.label for r in rows]
    kinds = [
        "within-corpus" if r.protocol == WITHIN_CORPUS else "proposed" if r.method == proposed else "out-of-corpus"
        for r in rows
    ]
    fig = Figure(figsize=(2.6 * len(columns) + 3.0, 0.3 * len(rows) + 1.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(columns), sharey=True, sharex=True, squeeze=False)[0]
    y = np.arange(len(rows))
    right, drew_paper, one_seed = CHANCE_UA, False, False
    for ax, column in zip(axes, columns):
        cells = [table.cell(r, column) for r in rows]
        shown = [i for i, c in enumerate(cells) if not c.missing]
        ax.barh(y[shown], [cells[i].mean for i in shown], color=[KIND_COLORS[kinds[i]] for i in shown], height=0.7)
        spread = [i for i in shown if cells[i].n > 1 and not math.isnan(cells[i].half_width)]  # one seed: no bar
        if spread:
            ax.errorbar([cells[i].mean for i in spread], y[spread], xerr=[cells[i].half_width for i in spread],
                        fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        one_seed = one_seed or len(spread) < len(shown)
        right = max([right, *(cells[i].mean + (cells[i].half_width if i in spread else 0.0) for i in shown)])
        paper = [i for i, c in enumerate(cells) if not c.reference and not math.isnan(c.paper)]
        if paper:
            ax.scatter([cells[i].paper for i in paper], y[paper], marker="|", s=120, color="black", zorder=3)
            right, drew_paper = max([right, *(cells[i].paper for i in paper)]), True
        ax.axvline(CHANCE_UA, color=COLOR_CHANCE, linestyle="--", linewidth=0.9, zorder=2)
        ax.set_title(column, fontsize=10)
        ax.set_xlabel("UA (%)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_xlim(0.0, min(100.0, 5.0 * math.ceil((right + 2.0) / 5.0)))  # one range: the panels share x
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].invert_yaxis()
    handles = [Patch(color=KIND_COLORS[kind], label=kind) for kind in KIND_COLORS if kind in kinds]
    if drew_paper:
        handles.append(Line2D([], [], marker="|", linestyle="", color="black", markersize=10, label="paper"))
    handles.append(Line2D([], [], color=COLOR_CHANCE, linestyle="--", label=f"chance ({CHANCE_UA:g} %)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    caption = seed_caption(one_seed, any(table.cell(r, c).n > 1 for r in rows for c in columns))
    caption += f"; {subtitle}" if subtitle else ""
    fig.suptitle(f"{table.title}\n{caption}", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, path)


def seed_caption(one_seed: bool, several_seeds: bool) -> str:
    """What the error bars show: the 95 % t-interval over seeds, none for a cell of 1 seed."""
    if not several_seeds:
        return "1 seed: no error bars"
    return "error bars: 95 % t-interval over seeds" + ("; none for a cell of 1 seed" if one_seed else "")


def _save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG (100 dpi) and, beside it, a PDF (vector, no creation date, so reruns give the same
    bytes), each whole or not at all; returns the PNG path."""
    png, pdf = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    fig.savefig(pdf, format="pdf", metadata={"CreationDate": None})
    write_bytes(path.with_suffix(".pdf"), pdf.getvalue())
    return write_bytes(path, png.getvalue())


def parse_confusion(value: object, where: str) -> np.ndarray:
    """A confusion matrix from the results' JSON (NUM_CLASSES x NUM_CLASSES, rows = true, cols = predicted)."""
    try:
        matrix = np.asarray(parse_json(value, where) if isinstance(value, str) else value, dtype=float)
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
