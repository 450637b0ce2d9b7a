"""Render a :class:`rdlr.report.cells.Table` as Markdown, LaTeX (booktabs) and CSV.

Cells read "mean ± std" in percent with one decimal as in the paper; "(n=k)" marks a cell with fewer seeds than the
results hold; missing cells are "–" (Markdown), "--" (LaTeX), empty (CSV): never estimated. The best out-of-corpus
value per column is bold. Beside our table, a second table gives ours / paper / ours − paper (percentage points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.report.cells import Cell, Table
from rdlr.report.layout import RowSpec, features_title

MISSING_MARK = "–"  # a cell without results (Markdown): shown as missing, never estimated
MISSING_TEX = "--"
PROTOCOL_TITLES = {OUT_OF_CORPUS: "out-of-corpus", WITHIN_CORPUS: "within-corpus"}


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    """A padded GitHub Markdown pipe table; ``align`` holds "l" or "r" per column."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    widths = [max(w, 3) for w in widths]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if a == "r" else ":" + "-" * (w - 1) for w, a in zip(widths, align)]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *(line(r) for r in rows)]) + "\n"


def format_value(cell: Cell, n_seeds: int, tex: bool = False) -> str:
    """"56.4 ± 0.3" (bold when best), "56.4 (n=1)" for a single seed, the missing mark otherwise."""
    if cell.missing:
        return MISSING_TEX if tex else MISSING_MARK
    if math.isnan(cell.std):
        text = f"{cell.mean:.1f}"
    else:
        text = rf"{cell.mean:.1f} \pm {cell.std:.1f}" if tex else f"{cell.mean:.1f} ± {cell.std:.1f}"
    if tex:
        text = rf"$\mathbf{{{text}}}$" if cell.best else f"${text}$"
    elif cell.best:
        text = f"**{text}**"
    if cell.n and n_seeds and cell.n < n_seeds:
        text += f" (n={cell.n})"
    return text


def format_beside(cell: Cell, tex: bool = False) -> str:
    """"ours / paper / ours − paper" with one decimal; missing parts marked."""
    miss = MISSING_TEX if tex else MISSING_MARK
    ours = miss if cell.missing else f"{cell.mean:.1f}"
    paper = miss if math.isnan(cell.paper) else f"{cell.paper:.1f}"
    diff = miss if math.isnan(cell.diff) else f"{cell.diff:+.1f}"
    if tex and diff != miss:
        diff = f"${diff}$"
    return f"{ours} / {paper} / {diff}"


def column_header(table: Table, column: str) -> str:
    """Column name, with the paper's corpus when it differs (``CRE-demo (paper: CRE)``)."""
    paper = table.paper_columns.get(column)
    return f"{column} (paper: {paper})" if paper and paper != column else column


def _row_head(table: Table, row: RowSpec) -> list[str]:
    if table.is_layout:
        return [row.label]
    return [row.label, features_title(row.features), PROTOCOL_TITLES.get(row.protocol, row.protocol)]


def _body(table: Table, beside: bool, tex: bool = False) -> tuple[list[str], list[list[str]], list[RowSpec | None]]:
    """Header, text rows and, per text row, its RowSpec (None for a block title row)."""
    head = ["Method"] if table.is_layout else ["Method", "Features", "Protocol"]
    header = head + [column_header(table, c) for c in table.columns]
    multi_block = table.is_layout and len(table.blocks) > 1
    rows: list[list[str]] = []
    specs: list[RowSpec | None] = []
    for block in table.blocks:
        if multi_block:
            title = rf"\textit{{{latex_escape(block)}}}" if tex else f"*{block}*"
            rows.append([title] + [""] * len(table.columns))
            specs.append(None)
        for row in (r for r in table.rows if r.block == block):
            labels = [latex_escape(x) for x in _row_head(table, row)] if tex else _row_head(table, row)
            cells = [table.cell(row, c) for c in table.columns]
            values = [format_beside(c, tex) if beside else format_value(c, table.n_seeds, tex) for c in cells]
            rows.append(labels + values)
            specs.append(row)
    return header, rows, specs


def render_markdown(table: Table, notes: Sequence[str]) -> str:
    """The table as a Markdown document: title, notes, our table, and (layout tables) the paper beside ours."""
    header, rows, _ = _body(table, beside=False)
    align = ["l"] * (len(header) - len(table.columns)) + ["r"] * len(table.columns)
    parts = [f"# {table.title}\n", *(f"{note}\n" for note in notes), pipe_table(header, rows, align)]
    if table.is_layout:
        header, rows, _ = _body(table, beside=True)
        parts += [
            "## Beside the paper\n",
            "Each cell: ours / paper / ours − paper, UA (%), differences in percentage points; "
            f"{MISSING_MARK} where either side is missing.\n",
            pipe_table(header, rows, align),
        ]
    return "\n".join(parts)


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the dagger to ``$\\dagger$``."""
    replacements = {
        "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "†": r"$\dagger$", "±": r"$\pm$",
        "–": "--", "—": "---", "−": "-",
    }  # fmt: skip
    return "".join(replacements.get(ch, ch) for ch in text)


def _tabular(table: Table, beside: bool, caption: str, label: str) -> str:
    header, rows, specs = _body(table, beside=beside, tex=True)
    n_head = len(header) - len(table.columns)
    lines = [
        r"\begin{table}[t]",
        r"  \centering",
        rf"  \caption{{{latex_escape(caption)}}}",
        rf"  \label{{{label}}}",
        rf"  \begin{{tabular}}{{{'l' * n_head}{'c' * len(table.columns)}}}",
        r"    \toprule",
        "    " + " & ".join(latex_escape(h) for h in header) + r" \\",
        r"    \midrule",
    ]
    previous: RowSpec | None = None
    for i, (spec, cells) in enumerate(zip(specs, rows)):
        block_start = spec is None and i > 0
        protocol_change = spec is not None and previous is not None and previous.protocol != spec.protocol
        if block_start or (table.is_layout and protocol_change):
            lines.append(r"    \midrule")
        lines.append("    " + " & ".join(cells) + r" \\")
        previous = spec
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def render_latex(table: Table, note: str) -> str:
    """The table as LaTeX (needs ``\\usepackage{booktabs}``); layout tables get a second "beside the paper" table."""
    caption = f"{table.title}. {note}"
    parts = [f"% {table.title} -- generated by rdlr report; needs \\usepackage{{booktabs}}\n", _tabular(
        table, beside=False, caption=caption, label=f"tab:rdlr-{table.name}")]
    if table.is_layout:
        parts.append(_tabular(
            table, beside=True, caption=f"{table.title}: ours / paper / ours - paper (percentage points).",
            label=f"tab:rdlr-{table.name}-paper"))
    return "\n".join(parts)


def table_frame(table: Table) -> pd.DataFrame:
    """Wide CSV form: one row per table row; per column ``<col>_mean, _std, _n, _best, _paper, _diff`` (UA %)."""
    records = []
    for row in table.rows:
        record: dict[str, object] = {
            "block": row.block, "features": row.features, "protocol": row.protocol, "method": row.method,
            "label": row.label,
        }  # fmt: skip
        for column in table.columns:
            cell = table.cell(row, column)
            record[f"{column}_mean"] = cell.mean
            record[f"{column}_std"] = cell.std
            record[f"{column}_n"] = cell.n
            record[f"{column}_best"] = cell.best
            record[f"{column}_paper"] = cell.paper
            record[f"{column}_diff"] = cell.diff
        records.append(record)
    return pd.DataFrame.from_records(records)


def render_csv(table: Table) -> str:
    """:func:`table_frame` as CSV text with 3 decimals (missing = empty)."""
    return table_frame(table).to_csv(index=False, float_format="%.3f", lineterminator="\n")

