"""The report figures' two print sizes, their type, and how they are saved.

Every figure is drawn twice, at its final size (no rescaling afterwards, so the type stays the size it is set to):
one journal column (3.5 in wide) as ``<name>-column.png/.pdf`` and one page (7 in wide) as ``<name>.png/.pdf``.
Type is set in points, 8 pt at the least (9 pt for panel titles). PDFs are vector with TrueType fonts embedded
(editable text) and no creation date, so reruns give the same bytes; PNGs are 300 dpi.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rdlr.report.files import write_bytes

WIDTHS_IN: dict[str, float] = {"page": 7.0, "column": 3.5}  # figure width in inches per print size
SUFFIXES: dict[str, str] = {"page": "", "column": "-column"}  # file-name suffix per print size
PNG_DPI = 300
MIN_FONT_PT = 8.0
TITLE_FONT_PT = 9.0
CHARS_PER_IN = 15  # about how many 8 pt characters fit in one inch of line (for wrapping notes and labels)

STYLE: dict[str, object] = {
    "font.size": MIN_FONT_PT,
    "axes.titlesize": TITLE_FONT_PT,
    "axes.labelsize": MIN_FONT_PT,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": MIN_FONT_PT,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "pdf.fonttype": 42,  # TrueType in the PDF: text a journal's editor can select and edit
}


@contextmanager
def figure_style() -> Iterator[None]:
    """The report's type sizes and line widths, for drawing and saving one figure (global rcParams left alone)."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(size: str, height_in: float) -> Figure:
    """A figure ``WIDTHS_IN[size]`` wide and ``height_in`` tall, laid out by matplotlib's constrained layout, on an
    Agg canvas (pyplot and the global backend are left alone)."""
    if size not in WIDTHS_IN:
        raise ValueError(f"figure size {size!r}: expected one of {', '.join(WIDTHS_IN)}")
    fig = Figure(figsize=(WIDTHS_IN[size], height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def wrap(text: str, width_in: float) -> str:
    """``text`` broken into lines that fit ``width_in`` inches of 8 pt type."""
    return "\n".join(textwrap.wrap(text, max(12, int(width_in * CHARS_PER_IN)), break_on_hyphens=False))


def sized_path(path: Path, size: str) -> Path:
    """The file of ``path``'s figure at ``size``: ``ua_table2.png`` (page), ``ua_table2-column.png`` (column)."""
    return path.with_name(f"{path.stem}{SUFFIXES[size]}{path.suffix}")


def save_both_sizes(draw: Callable[[str], Figure | None], path: Path) -> Path | None:
    """Draw the figure at each print size and save it (:func:`save`); returns the page-sized PNG's path, or None
    when ``draw`` has nothing to draw."""
    for size in WIDTHS_IN:
        with figure_style():
            fig = draw(size)
            if fig is None:
                return None
            save(fig, sized_path(path, size))
    return path


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG (300 dpi) at ``path`` and, beside it, a PDF (vector), each whole or not at all, at
    the figure's own size (no tight bounding box, which would change it); returns the PNG path."""
    png, pdf = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=PNG_DPI)
    fig.set_layout_engine("none")  # laid out for the PNG already: the PDF keeps that layout, not a second pass
    fig.savefig(pdf, format="pdf", metadata={"CreationDate": None})
    write_bytes(path.with_suffix(".pdf"), pdf.getvalue())
    return write_bytes(path, png.getvalue())
