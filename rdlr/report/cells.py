"""The cells of a table: UA in percent per (row, held-out corpus) and Avg over the seeds of the selected configuration
(:mod:`rdlr.report.selection`): mean, sample std (ddof=1) and the 95 % t-interval (:mod:`rdlr.report.intervals`),
how many configurations the search compared, the paper's value beside each, and the best marked.

The paper's value is *compared* (a difference is taken) only in the columns of the paper's own corpora (CRE, IEM,
IMP, POD); for their synthetic stand-ins (``CRE-demo`` ...) it is kept as a reference only, without a difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from rdlr.corpora.splits import OUT_OF_CORPUS
from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.report.intervals import half_width
from rdlr.report.layout import AVG, RowKey, RowSpec, avg_defined, covers_paper_corpora, paper_corpus

PERCENT = 100.0  # results hold UA as fractions; tables show percent (means are taken before scaling)
CellKey = tuple[str, str, str, str]  # (features, protocol, method, held_out)


@dataclass(frozen=True)
class Cell:
    """UA in percent of one (row, column): mean and sample std over ``n`` seeds (NaN mean = missing), the number of
    configurations the search compared, and the paper's value (``reference``: shown, never subtracted)."""

    mean: float = math.nan
    std: float = math.nan
    n: int = 0
    best: bool = False
    paper: float = math.nan
    n_configs: int = 0
    reference: bool = False
    seen: bool = False  # the backbone of the row's features saw this held-out corpus (rdlr.report.seen)

    @property
    def missing(self) -> bool:
        return math.isnan(self.mean)

    @property
    def half_width(self) -> float:
        """Half-width of the 95 % t-interval of the mean over the ``n`` seeds (NaN for one seed)."""
        return half_width(self.std, self.n)

    @property
    def diff(self) -> float:
        """Ours minus the paper in percentage points (NaN when either is missing or the paper's is a reference)."""
        return math.nan if self.reference else self.mean - self.paper


@dataclass
class Table:
    """A rendered-to-be table: rows in layout order, corpus columns + Avg, and the cells."""

    name: str
    title: str
    rows: list[RowSpec]
    columns: list[str]
    cells: dict[tuple[RowKey, str], Cell]
    paper_columns: dict[str, str | None] = field(default_factory=dict)
    n_seeds: int = 0
    is_layout: bool = True
    hidden: int = 0
    notes: list[str] = field(default_factory=list)  # said under this table only (e.g. rdlr.report.seen's)
    normalization: str = DEFAULT_NORMALIZATION  # the inputs' z-normalisation of every number (rdlr.normalization)

    def cell(self, row: RowSpec, column: str) -> Cell:
        return self.cells.get((row.key, column), Cell())

    @property
    def compared(self) -> bool:
        """Some column is one of the paper's own corpora: ours is set against the paper's number there."""
        return any(self.paper_columns.get(c) == c for c in self.columns if c != AVG)

    @property
    def referenced(self) -> bool:
        """The paper has numbers for some column (its own corpora or their demo stand-ins)."""
        return any(self.paper_columns.get(c) for c in self.columns if c != AVG)

    def configs_text(self, row: RowSpec) -> str:
        """Configurations compared for ``row``: "8", or "6–8" when its held-out corpora differ, "" without results."""
        counts = sorted({self.cell(row, c).n_configs for c in self.columns if self.cell(row, c).n_configs})
        if not counts:
            return ""
        return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"

    @property
    def blocks(self) -> list[str]:
        return list(dict.fromkeys(row.block for row in self.rows))

    def present_rows(self) -> list[RowSpec]:
        """Rows with at least one non-missing cell."""
        return [r for r in self.rows if any(not self.cell(r, c).missing for c in self.columns)]


def build_table(
    name: str,
    title: str,
    rows: list[RowSpec],
    trials: pd.DataFrame,
    columns: Sequence[str],
    *,
    paper: Mapping[RowKey, Mapping[str, float]] | None = None,
    n_seeds: int = 0,
    is_layout: bool = True,
    all_rows: bool = True,
) -> Table:
    """Cells of ``rows`` x (``columns`` + Avg) from the selected trials (one row per seed, UA as fractions, with
    ``n_configs`` when the selection added it).

    ``paper``: the published values by row key (:func:`rdlr.report.layout.paper_lookup`); ``n_seeds``: the seeds
    the results hold (fewer in a cell is marked); ``is_layout``: a table of the paper's layout (best values marked);
    ``all_rows``: keep rows without any result (the paper's full layout), else drop them (counted in ``hidden``).
    Avg = mean over the held-out corpora of the per-corpus means, only when :func:`avg_defined` and every corpus
    cell is present; its std is over seeds of the per-seed average, only when every corpus has the same seeds.
    For layout tables the best out-of-corpus value per column and block is marked (at the displayed precision).
    """
    per_seed, configs = _per_seed(trials)
    paper_columns: dict[str, str | None] = {c: paper_corpus(c) if paper is not None else None for c in columns}
    paper_columns[AVG] = AVG if covers_paper_corpora(columns) and paper is not None else None
    reference = {c: paper_columns[c] != c for c in columns}
    reference[AVG] = not all(paper_columns[c] == c for c in columns)
    cells: dict[tuple[RowKey, str], Cell] = {}
    for row in rows:
        published = (paper or {}).get(row.key, {})
        series = {c: per_seed.get((*row.key, c)) for c in columns}
        for column, values in series.items():
            ref = published.get(paper_columns[column] or "", math.nan)
            cell = _stats(values, ref)
            cells[(row.key, column)] = replace(
                cell, n_configs=configs.get((*row.key, column), 0), reference=reference[column]
            )
        avg = _average(series) if avg_defined(columns) else Cell()
        avg_paper = published.get(AVG, math.nan) if paper_columns[AVG] else math.nan
        cells[(row.key, AVG)] = Cell(avg.mean, avg.std, avg.n, paper=avg_paper, reference=reference[AVG])
    table = Table(name, title, rows, [*columns, AVG], cells, paper_columns, n_seeds, is_layout)
    if not all_rows:
        table.rows = table.present_rows()
        table.hidden = len(rows) - len(table.rows)
    if is_layout:
        _mark_best(table)
    return table


def _per_seed(trials: pd.DataFrame) -> tuple[dict[CellKey, pd.Series], dict[CellKey, int]]:
    """({(features, protocol, method, held_out): test UA (fraction) indexed by seed}, {same key: n_configs})."""
    out, configs = {}, {}
    for key, group in trials.groupby(["features", "protocol", "method", "held_out"], sort=False):
        out[tuple(key)] = group.set_index("seed")["test_ua"].astype(float).sort_index()
        if "n_configs" in group.columns:
            configs[tuple(key)] = int(group["n_configs"].max())
    return out, configs


def _stats(values: pd.Series | None, paper: float) -> Cell:
    """Mean and sample std (percent) over the seeds of one cell; missing when there are none."""
    if values is None or values.empty:
        return Cell(paper=paper)
    std = float(values.std(ddof=1)) * PERCENT if len(values) > 1 else math.nan
    return Cell(float(values.mean()) * PERCENT, std, int(len(values)), paper=paper)


def _average(series: Mapping[str, pd.Series | None]) -> Cell:
    """The Avg cell: mean of the per-corpus means; std over seeds of the per-seed average when the seeds agree."""
    if not series or any(v is None or v.empty for v in series.values()):
        return Cell()
    means = [float(v.mean()) for v in series.values()]
    seed_sets = {tuple(v.index) for v in series.values()}
    if len(seed_sets) == 1 and len(next(iter(seed_sets))) > 1:
        per_seed_avg = pd.concat(list(series.values()), axis=1).mean(axis=1)
        return Cell(float(np.mean(means)) * PERCENT, float(per_seed_avg.std(ddof=1)) * PERCENT, int(len(per_seed_avg)))
    return Cell(float(np.mean(means)) * PERCENT, math.nan, min(len(v) for v in series.values()))


def _mark_best(table: Table) -> None:
    """Bold the best out-of-corpus mean per column within each block, ties (at 0.1 %) included."""
    for block in table.blocks:
        rows = [r for r in table.rows if r.block == block and r.protocol == OUT_OF_CORPUS]
        for column in table.columns:
            cells = {r.key: table.cell(r, column) for r in rows}
            shown = {key: float(f"{cell.mean:.1f}") for key, cell in cells.items() if not cell.missing}
            if not shown:
                continue
            top = max(shown.values())
            for key, value in shown.items():
                if value == top:
                    table.cells[(key, column)] = replace(table.cells[(key, column)], best=True)
