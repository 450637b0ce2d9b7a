"""Report figures, each in two print sizes (:mod:`rdlr.report.figure_style`: ``<name>.png/.pdf`` 7 in wide,
``<name>-column.png/.pdf`` 3.5 in wide; type >= 8 pt; PNG 300 dpi, PDF vector).

* ``ua_<table>``: UA per held-out corpus (+ Avg), one bar per table row grouped by corpus, error bars = the 95 %
  t-interval over seeds as in the tables (none for a cell of 1 seed, and the note says "1 seed"), a dashed line at
  chance (25 %), the paper's published value as a white diamond over our bar on the paper's own corpora (not on
  the demo's stand-ins, where it is only a reference), and a legend of only what is drawn.
* ``ua_heatmap_<table>``: the same means as a rows x held-out corpora heatmap, each value printed in its cell.
* ``confusion_<features>``: the proposed method vs out-of-corpus CE per held-out corpus, counts summed over the
  seeds of the selected configuration, rows normalised (each row sums to 1, so the diagonal's mean is the UA), every
  cell printed as "recall (count)".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.io.safe_text import parse_json
from rdlr.report.cells import Table
from rdlr.report.figure_style import MIN_FONT_PT, WIDTHS_IN, new_figure, save_both_sizes, wrap
from rdlr.report.layout import RowSpec
from rdlr.results import result_classes

COLOR_PROPOSED = "#c44e52"
COLOR_WITHIN = "#999999"
COLORS_BASELINE = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#ccb974", "#64b5cd")
HATCHES = ("", "///", "...", "xx")  # one per feature-set block (Table 3): the same method in two blocks differs
COLOR_CHANCE = "#444444"
PAPER_MARKER: dict[str, object] = {
    "marker": "D",
    "s": 12,
    "facecolors": "white",
    "edgecolors": "black",
    "linewidths": 0.8,
}  # the paper's value: unlike an error bar's cap
LEGEND_ROW_IN = 0.16  # height of one legend line at 8 pt
CHAR_WIDTH_IN = 0.075  # about the width of one 8 pt character


def chance_ua(num_classes: int) -> float:
    """UA (%) of a classifier that guesses among ``num_classes`` classes (every class's recall 1/K)."""
    return 100.0 / num_classes


def plot_ua(table: Table, path: Path, proposed: str, subtitle: str = "", num_classes: int = 4) -> Path | None:
    """UA bars of ``table`` (rows with results only) at both print sizes, chance marked for ``num_classes``
    classes; returns the page-sized PNG's path, or None when the table is empty."""
    return save_both_sizes(lambda size: draw_ua(table, proposed, size, subtitle, num_classes), path)


def plot_ua_heatmap(table: Table, path: Path, subtitle: str = "") -> Path | None:
    """The UA heatmap of ``table`` at both print sizes; returns the page-sized PNG's path, or None when empty."""
    return save_both_sizes(lambda size: draw_ua_heatmap(table, size, subtitle), path)


def _shown(table: Table) -> tuple[list[RowSpec], list[str]]:
    """The rows with results and the columns where some row has a result."""
    rows = table.present_rows()
    columns = [c for c in table.columns if any(not table.cell(r, c).missing for r in rows)]
    return (rows, columns) if rows and columns else ([], [])


def _row_labels(rows: Sequence[RowSpec]) -> list[str]:
    """Row labels, with the feature set when the table has several (Table 3, "other")."""
    multi = any(r.block for r in rows)
    return [f"{r.label} [{r.block}]" if multi and r.block else r.label for r in rows]


def _row_styles(rows: Sequence[RowSpec], proposed: str) -> list[tuple[str, str]]:
    """(colour, hatch) per row: grey within-corpus, red the proposed method, a palette for the baselines, and a
    hatch per feature-set block."""
    blocks = list(dict.fromkeys(r.block for r in rows))
    styles, baseline = [], 0
    for row in rows:
        if row.protocol == WITHIN_CORPUS:
            color = COLOR_WITHIN
        elif row.method == proposed:
            color = COLOR_PROPOSED
        else:
            color, baseline = COLORS_BASELINE[baseline % len(COLORS_BASELINE)], baseline + 1
        styles.append((color, HATCHES[blocks.index(row.block) % len(HATCHES)]))
    return styles


def draw_ua(table: Table, proposed: str, size: str, subtitle: str = "", num_classes: int = 4) -> Figure | None:
    """Grouped bars: one group per held-out corpus (+ Avg), one bar per row, on one UA axis from 0 with chance
    (100/K %, 25 % for the paper's four classes) marked; ``size``: "page" or "column"."""
    chance = chance_ua(num_classes)
    rows, columns = _shown(table)
    if not rows:
        return None
    width = WIDTHS_IN[size]
    ncol = 2 if size == "page" else 1
    labels = [wrap(label, width / ncol - 0.6) for label in _row_labels(rows)]
    legend_lines = sum(label.count("\n") + 1 for label in labels) / ncol + 2
    fig = new_figure(size, 2.3 + LEGEND_ROW_IN * legend_lines)
    ax = fig.subplots()
    x = np.arange(len(columns))
    bar = min(0.84 / len(rows), 0.3)  # a lone row: a bar, not a wall
    top, drew_paper, one_seed, several = chance, False, False, False
    handles = []
    for i, (row, (color, hatch)) in enumerate(zip(rows, _row_styles(rows, proposed))):
        offset = (i - (len(rows) - 1) / 2) * bar
        cells = [table.cell(row, c) for c in columns]
        shown = [j for j, c in enumerate(cells) if not c.missing]
        means = [cells[j].mean for j in shown]
        ax.bar(x[shown] + offset, means, bar, color=color, hatch=hatch, edgecolor="white", linewidth=0.3)
        handles.append(Patch(facecolor=color, hatch=hatch, edgecolor="white", label=labels[i]))
        spread = [j for j in shown if cells[j].n > 1 and not math.isnan(cells[j].half_width)]  # 1 seed: no bar
        if spread:
            ax.errorbar(
                x[spread] + offset,
                [cells[j].mean for j in spread],
                yerr=[cells[j].half_width for j in spread],
                fmt="none",
                ecolor="black",
                elinewidth=0.6,
                capsize=1.2 if size == "column" else 2.0,
                capthick=0.6,
            )
        one_seed, several = one_seed or len(spread) < len(shown), several or bool(spread)
        top = max([top, *(cells[j].mean + (cells[j].half_width if j in spread else 0.0) for j in shown)])
        paper = [j for j in shown if not cells[j].reference and not math.isnan(cells[j].paper)]
        if paper:
            ax.scatter(x[paper] + offset, [cells[j].paper for j in paper], zorder=3, **PAPER_MARKER)
            top, drew_paper = max([top, *(cells[j].paper for j in paper)]), True
    ax.axhline(chance, color=COLOR_CHANCE, linestyle="--", linewidth=0.8, zorder=2)
    _corpus_ticks(ax, columns, (width - 0.6) / len(columns))
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(0.0, min(100.0, 5.0 * math.ceil((top + 2.0) / 5.0)))
    ax.set_ylabel("UA (%)")
    ax.grid(axis="y", alpha=0.3, linewidth=0.5)
    ax.set_axisbelow(True)
    if drew_paper:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="",
                label="paper",
                marker=PAPER_MARKER["marker"],
                markersize=4,
                markerfacecolor="white",
                markeredgecolor="black",
                markeredgewidth=0.8,
            )
        )
    handles.append(Line2D([], [], color=COLOR_CHANCE, linestyle="--", linewidth=0.8, label=f"chance ({chance:.3g} %)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False, handlelength=1.5)
    note = seed_caption(one_seed, several) + (f"; {subtitle}" if subtitle else "")
    fig.suptitle(wrap(note, width))
    return fig


def _corpus_ticks(ax: Axes, columns: Sequence[str], slot_in: float) -> None:
    """The held-out corpora as x tick labels, slanted when they would not fit ``slot_in`` inches each."""
    slanted = max(map(len, columns)) * CHAR_WIDTH_IN > 0.9 * slot_in
    ax.set_xticks(
        range(len(columns)),
        columns,
        rotation=30 if slanted else 0,
        ha="right" if slanted else "center",
        rotation_mode="anchor",
    )


def seed_caption(one_seed: bool, several_seeds: bool) -> str:
    """What the error bars show: the 95 % t-interval over seeds, none for a cell of 1 seed."""
    if not several_seeds:
        return "1 seed: no error bars"
    return "error bars: 95 % t-interval over seeds" + ("; none for a cell without one (1 seed)" if one_seed else "")


def draw_ua_heatmap(table: Table, size: str, subtitle: str = "") -> Figure | None:
    """Rows x held-out corpora (+ Avg) heatmap of the mean UA, each value printed in its cell ("–" = missing);
    ``size``: "page" or "column"."""
    rows, columns = _shown(table)
    if not rows:
        return None
    width = WIDTHS_IN[size]
    labels = [wrap(label, width / (2.6 if size == "page" else 2.4)) for label in _row_labels(rows)]
    ua = np.array([[table.cell(r, c).mean for c in columns] for r in rows])
    lines = sum(label.count("\n") + 1 for label in labels)
    fig = new_figure(size, max(1.3, (0.9 if size == "page" else 1.15) + max(0.22 * len(rows), 0.15 * lines)))
    ax = fig.subplots()
    low, high = float(np.nanmin(ua)), float(np.nanmax(ua))
    low, high = (low - 1.0, high + 1.0) if high - low < 1e-9 else (low, high)
    image = ax.imshow(
        np.ma.masked_invalid(ua),
        cmap=colormaps["Blues"].with_extremes(bad="#eeeeee"),
        vmin=low,
        vmax=high,
        aspect="auto",
    )  # a missing cell in light grey
    for (r, c), value in np.ndenumerate(ua):
        dark = not math.isnan(value) and value > low + 0.6 * (high - low)
        ax.text(
            c,
            r,
            "–" if math.isnan(value) else f"{value:.1f}",
            ha="center",
            va="center",
            color="white" if dark else "black",
        )
    label_in = max(len(line) for label in labels for line in label.split("\n")) * CHAR_WIDTH_IN
    bar_in = 0.0
    if size == "page":  # a column has no room for a colour bar; the values are printed in any case
        fig.colorbar(image, ax=ax, label="UA (%)", fraction=0.08, pad=0.02, aspect=12)
        bar_in = 0.7
    _corpus_ticks(ax, columns, (width - label_in - bar_in) / len(columns))
    ax.set_yticks(range(len(rows)), labels)
    ax.tick_params(length=0)
    seeds = sorted({table.cell(r, c).n for r in rows for c in columns if not table.cell(r, c).missing})
    over = "1 seed" if seeds == [1] else f"mean over {'/'.join(map(str, seeds))} seeds"
    fig.suptitle(wrap(f"UA (%), {over}" + (f"; {subtitle}" if subtitle else ""), width))
    return fig


def parse_confusion(value: object, where: str, num_classes: int = 4) -> np.ndarray:
    """A confusion matrix from the results' JSON (K x K for ``num_classes`` K, rows = true, cols = predicted)."""
    k = num_classes
    try:
        matrix = np.asarray(parse_json(value, where) if isinstance(value, str) else value, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: confusion is not a JSON {k}x{k} list ({error})") from None
    if matrix.shape != (k, k) or (matrix < 0).any():
        raise ValueError(
            f"{where}: confusion must be a {k}x{k} matrix of non-negative counts (one row and column "
            f"per class), got shape {matrix.shape}"
        )
    return matrix


def check_confusions(trials: pd.DataFrame) -> None:
    """Parse every non-empty confusion of ``trials`` so a malformed one fails before anything is drawn."""
    if "confusion" in trials.columns:
        summed_confusion(trials)


def summed_confusion(trials: pd.DataFrame) -> np.ndarray | None:
    """Sum of the trials' confusion matrices, K x K for the results' class set (None when none of them has one)."""
    if "confusion" not in trials.columns:
        return None
    k = len(result_classes(trials))
    total = np.zeros((k, k))
    found = False
    for _, row in trials.iterrows():
        if pd.isna(row["confusion"]) or str(row["confusion"]).strip() == "":
            continue
        where = (
            f"results: trial {row.get('trial_id', '?')} ({row['features']}, {row['method']}, "
            f"held-out {row['held_out']}, seed {row['seed']})"
        )
        total += parse_confusion(row["confusion"], where, k)
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
    """Row-normalised confusion matrices with counts, one per (method id, label) and held-out corpus, at both
    print sizes; returns the page-sized PNG's path, or None when no trial has a confusion matrix."""
    grid = confusion_grid(trials, features, columns, methods)
    used = [c for c in columns if any(grid[(label, c)] is not None for _, label in methods)]
    if not used:
        return None
    labels = [label for _, label in methods]
    classes = result_classes(trials)
    return save_both_sizes(lambda size: draw_confusions(grid, labels, used, size, title, classes), path)


def confusion_grid(
    trials: pd.DataFrame, features: str, columns: Sequence[str], methods: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], np.ndarray | None]:
    """(method label, held-out corpus) -> the out-of-corpus trials' summed confusion (None where none has one)."""
    out = trials[(trials["features"] == features) & (trials["protocol"] == OUT_OF_CORPUS)]
    return {
        (label, c): summed_confusion(out[(out["method"] == m) & (out["held_out"] == c)])
        for m, label in methods
        for c in columns
    }


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row of ``counts`` divided by its sum (its recall per predicted class); an empty row stays 0."""
    sums = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)


def count_text(count: float) -> str:
    """A count short enough for a cell 0.3 in wide: exact below 1000, then "8.5k", "12k"."""
    if count < 1000:
        return f"{count:.0f}"
    return f"{count / 1000:.1f}k" if count < 9950 else f"{count / 1000:.0f}k"


def draw_confusions(
    grid: dict[tuple[str, str], np.ndarray | None],
    methods: Sequence[str],
    corpora: Sequence[str],
    size: str,
    title: str,
    classes: Sequence[str] = ("neutral", "happy", "sad", "angry"),
) -> Figure:
    """One matrix per (method, corpus) of ``grid``, rows and columns named by ``classes``; a page has a row per method
    and a column per corpus, a column the transpose (two matrices abreast); up to four matrices stand in one row.
    Cells: recall (the row's share) and count (:func:`count_text`), "0.62\\n(31)"."""
    panels = [[(m, c) for c in corpora] for m in methods]
    if size == "column":
        panels = [list(column) for column in zip(*panels)]
    if len(methods) * len(corpora) <= (4 if size == "page" else 2):
        panels = [[pair for line in panels for pair in line]]
    n_rows, n_cols = len(panels), len(panels[0])
    width = WIDTHS_IN[size]
    side = min(1.7, (width - 0.6) / n_cols)  # one matrix's side, in inches
    fig = new_figure(size, n_rows * (side + 0.4) + 0.5 + 0.15 * wrap(title, width).count("\n"))
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    names, k = [name[:3] for name in classes], len(classes)
    for i, line in enumerate(panels):
        for j, (method, corpus) in enumerate(line):
            ax, counts = axes[i][j], grid[(method, corpus)]
            ax.set_title(wrap(f"{method}, {corpus}", side), fontsize=MIN_FONT_PT)
            ax.set_xticks(range(k), names, **({"rotation": 90} if k > 4 else {}))
            ax.set_yticks(range(k), names)
            ax.tick_params(length=0)
            if counts is None:
                ax.text(0.5, 0.5, "missing", ha="center", va="center", transform=ax.transAxes)
                ax.set_xlim(-0.5, k - 0.5)
                ax.set_ylim(k - 0.5, -0.5)
                ax.set_aspect("equal")
                continue
            recall = row_normalised(counts)
            ax.imshow(recall, vmin=0.0, vmax=1.0, cmap="Blues")
            for (r, c), value in np.ndenumerate(recall):
                ax.text(
                    c,
                    r,
                    f"{value:.2f}\n({count_text(counts[r, c])})",
                    ha="center",
                    va="center",
                    **({"fontsize": MIN_FONT_PT} if k > 4 else {}),
                    linespacing=0.95,
                    color="white" if value > 0.6 else "black",
                )
    fig.supxlabel("predicted", fontsize=MIN_FONT_PT)
    fig.supylabel("true", fontsize=MIN_FONT_PT)
    fig.suptitle(wrap(title, width))
    return fig
