"""The layout of the paper's Tables 2 and 3 (Section 4), the published numbers, and the cells of our tables.

A table row is identified by (features, protocol, method); its label comes from :func:`rdlr.methods.get_method`
(labels live in one place), except the within-corpus CE row, labelled "Within-single-corpus (CE)" as in the paper.
Columns are the held-out corpora found in the results (CRE, IEM, IMP, POD first, ``X-demo`` ordered as ``X``) and Avg.
Cells hold UA in percent, mean ± sample std (ddof=1) over seeds of the selected configuration (rdlr/selection.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.methods import get_method

WITHIN_LABEL = "Within-single-corpus (CE)"
PROPOSED = "rdlr_cww_dagger"
PAPER_SELECTION_DIR = "paper-selection"  # subfolder of <out>/<spec_id>/ for the paper's (test-set) selection
PAPER_CORPORA: tuple[str, ...] = ("CRE", "IEM", "IMP", "POD")
DEMO_SUFFIX = "-demo"
AVG = "Avg"
MISSING_MARK = "–"  # a cell without results: shown as missing, never estimated
TABLE2_FEATURES = "is10"
TABLE2_METHODS: tuple[str, ...] = (
    "ce", "soft", "ls", "unigram", "focal", "ae", "cww", "contrastive", "proxy_anchor", "cww_pel", "dagger",
    "cww_dagger", "proxy_anchor_dagger", "cww_proxy_anchor_dagger", "self_kd", "rd", "cww_rd", "lr", "ls_lr",
    "rd_cww_dagger", "lr_cww_ae_pel", "lr_cww_dagger", "rdlr_dagger", "rdlr_cww_ae_pel", "rdlr_cww_dagger",
)  # fmt: skip
TABLE3_FEATURES: tuple[str, ...] = ("is10+w2v", "is10+w2v+bert")
TABLE3_METHODS: tuple[str, ...] = (
    "ce", "dagger", "cww_dagger", "proxy_anchor_dagger", "cww_proxy_anchor_dagger", "rd_cww_dagger",
    "lr_cww_dagger", "rdlr_dagger", "rdlr_cww_dagger",
)  # fmt: skip
PAPER_RESULTS_PATH = Path(__file__).resolve().parents[1] / "data" / "paper_results.csv"  # package data (pyproject)
PAPER_COLUMNS: tuple[str, ...] = ("table", "features", "protocol", "method", *PAPER_CORPORA, AVG)
FEATURE_TITLES: dict[str, str] = {"is10": "IS10", "w2v": "W2V", "bert": "BERT"}
PAPER_INCONSISTENT_AVG: tuple[tuple[int, str, str, str], ...] = (
    (2, "is10", "out_of_corpus", "proxy_anchor"),
    (3, "is10+w2v", "out_of_corpus", "dagger"),
)  # rows whose printed Avg differs from the mean of their four printed values by more than rounding allows

PERCENT = 100.0  # results hold UA as fractions; tables show percent (means are taken before scaling)
RowKey = tuple[str, str, str]


@dataclass(frozen=True)
class RowSpec:
    """One table row: which trials feed it and how it is labelled; ``block`` groups rows (Table 3's feature sets)."""

    features: str
    protocol: str
    method: str
    label: str
    block: str = ""

    @property
    def key(self) -> RowKey:
        return (self.features, self.protocol, self.method)


@dataclass(frozen=True)
class Cell:
    """UA in percent of one (row, column): mean and sample std over ``n`` seeds; NaN mean = missing."""

    mean: float = math.nan
    std: float = math.nan
    n: int = 0
    best: bool = False
    paper: float = math.nan

    @property
    def missing(self) -> bool:
        return math.isnan(self.mean)

    @property
    def diff(self) -> float:
        """Ours minus the paper in percentage points (NaN when either is missing)."""
        return self.mean - self.paper


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

    def cell(self, row: RowSpec, column: str) -> Cell:
        return self.cells.get((row.key, column), Cell())

    @property
    def blocks(self) -> list[str]:
        return list(dict.fromkeys(row.block for row in self.rows))

    def present_rows(self) -> list[RowSpec]:
        """Rows with at least one non-missing cell."""
        return [r for r in self.rows if any(not self.cell(r, c).missing for c in self.columns)]


def method_label(method_id: str) -> str:
    """The paper's row label of a registered method (``rdlr.methods.get_method(id).label``)."""
    return get_method(method_id).label


def row_label(features: str, protocol: str, method: str) -> str:
    """Row label: "Within-single-corpus (CE)" for within-corpus CE, the method's label otherwise."""
    if protocol == "within_corpus" and method == "ce":
        return WITHIN_LABEL
    return method_label(method)


def features_title(features: str) -> str:
    """Display name of a feature combination, e.g. ``is10+w2v+bert`` -> ``IS10 + W2V + BERT``."""
    return " + ".join(FEATURE_TITLES.get(part, part) for part in features.split("+"))


def table2_rows() -> list[RowSpec]:
    """Table 2: within-single-corpus CE, then the 25 out-of-corpus rows, all with IS10 features."""
    rows = [RowSpec(TABLE2_FEATURES, "within_corpus", "ce", WITHIN_LABEL)]
    rows += [RowSpec(TABLE2_FEATURES, "out_of_corpus", m, method_label(m)) for m in TABLE2_METHODS]
    return rows


def table3_rows() -> list[RowSpec]:
    """Table 3: per feature set (IS10+W2V, IS10+W2V+BERT) within-corpus CE, then the 9 out-of-corpus rows."""
    rows: list[RowSpec] = []
    for features in TABLE3_FEATURES:
        block = features_title(features)
        rows.append(RowSpec(features, "within_corpus", "ce", WITHIN_LABEL, block))
        rows += [RowSpec(features, "out_of_corpus", m, method_label(m), block) for m in TABLE3_METHODS]
    return rows


def other_rows(keys: Iterable[RowKey], layout: Iterable[RowSpec]) -> list[RowSpec]:
    """Rows for (features, protocol, method) keys outside the paper's layout, in order of appearance."""
    taken = {row.key for row in layout}
    rows = []
    for features, protocol, method in dict.fromkeys(keys):
        if (features, protocol, method) not in taken:
            label = label_or_id(features, protocol, method)
            rows.append(RowSpec(features, protocol, method, label, features_title(features)))
    return rows


def label_or_id(features: str, protocol: str, method: str) -> str:
    """Registered label where the method is known; a user's composition keeps its id."""
    try:
        return row_label(features, protocol, method)
    except (KeyError, ValueError):
        return method


def paper_corpus(name: str) -> str | None:
    """The paper's corpus a column corresponds to: ``CRE`` and ``CRE-demo`` -> ``CRE``; other corpora -> None."""
    base = name[: -len(DEMO_SUFFIX)] if name.endswith(DEMO_SUFFIX) else name
    return base if base in PAPER_CORPORA else None


def is_demo(name: str) -> bool:
    """True for the synthetic demo corpora (``CRE-demo`` ...)."""
    return name.endswith(DEMO_SUFFIX) and paper_corpus(name) is not None


def order_corpora(names: Iterable[str], preferred: Sequence[str] = ()) -> list[str]:
    """Paper corpora first in the order CRE, IEM, IMP, POD (``-demo`` stripped for ordering), then the others in
    the order of ``preferred`` (e.g. the spec's held-out list), then in order of appearance."""
    unique = list(dict.fromkeys(names))
    paper = sorted((n for n in unique if paper_corpus(n)), key=lambda n: (PAPER_CORPORA.index(paper_corpus(n)), n))
    rest = [n for n in unique if not paper_corpus(n)]
    rank = {name: i for i, name in enumerate(preferred)}
    rest.sort(key=lambda n: (rank.get(n, len(rank)), unique.index(n)))
    return paper + rest


def avg_defined(columns: Sequence[str]) -> bool:
    """Avg needs all four paper corpora when the columns are paper/demo corpora; otherwise every column."""
    mapped = [paper_corpus(c) for c in columns]
    if columns and all(mapped):
        return sorted(mapped) == sorted(PAPER_CORPORA) and len(columns) == len(PAPER_CORPORA)
    return bool(columns)


def load_paper_results() -> pd.DataFrame:
    """The published UAs (%) of Tables 2 and 3 shipped in ``rdlr/data/paper_results.csv``."""
    frame = pd.read_csv(PAPER_RESULTS_PATH, dtype={"features": str, "protocol": str, "method": str})
    missing = [c for c in PAPER_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{PAPER_RESULTS_PATH}: missing column(s) {', '.join(missing)}")
    return frame


def paper_lookup(table: int, paper: pd.DataFrame) -> dict[RowKey, dict[str, float]]:
    """Published values of one table by row key: {column: UA %}."""
    rows = paper[paper["table"] == table]
    return {
        (r["features"], r["protocol"], r["method"]): {c: float(r[c]) for c in (*PAPER_CORPORA, AVG)}
        for _, r in rows.iterrows()
    }


def build_table(
    name: str,
    title: str,
    rows: list[RowSpec],
    trials: pd.DataFrame,
    columns: Sequence[str],
    paper: Mapping[RowKey, Mapping[str, float]] | None = None,
    n_seeds: int = 0,
    is_layout: bool = True,
) -> Table:
    """Cells of ``rows`` x (``columns`` + Avg) from the selected trials (one row per seed, UA as fractions).

    Avg = mean over the held-out corpora of the per-corpus means, only when :func:`avg_defined` and every corpus
    cell is present; its std is over seeds of the per-seed average, only when every corpus has the same seeds.
    For layout tables the best out-of-corpus value per column and block is marked (at the displayed precision).
    """
    per_seed = _per_seed(trials)
    paper_columns = {c: paper_corpus(c) for c in columns}
    covers_paper = sorted(c for c in paper_columns.values() if c) == sorted(PAPER_CORPORA) and len(columns) == len(PAPER_CORPORA)
    paper_columns[AVG] = AVG if covers_paper and paper is not None else None
    cells: dict[tuple[RowKey, str], Cell] = {}
    for row in rows:
        published = (paper or {}).get(row.key, {})
        series = {c: per_seed.get((*row.key, c)) for c in columns}
        for column, values in series.items():
            ref = published.get(paper_columns[column] or "", math.nan)
            cells[(row.key, column)] = _stats(values, ref)
        avg = _average(series) if avg_defined(columns) else Cell()
        avg_paper = published.get(AVG, math.nan) if paper_columns[AVG] else math.nan
        cells[(row.key, AVG)] = Cell(avg.mean, avg.std, avg.n, paper=avg_paper)
    table = Table(name, title, rows, [*columns, AVG], cells, paper_columns, n_seeds, is_layout)
    if is_layout:
        _mark_best(table)
    return table


def _per_seed(trials: pd.DataFrame) -> dict[tuple[str, str, str, str], pd.Series]:
    """{(features, protocol, method, held_out): test UA (fraction) indexed by seed}."""
    out = {}
    for key, group in trials.groupby(["features", "protocol", "method", "held_out"], sort=False):
        out[tuple(key)] = group.set_index("seed")["test_ua"].astype(float).sort_index()
    return out


def _stats(values: pd.Series | None, paper: float) -> Cell:
    if values is None or values.empty:
        return Cell(paper=paper)
    std = float(values.std(ddof=1)) * PERCENT if len(values) > 1 else math.nan
    return Cell(float(values.mean()) * PERCENT, std, int(len(values)), paper=paper)


def _average(series: Mapping[str, pd.Series | None]) -> Cell:
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
        rows = [r for r in table.rows if r.block == block and r.protocol == "out_of_corpus"]
        for column in table.columns:
            cells = {r.key: table.cell(r, column) for r in rows}
            shown = {key: float(f"{cell.mean:.1f}") for key, cell in cells.items() if not cell.missing}
            if not shown:
                continue
            top = max(shown.values())
            for key, value in shown.items():
                if value == top:
                    table.cells[(key, column)] = replace(table.cells[(key, column)], best=True)
