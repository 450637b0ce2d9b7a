"""Render a :class:`rdlr.report.cells.Table` as Markdown, LaTeX (booktabs) and CSV; every table of the report is
drawn by tabulate (:func:`pipe_table`, :func:`latex_tabular`).

Cells read "mean ± half-width of the 95 % t-interval over seeds" (:mod:`rdlr.report.intervals`) in percent with one
decimal as in the paper; "(n=k)" marks a cell with fewer seeds than the results hold; missing cells are "–"
(Markdown), "--" (LaTeX), empty (CSV): never estimated. The best out-of-corpus value per column is bold; the
Configs column gives how many configurations the search compared for the row. The CSV keeps the sample std too.
Beside our table, a second table gives ours / paper / ours − paper (percentage points) where the columns are the
paper's corpora, only the paper's numbers (a reference) where they are the demo's stand-ins, and nothing otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import pandas as pd
from tabulate import DataRow, Line, TableFormat, tabulate

from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.features.seen import SEEN_MARK
from rdlr.report.cells import Cell, Table
from rdlr.report.layout import RowSpec, features_title

MISSING_MARK = "–"  # a cell without results (Markdown): shown as missing, never estimated
MISSING_TEX = "--"
PROTOCOL_TITLES = {OUT_OF_CORPUS: "out-of-corpus", WITHIN_CORPUS: "within-corpus"}
ALIGNMENTS = {"l": "left", "r": "right", "c": "center"}
LATEX_ROW = DataRow("", "&", r"\\")  # cells joined by " & ", each row closed by "\\"; no escaping (cells are LaTeX)


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    """A padded GitHub Markdown pipe table (tabulate's ``pipe`` format); ``align`` holds "l" or "r" per column.
    Cells are text as given (no number parsing: "56.4" stays "56.4")."""
    text = tabulate(
        rows, headers=list(header), tablefmt="pipe", colalign=[ALIGNMENTS[a] for a in align], disable_numparse=True
    )
    return text + "\n"


def latex_tabular(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str], rules_before: Sequence[int] = ()
) -> str:
    """A booktabs ``tabular`` (``\\toprule``, ``\\midrule`` below the header, ``\\bottomrule``) through tabulate,
    cells taken as LaTeX (escape them first: :func:`latex_escape`); a further ``\\midrule`` before each data row
    whose index is in ``rules_before``."""
    begin = Line(f"\\begin{{tabular}}{{{''.join(align)}}}\n\\toprule", "", "", "")
    booktabs = TableFormat(
        lineabove=begin,
        linebelowheader=Line(r"\midrule", "", "", ""),
        linebetweenrows=None,
        linebelow=Line("\\bottomrule\n\\end{tabular}", "", "", ""),
        headerrow=LATEX_ROW,
        datarow=LATEX_ROW,
        padding=1,
        with_header_hide=None,
    )
    lines = tabulate(
        rows, headers=list(header), tablefmt=booktabs, colalign=[ALIGNMENTS[a] for a in align], disable_numparse=True
    ).splitlines()
    first_row = 4  # \begin{tabular}, \toprule, the header, \midrule
    for index in sorted(set(rules_before), reverse=True):
        if 0 < index < len(rows):
            lines.insert(first_row + index, r"\midrule")
    return "\n".join(lines) + "\n"


def format_value(cell: Cell, n_seeds: int, tex: bool = False) -> str:
    """ "56.4 ± 1.2" (mean ± 95 % t-interval half-width; bold when best), "56.4 (n=1)" for a single seed, the
    missing mark otherwise."""
    if cell.missing:
        return MISSING_TEX if tex else MISSING_MARK
    if math.isnan(cell.half_width):
        text = f"{cell.mean:.1f}"
    else:
        text = rf"{cell.mean:.1f} \pm {cell.half_width:.1f}" if tex else f"{cell.mean:.1f} ± {cell.half_width:.1f}"
    if tex:
        text = rf"$\mathbf{{{text}}}$" if cell.best else f"${text}$"
    elif cell.best:
        text = f"**{text}**"
    if cell.n and n_seeds and cell.n < n_seeds:
        text += f" (n={cell.n})"
    if cell.seen:
        text += r" \S" if tex else f" {SEEN_MARK}"
    return text


def format_beside(cell: Cell, tex: bool = False) -> str:
    """ "ours / paper / ours − paper" with one decimal; missing parts marked."""
    miss = MISSING_TEX if tex else MISSING_MARK
    ours = miss if cell.missing else f"{cell.mean:.1f}"
    paper = miss if math.isnan(cell.paper) else f"{cell.paper:.1f}"
    diff = miss if math.isnan(cell.diff) else f"{cell.diff:+.1f}"
    if tex and diff != miss:
        diff = f"${diff}$"
    return f"{ours} / {paper} / {diff}"


def format_paper(cell: Cell, tex: bool = False) -> str:
    """The paper's value alone (a reference for a stand-in corpus), one decimal; the missing mark without one."""
    if math.isnan(cell.paper):
        return MISSING_TEX if tex else MISSING_MARK
    return f"{cell.paper:.1f}"


FORMATS = {"beside": format_beside, "paper": format_paper}  # the second table's cells (ours: format_value)


def column_header(table: Table, column: str) -> str:
    """Column name, with the paper's corpus when it differs (``CRE-demo (paper: CRE)``)."""
    paper = table.paper_columns.get(column)
    return f"{column} (paper: {paper})" if paper and paper != column else column


def _row_head(table: Table, row: RowSpec, kind: str) -> list[str]:
    labels = (
        [row.label]
        if table.is_layout
        else [row.label, features_title(row.features), PROTOCOL_TITLES.get(row.protocol, row.protocol)]
    )
    return labels + ([table.configs_text(row)] if kind == "ours" else [])


def _head(table: Table, kind: str) -> tuple[list[str], list[str]]:
    """Header cells before the corpus columns and their alignment ("l"/"r"): labels, then Configs in our table."""
    head = ["Method"] if table.is_layout else ["Method", "Features", "Protocol"]
    configs = ["Configs"] if kind == "ours" else []
    return head + configs, ["l"] * len(head) + ["r"] * len(configs)


def _body(table: Table, kind: str, tex: bool = False) -> tuple[list[str], list[list[str]], list[RowSpec | None]]:
    """Header, text rows and, per text row, its RowSpec (None for a block title row). ``kind``: "ours" (mean ±
    interval, with the Configs column), "beside" (ours / paper / difference) or "paper" (the paper's values)."""
    head, _ = _head(table, kind)
    header = head + [column_header(table, c) for c in table.columns]
    multi_block = table.is_layout and any(row.block for row in table.rows)  # Table 3: its feature sets
    rows: list[list[str]] = []
    specs: list[RowSpec | None] = []
    for block in table.blocks:
        if multi_block:
            title = rf"\textit{{{latex_escape(block)}}}" if tex else f"*{block}*"
            rows.append([title] + [""] * (len(header) - 1))
            specs.append(None)
        for row in (r for r in table.rows if r.block == block):
            labels = [latex_escape(x) for x in _row_head(table, row, kind)] if tex else _row_head(table, row, kind)
            cells = [table.cell(row, c) for c in table.columns]
            if kind == "ours":
                values = [format_value(c, table.n_seeds, tex) for c in cells]
            else:
                values = [FORMATS[kind](c, tex) for c in cells]
            rows.append(labels + values)
            specs.append(row)
    return header, rows, specs


def second_table(table: Table) -> str | None:
    """What follows our table: "beside" (the paper's own corpora are columns), "paper" (only their stand-ins:
    the paper's numbers for reference, no difference), or None (no column the paper has numbers for)."""
    if not table.is_layout:
        return None
    if table.compared:
        return "beside"
    return "paper" if table.referenced else None


SECOND_TITLES = {"beside": "Beside the paper", "paper": "The paper's numbers (reference only)"}
SECOND_NOTES = {
    "beside": "Each cell: ours / paper / ours − paper, UA (%), differences in percentage points; "
    f"{MISSING_MARK} where either side is missing.",
    "paper": "The paper's UA (%) for the same rows on its real corpora (X-demo stands in for X). The demo corpora "
    "are synthetic, so no difference is taken: these numbers are for orientation only.",
}


def markdown_table(table: Table, kind: str = "ours") -> str:
    """One Markdown table of ``table``: ``kind`` "ours" (mean ± interval, Configs), "beside" or "paper"."""
    header, rows, _ = _body(table, kind)
    _, head_align = _head(table, kind)
    return pipe_table(header, rows, head_align + ["r"] * len(table.columns))


def render_markdown(table: Table, notes: Sequence[str]) -> str:
    """The table as a Markdown document: title, notes, our table, and (layout tables with paper numbers) the paper
    beside ours (:func:`second_table`)."""
    parts = [f"# {table.title}\n", *(f"{note}\n" for note in notes), markdown_table(table)]
    kind = second_table(table)
    if kind:
        parts += [f"## {SECOND_TITLES[kind]}\n", f"{SECOND_NOTES[kind]}\n", markdown_table(table, kind)]
    return "\n".join(parts)


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the dagger to ``$\\dagger$``."""
    replacements = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "†": r"$\dagger$",
        "±": r"$\pm$",
        "–": "--",
        "—": "---",
        "−": "-",
    }
    return "".join(replacements.get(ch, ch) for ch in text)


def _tabular(table: Table, kind: str, caption: str, label: str) -> str:
    """One ``table`` environment: caption, label and the booktabs body, a ``\\midrule`` before each block title row
    and (layout tables) where the protocol changes."""
    header, rows, specs = _body(table, kind, tex=True)
    _, head_align = _head(table, kind)
    rules = []
    for i, (spec, previous) in enumerate(zip(specs[1:], specs), start=1):
        protocol_change = spec is not None and previous is not None and previous.protocol != spec.protocol
        if spec is None or (table.is_layout and protocol_change):
            rules.append(i)
    body = latex_tabular([latex_escape(h) for h in header], rows, head_align + ["c"] * len(table.columns), rules)
    lines = [
        r"\begin{table}[t]",
        r"  \centering",
        rf"  \caption{{{latex_escape(caption)}}}",
        rf"  \label{{{label}}}",
        *(("  " if "{tabular}" in line else "    ") + line for line in body.splitlines()),
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


SECOND_CAPTIONS = {
    "beside": "ours / paper / ours - paper (percentage points).",
    "paper": "the paper's UA (%) on its real corpora, for reference only (the demo corpora are synthetic stand-ins).",
}


def caption_text(title: str) -> str:
    """``title`` without a leading "Table N — ", which LaTeX's ``\\caption`` numbers itself."""
    return re.sub(r"^Table \d+ — ", "", title)


def render_latex(table: Table, note: str) -> str:
    """The table as LaTeX (needs ``\\usepackage{booktabs}``); layout tables with paper numbers get a second table
    (:func:`second_table`)."""
    caption = f"{caption_text(table.title)}. {note}"
    parts = [
        f"% {table.title} -- generated by rdlr report; needs \\usepackage{{booktabs}}\n",
        _tabular(table, "ours", caption=caption, label=f"tab:rdlr-{table.name}"),
    ]
    kind = second_table(table)
    if kind:
        parts.append(
            _tabular(
                table,
                kind,
                caption=f"{caption_text(table.title)}: {SECOND_CAPTIONS[kind]}",
                label=f"tab:rdlr-{table.name}-paper",
            )
        )
    return "\n".join(parts)


def table_frame(table: Table) -> pd.DataFrame:
    """Wide CSV form: one row per table row; per column ``<col>_mean, _std, _ci95, _n, _configs, _best, _paper,
    _diff`` (UA %; ``_ci95`` the 95 % t-interval half-width; ``_diff`` empty where the paper's value is a reference
    only)."""
    records = []
    for row in table.rows:
        record: dict[str, object] = {
            "block": row.block,
            "features": row.features,
            "protocol": row.protocol,
            "method": row.method,
            "label": row.label,
        }
        for column in table.columns:
            cell = table.cell(row, column)
            record[f"{column}_mean"] = cell.mean
            record[f"{column}_std"] = cell.std
            record[f"{column}_ci95"] = cell.half_width
            record[f"{column}_n"] = cell.n
            record[f"{column}_configs"] = cell.n_configs
            record[f"{column}_best"] = cell.best
            if any(table.cell(r, c).seen for r in table.rows for c in table.columns):
                record[f"{column}_seen"] = cell.seen
            record[f"{column}_paper"] = cell.paper
            record[f"{column}_diff"] = cell.diff
        records.append(record)
    return pd.DataFrame.from_records(records)


def render_csv(table: Table) -> str:
    """:func:`table_frame` as CSV text with 3 decimals (missing = empty)."""
    return table_frame(table).to_csv(index=False, float_format="%.3f", lineterminator="\n")
