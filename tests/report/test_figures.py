"""The report's figures: both print sizes, type >= 8 pt, 300 dpi PNG + vector PDF, 95 % intervals (none for one
seed), the UA heatmap's printed values, confusion rows normalised with their counts."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.text import Text

from rdlr.report.build import render_report
from rdlr.report.cells import Table, build_table
from rdlr.report.figure_style import MIN_FONT_PT, PNG_DPI, WIDTHS_IN, figure_style
from rdlr.report.layout import AVG, load_paper_results, method_label, order_corpora, paper_lookup, table2_rows
from rdlr.report.plots import confusion_grid, count_text, draw_confusions, draw_ua, draw_ua_heatmap
from rdlr.report.selection import selected_trials
from tests.report.test_tables import CORPORA, make_results

PROPOSED = "rdlr_cww_dagger"
SIZES = tuple(WIDTHS_IN)


def is10_pair(seeds: int = 3) -> pd.DataFrame:
    """The hand-made sweep's IS10 CE and proposed rows (within- and out-of-corpus CE, proposed; a missing cell)."""
    results = make_results()
    rows = results[(results["features"] == "is10") & results["method"].isin(["ce", PROPOSED])]
    return rows[rows["seed"] < seeds]


def table_of(results: pd.DataFrame) -> Table:
    trials = selected_trials(results, "validation")
    return build_table(
        "table2",
        "t",
        table2_rows(),
        trials,
        order_corpora(trials["held_out"]),
        paper=paper_lookup(2, load_paper_results()),
        n_seeds=3,
        all_rows=False,
    )


def drawn(draw: Callable[[], Figure | None]) -> Figure:
    """The figure ``draw`` makes in the report's style, laid out and rendered as when it is saved."""
    with figure_style():
        fig = draw()
        assert fig is not None
        fig.canvas.draw()
    return fig


def all_figures(size: str) -> list[Figure]:
    table = table_of(is10_pair())
    grid = confusion_grid(
        selected_trials(is10_pair(), "validation"), "is10", CORPORA, [("ce", "CE"), (PROPOSED, method_label(PROPOSED))]
    )
    return [
        drawn(lambda: draw_ua(table, PROPOSED, size, "selection: validation")),
        drawn(lambda: draw_ua_heatmap(table, size, "selection: validation")),
        drawn(lambda: draw_confusions(grid, ["CE", method_label(PROPOSED)], CORPORA, size, "title")),
    ]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def pdf_size_in(data: bytes) -> tuple[float, float]:
    assert data[:5] == b"%PDF-"
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box, "no MediaBox"
    return float(box[1]) / 72.0, float(box[2]) / 72.0


@pytest.mark.slow
def test_every_figure_is_a_300_dpi_png_and_a_pdf_at_both_print_sizes(tmp_path: Path) -> None:
    two_corpora = is10_pair().query("held_out in @CORPORA[:2]")  # small: the figures are written, not inspected
    index = render_report(two_corpora, tmp_path)
    folder = index.parent / "plots"
    names = ("ua_table2", "ua_heatmap_table2", "confusion_is10")
    expected = sorted(f"{n}{suffix}.{ext}" for n in names for suffix in ("", "-column") for ext in ("png", "pdf"))
    assert sorted(p.name for p in folder.iterdir()) == expected
    readme = index.read_text(encoding="utf-8")
    for name in names:
        for suffix, width in (("", WIDTHS_IN["page"]), ("-column", WIDTHS_IN["column"])):
            pdf = (folder / f"{name}{suffix}.pdf").read_bytes()
            inches = pdf_size_in(pdf)
            assert inches[0] == pytest.approx(width)
            assert png_size((folder / f"{name}{suffix}.png").read_bytes()) == tuple(round(x * PNG_DPI) for x in inches)
        assert f"(plots/{name}.png)" in readme and f"(plots/{name}.pdf)" in readme
    assert b"/Subtype /Image" not in (folder / "ua_table2.pdf").read_bytes()  # bars are vector, not a bitmap


@pytest.mark.parametrize("size", SIZES)
def test_figures_are_sized_for_print_with_type_of_8_pt_at_least(size: str) -> None:
    for fig in all_figures(size):
        assert fig.get_size_inches()[0] == pytest.approx(WIDTHS_IN[size])
        shown = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert shown, "no text drawn"
        small = {t.get_text(): t.get_fontsize() for t in shown if t.get_fontsize() < MIN_FONT_PT}
        assert not small, f"text under {MIN_FONT_PT} pt at {size} size: {small}"


def error_bars(fig: Figure) -> list[float]:
    """Half-widths of every error bar drawn in ``fig``."""
    halves = []
    for ax in fig.axes:
        for container in ax.containers:
            if isinstance(container, ErrorbarContainer):
                for segment in container.lines[2][0].get_segments():
                    halves.append(round(float(segment[1][1] - segment[0][1]) / 2.0, 6))
    return halves


@pytest.mark.parametrize("size", SIZES)
def test_one_seed_draws_no_error_bars_and_says_so(size: str) -> None:
    one = table_of(is10_pair(seeds=1))
    fig = drawn(lambda: draw_ua(one, PROPOSED, size))
    assert error_bars(fig) == []
    assert not [c for ax in fig.axes for c in ax.collections if isinstance(c, LineCollection)]
    assert "1 seed" in fig.get_suptitle()
    assert "1 seed" in drawn(lambda: draw_ua_heatmap(one, size)).get_suptitle()
    three = table_of(is10_pair())
    fig = drawn(lambda: draw_ua(three, PROPOSED, size))
    intervals = sorted(
        round(three.cell(r, c).half_width, 6)
        for r in three.present_rows()
        for c in three.columns
        if not three.cell(r, c).missing
    )
    assert sorted(error_bars(fig)) == pytest.approx(intervals)  # the tables' 95 % t-intervals
    assert "95 % t-interval" in fig.get_suptitle()


def test_ua_bars_share_one_axis_from_0_mark_chance_and_list_only_what_is_drawn() -> None:
    fig = drawn(lambda: draw_ua(table_of(is10_pair()), PROPOSED, "page"))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == [*CORPORA, AVG]
    assert ax.get_ylim()[0] == 0.0
    assert any(list(line.get_ydata()) == [25.0, 25.0] for line in ax.get_lines())  # chance (4 classes)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "Within-single-corpus (CE)",
        "Out-of-corpus (CE)",
        method_label(PROPOSED),
        "paper",
        "chance (25 %)",
    ]
    out_only = is10_pair().query("method == 'ce' and protocol == 'out_of_corpus'")
    demo = out_only.assign(held_out=out_only["held_out"] + "-demo")  # stand-ins: the paper's marks are not drawn
    legend = [t.get_text() for t in drawn(lambda: draw_ua(table_of(demo), PROPOSED, "page")).legends[0].get_texts()]
    assert legend == ["Out-of-corpus (CE)", "chance (25 %)"]


@pytest.mark.parametrize("size", SIZES)
def test_heatmap_prints_each_cells_value(size: str) -> None:
    table = table_of(is10_pair())
    fig = drawn(lambda: draw_ua_heatmap(table, size))
    ax = fig.axes[0]
    rows, columns = table.present_rows(), [t.get_text() for t in ax.get_xticklabels()]
    assert columns == [*CORPORA, AVG]
    means = [[table.cell(r, c).mean for c in columns] for r in rows]
    expected = ["–" if np.isnan(m) else f"{m:.1f}" for line in means for m in line]
    assert [t.get_text() for t in ax.texts] == expected
    assert "–" in expected  # the proposed method's missing 4th corpus (and so its Avg)
    assert np.ma.filled(ax.images[0].get_array(), np.nan) == pytest.approx(np.array(means), nan_ok=True)


@pytest.mark.parametrize("size", SIZES)
def test_confusion_rows_are_normalised_and_show_their_counts(size: str) -> None:
    trials = selected_trials(is10_pair(), "validation")
    labels = ["CE", method_label(PROPOSED)]
    grid = confusion_grid(trials, "is10", CORPORA, [("ce", "CE"), (PROPOSED, labels[1])])
    fig = drawn(lambda: draw_confusions(grid, labels, CORPORA, size, "title"))
    shape = (len(labels), len(CORPORA)) if size == "page" else (len(CORPORA), len(labels))
    assert len(fig.axes) == shape[0] * shape[1]
    drawn_matrices = 0
    for ax in fig.axes:
        method, corpus = ax.get_title().replace("\n", " ").rsplit(", ", 1)
        counts = grid[(method, corpus)]
        if counts is None:  # the proposed method's missing 4th corpus
            assert [t.get_text() for t in ax.texts] == ["missing"]
            continue
        recall = np.asarray(ax.images[0].get_array())
        assert recall.sum(axis=1) == pytest.approx(np.ones(len(recall)))
        assert recall * counts.sum(axis=1, keepdims=True) == pytest.approx(counts)
        assert [t.get_text() for t in ax.texts] == [f"{v:.2f}\n({n:.0f})" for v, n in zip(recall.flat, counts.flat)]
        drawn_matrices += 1
    assert drawn_matrices == 2 * len(CORPORA) - 1
    ce_first = grid[("CE", CORPORA[0])]  # seeds 0, 1, 2 of make_results: [[10 + seed, 2, 1, 0], ...]
    assert ce_first is not None and ce_first[0].tolist() == [33.0, 6.0, 3.0, 0.0]


def test_large_counts_stay_short_enough_for_a_cell() -> None:
    assert [count_text(n) for n in (0, 31, 999, 1000, 8549, 9950, 12345)] == [
        "0",
        "31",
        "999",
        "1.0k",
        "8.5k",
        "10k",
        "12k",
    ]
