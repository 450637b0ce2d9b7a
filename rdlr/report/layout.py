"""The layout of the paper's Tables 2 and 3 (Section 4): their rows, labels and columns, and the published numbers.

A table row is identified by (features, protocol, method); its label comes from :func:`rdlr.methods.get_method`
(labels live in one place), except the within-corpus CE row, labelled "Within-single-corpus (CE)" as in the paper.
The out-of-corpus rows of each table are :data:`rdlr.methods.TABLE2_METHODS` / :data:`rdlr.methods.TABLE3_METHODS`.
Columns are the held-out corpora found in the results (CRE, IEM, IMP, POD first, ``X-demo`` ordered as ``X``) and Avg.
The paper's UAs ship as ``rdlr/data/paper_results.csv``; the cells beside them are built in :mod:`rdlr.report.cells`.
Only the paper's specs (:func:`is_paper_spec`) are laid out so; any other spec's table has its own rows in its order
(:func:`spec_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.methods import TABLE2_METHODS, TABLE3_METHODS, get_method

WITHIN_LABEL = "Within-single-corpus (CE)"
PROPOSED = "rdlr_cww_dagger"
PAPER_CORPORA: tuple[str, ...] = ("CRE", "IEM", "IMP", "POD")
DEMO_SUFFIX = "-demo"
AVG = "Avg"
TABLE2_FEATURES = "is10"
TABLE3_FEATURES: tuple[str, ...] = ("is10+w2v", "is10+w2v+bert")
TABLE3_IS10_METHODS: tuple[str, ...] = (PROPOSED,)  # Table 3's IS10 block: within-corpus CE, then these
PAPER_RESULTS_PATH = Path(__file__).resolve().parents[1] / "data" / "paper_results.csv"  # package data (pyproject)
PAPER_COLUMNS: tuple[str, ...] = ("table", "features", "protocol", "method", *PAPER_CORPORA, AVG)
FEATURE_TITLES: dict[str, str] = {"is10": "IS10", "w2v": "W2V", "bert": "BERT"}
PAPER_INCONSISTENT_AVG: tuple[tuple[int, str, str, str], ...] = (
    (2, "is10", OUT_OF_CORPUS, "proxy_anchor"),
    (3, "is10+w2v", OUT_OF_CORPUS, "dagger"),
)  # rows whose printed Avg differs from the mean of their four printed values by more than rounding allows

# spec ids (and their variants) laid out as the paper's tables; the demo is Table 2 on stand-ins of its corpora, so
# `rdlr reproduce --demo` shows the paper's layout and numbers beside its own
PAPER_SPECS: tuple[str, ...] = ("table2", "table3", "demo")
MAIN_TABLE = "main"  # the one table of any other spec: its rows in the spec's order
PROTOCOL_ORDER: tuple[str, ...] = (WITHIN_CORPUS, OUT_OF_CORPUS)

RowKey = tuple[str, str, str]


def is_paper_spec(spec_id: str) -> bool:
    """The paper's own specs (``table2``, ``table3`` and their variants such as ``table2-paper``) and the demo."""
    return spec_id.split("-")[0] in PAPER_SPECS


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


def method_label(method: str) -> str:
    """The paper's row label of a registered method (``rdlr.methods.get_method(id).label``); a method the registry
    cannot read keeps its id."""
    try:
        return get_method(method).label
    except ValueError:
        return method


def row_label(protocol: str, method: str) -> str:
    """Row label: "Within-single-corpus (CE)" for within-corpus CE, the method's label otherwise."""
    if protocol == WITHIN_CORPUS and method == "ce":
        return WITHIN_LABEL
    return method_label(method)


def features_title(features: str) -> str:
    """Display name of a feature combination, e.g. ``is10+w2v+bert`` -> ``IS10 + W2V + BERT``."""
    return " + ".join(FEATURE_TITLES.get(part, part) for part in features.split("+"))


def table2_rows() -> list[RowSpec]:
    """Table 2: within-single-corpus CE, then the 25 out-of-corpus rows, all with IS10 features."""
    rows = [RowSpec(TABLE2_FEATURES, WITHIN_CORPUS, "ce", WITHIN_LABEL)]
    rows += [RowSpec(TABLE2_FEATURES, OUT_OF_CORPUS, m, method_label(m)) for m in TABLE2_METHODS]
    return rows


def table3_rows() -> list[RowSpec]:
    """Table 3: the IS10 block (within-corpus CE, RDLR + CWW + †; the same trials as Table 2's rows), then per
    feature set (IS10+W2V, IS10+W2V+BERT) within-corpus CE and the 9 out-of-corpus rows."""
    is10 = features_title(TABLE2_FEATURES)
    rows = [RowSpec(TABLE2_FEATURES, WITHIN_CORPUS, "ce", WITHIN_LABEL, is10)]
    rows += [RowSpec(TABLE2_FEATURES, OUT_OF_CORPUS, m, method_label(m), is10) for m in TABLE3_IS10_METHODS]
    for features in TABLE3_FEATURES:
        block = features_title(features)
        rows.append(RowSpec(features, WITHIN_CORPUS, "ce", WITHIN_LABEL, block))
        rows += [RowSpec(features, OUT_OF_CORPUS, m, method_label(m), block) for m in TABLE3_METHODS]
    return rows


def other_rows(keys: Iterable[RowKey], layout: Iterable[RowSpec]) -> list[RowSpec]:
    """Rows for (features, protocol, method) keys outside the paper's layout, in order of appearance."""
    taken = {row.key for row in layout}
    rows = []
    for features, protocol, method in dict.fromkeys(keys):
        if (features, protocol, method) not in taken:
            rows.append(RowSpec(features, protocol, method, row_label(protocol, method), features_title(features)))
    return rows


def spec_rows(spec: Mapping[str, Any], present: Iterable[RowKey]) -> list[RowSpec]:
    """The rows of a spec of one's own, in its order: per feature set of ``features``, the ``protocols``'
    within-corpus methods, then its out-of-corpus ones; then rows with results the spec does not name (order of
    appearance). Each feature set is a block."""
    protocols, features = spec.get("protocols"), spec.get("features")
    methods = protocols if isinstance(protocols, Mapping) else {}
    named = [str(f) for f in features] if isinstance(features, (list, tuple)) else []
    with_results = list(dict.fromkeys(present))
    blocks = list(dict.fromkeys(named + [key[0] for key in with_results]))
    keys = [(f, protocol, str(m)) for f in blocks for protocol in PROTOCOL_ORDER for m in methods.get(protocol) or ()]
    keys = list(dict.fromkeys(keys + with_results))
    rank = {protocol: i for i, protocol in enumerate(PROTOCOL_ORDER)}
    keys.sort(key=lambda k: (blocks.index(k[0]), rank.get(k[1], len(rank))))
    return [RowSpec(f, protocol, m, row_label(protocol, m), features_title(f)) for f, protocol, m in keys]


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


def covers_paper_corpora(columns: Sequence[str]) -> bool:
    """True when the columns are the paper's four corpora (or their demo stand-ins), each once."""
    mapped = sorted(corpus for corpus in map(paper_corpus, columns) if corpus)
    return len(columns) == len(PAPER_CORPORA) and mapped == sorted(PAPER_CORPORA)


def avg_defined(columns: Sequence[str]) -> bool:
    """Avg needs all four paper corpora when the columns are paper/demo corpora; otherwise every column."""
    if columns and all(paper_corpus(c) for c in columns):
        return covers_paper_corpora(columns)
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
