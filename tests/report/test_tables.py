"""The report: golden Markdown/LaTeX/CSV, missing cells, best marks, Avg, paired tests vs scipy, paper data (the
figures: test_figures.py).

Goldens live in tests/report/golden/; regenerate them only deliberately:
``RDLR_UPDATE_GOLDEN=1 pytest tests/report/test_tables.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from rdlr.commands.report import configure_parser, run
from rdlr.corpora.splits import OUT_OF_CORPUS, WITHIN_CORPUS
from rdlr.labels import CLASSES
from rdlr.methods import TABLE2_METHODS, TABLE3_METHODS, get_method
from rdlr.report import render
from rdlr.report.build import render_report
from rdlr.report.cells import build_table
from rdlr.report.compare import compare_methods, format_pair, paired_test
from rdlr.report.files import locate_results, report_input
from rdlr.report.layout import (
    AVG,
    PAPER_CORPORA,
    PAPER_INCONSISTENT_AVG,
    PAPER_RESULTS_PATH,
    TABLE3_FEATURES,
    WITHIN_LABEL,
    RowSpec,
    load_paper_results,
    method_label,
    order_corpora,
    paper_corpus,
    row_label,
    table2_rows,
    table3_rows,
)
from rdlr.report.plots import parse_confusion
from rdlr.report.render import latex_escape, latex_tabular, pipe_table
from rdlr.report.selection import selected_trials

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
PAPER_MD = REPO.parent / "shared" / "paper" / "rdlr-sensors-2024.md"
UPDATE = os.environ.get("RDLR_UPDATE_GOLDEN") == "1"
CORPORA = ("CRE", "IEM", "IMP", "POD")
CORPUS_SHIFT = {"CRE": 0.05, "IEM": 0.03, "IMP": -0.02, "POD": -0.06}
SEED_JITTER = (0.0013, 0.0121, -0.0067)


def make_results(corpora: tuple[str, ...] = CORPORA, spec_id: str = "table2") -> pd.DataFrame:
    """A small hand-made sweep (of the paper's spec ``table2`` unless ``spec_id`` says otherwise): 3 seeds, 2 configs
    ("c1" wins on validation, "c2" on test), missing cells."""
    base = {
        ("is10", "within_corpus", "ce"): 0.60,
        ("is10", "out_of_corpus", "ce"): 0.45,
        ("is10", "out_of_corpus", "cww_dagger"): 0.47,
        ("is10", "out_of_corpus", "rdlr_cww_dagger"): 0.49,
        ("is10", "out_of_corpus", "rd+lr+cww"): 0.48,
        ("is10+w2v", "out_of_corpus", "ce"): 0.50,
        ("is10+w2v", "out_of_corpus", "rdlr_cww_dagger"): 0.53,
    }
    rows = []
    for m, ((features, protocol, method), ua) in enumerate(base.items()):
        for c, corpus in enumerate(corpora):
            if method == "rdlr_cww_dagger" and features == "is10" and c == 3:
                continue  # a missing cell: the proposed method on the 4th corpus
            if features == "is10+w2v" and c >= 2:
                continue  # only two corpora for IS10 + W2V
            for seed, jitter in enumerate(SEED_JITTER):
                if method == "cww_dagger" and c == 2 and seed == 2:
                    continue  # a cell with 2 seeds
                test = ua + CORPUS_SHIFT.get(paper_corpus(corpus) or "", 0.01 * c) + jitter * (1 + 0.5 * m)
                for config, val_shift, test_shift in (("c1", 0.02, 0.0), ("c2", -0.01, 0.015)):
                    rows.append(
                        {
                            "spec_id": spec_id,
                            "protocol": protocol,
                            "features": features,
                            "method": method,
                            "held_out": corpus,
                            "seed": seed,
                            "config_id": config,
                            "hparams": json.dumps({"batch_size": 1024 if config == "c1" else 2048}),
                            "val_ua": round(test + val_shift + 0.1, 6),
                            "test_ua": round(test + test_shift, 6),
                            "confusion": json.dumps([[10 + seed, 2, 1, 0], [3, 8, 1, 1], [0, 2, 9, c], [1, 1, 0, 12]]),
                            "trial_id": f"t{m}{c}{seed}{config}",
                            "test_wa": round(test + 0.02, 6),
                            "test_f1": round(test - 0.01, 6),
                            **{
                                f"test_recall/{name}": round(test + 0.04 * (k - 1.5), 6)
                                for k, name in enumerate(CLASSES)
                            },
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def golden_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    return render_report(make_results(), out, spec={"spec_id": "table2", "seeds": [0, 1, 2]}, plots=False)


OWN_SPEC = {
    "id": "mine",
    "description": "four public corpora",
    "features": ["is10+w2v", "is10"],
    "held_out": list(CORPORA),
    "protocols": {"within_corpus": ["ce"], "out_of_corpus": ["rdlr_cww_dagger", "ce", "cww_dagger", "rd+lr+cww", "lr"]},
    "seeds": [0, 1, 2],
    "resolved": {"store": "/data/features"},
}  # a spec of one's own as a sweep saves it (spec.yaml: the spec's keys + what the run resolved)


@pytest.fixture(scope="module")
def own_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("own")
    return render_report(make_results(spec_id="mine"), out, spec=dict(OWN_SPEC), plots=False)


OWN_GOLDEN_FILES = ("README.md", "main.md", "main.tex")


@pytest.mark.parametrize("name", OWN_GOLDEN_FILES)
def test_own_spec_outputs_match_goldens(own_report: Path, name: str) -> None:
    produced = (own_report.parent / name).read_text(encoding="utf-8")
    golden = GOLDEN / "own" / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing; create it deliberately with RDLR_UPDATE_GOLDEN=1"
    assert produced == golden.read_text(encoding="utf-8")


def test_own_spec_report_is_one_table_in_spec_order_with_the_index_showing_it(own_report: Path) -> None:
    """A spec of one's own: one table, its rows in the spec's order (feature sets, then within- before
    out-of-corpus, methods as listed; rows without results shown missing); the README holds that table's
    numbers, the selection, the paired comparison and the spec as YAML, and no line about the paper's tables."""
    folder = own_report.parent
    assert sorted(p.name for p in folder.glob("*.md")) == [
        "README.md",
        "comparison.md",
        "main.md",
        "metrics.md",
        "selection.md",
    ]
    order = pd.read_csv(folder / "main.csv")[["features", "protocol", "method"]].values.tolist()
    methods = ["rdlr_cww_dagger", "ce", "cww_dagger", "rd+lr+cww", "lr"]
    assert order == [
        [f, p, m]
        for f in ("is10+w2v", "is10")
        for p, ms in (("within_corpus", ["ce"]), ("out_of_corpus", methods))
        for m in ms
    ]
    index = own_report.read_text(encoding="utf-8")
    proposed = get_method("rdlr_cww_dagger").label
    assert md_row(index, proposed, occurrence=1)[1:4] == ["**54.6 ± 5.9**", "**52.6 ± 5.9**", "**47.6 ± 5.9**"]
    assert markdown_table_of(folder / "main.md") in index  # the main table itself, inline
    assert "Selection: **validation**" in index and "95 % t-interval" in index
    assert "## Paired comparison: RDLR + CWW + † (proposed) vs each baseline" in index
    assert index.index("### IS10 + W2V (out-of-corpus)") < index.index("### IS10 (out-of-corpus)")  # spec order
    assert md_row(index, get_method("cww_dagger").label, occurrence=2)[0].startswith("+")  # its Δ vs CWW + †
    spec_yaml = index.split("```yaml\n")[1].split("```")[0]
    assert yaml.safe_load(spec_yaml) == {k: v for k, v in OWN_SPEC.items() if k != "resolved"}
    assert spec_yaml.startswith("id: mine\ndescription: four public corpora\nfeatures:\n- is10+w2v\n")
    for paper_only in (
        "Table 2",
        "Table 3",
        "not rendered",
        "left out",
        "paper_results.csv",
        "Beside the paper",
        "(paper: ",
        "json",
    ):
        assert paper_only not in index, paper_only
    main = (folder / "main.md").read_text(encoding="utf-8")
    assert "Beside the paper" not in main and "reference only" not in main and "left out" not in main
    assert md_row(main, get_method("lr").label) == ["", *["–"] * 5] and md_row(main, get_method("lr").label, 1)


def test_tabulate_draws_every_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every Markdown table and every LaTeX tabular of a report is tabulate's output (one path for tables)."""
    drawn: list[str] = []
    original = render.tabulate

    def recording(*args, **kwargs):
        drawn.append(original(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(render, "tabulate", recording)
    paper = render_report(make_results(), tmp_path / "paper", plots=False, spec={"spec_id": "table2"})
    own = render_report(make_results(spec_id="mine"), tmp_path / "own", plots=False, spec=dict(OWN_SPEC))
    markdown = [
        block
        for index in (paper, own)
        for path in index.parent.glob("*.md")
        for block in re.findall(r"(?m)(?:^\|.*\n)+", path.read_text(encoding="utf-8"))
    ]
    tabulars = [
        block
        for index in (paper, own)
        for path in index.parent.glob("*.tex")
        for block in re.findall(r"(?s)\\begin\{tabular\}.*?\\end\{tabular\}", path.read_text(encoding="utf-8"))
    ]
    assert len(markdown) >= 12 and len(tabulars) == 6  # table2, table3 (+ the paper beside each), other, main

    def bare(text: str) -> list[str]:  # a tabular's lines without indentation and without its \midrule lines
        return [line.strip() for line in text.splitlines() if line.strip() != r"\midrule"]

    assert all(block.rstrip("\n") in drawn for block in markdown)
    assert all(any(bare(block) == bare(text) for text in drawn) for block in tabulars)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_tables_compile(golden_report: Path, own_report: Path, tmp_path: Path) -> None:
    paper = golden_report.parent
    for tex in (paper / "table2.tex", paper / "table3.tex", own_report.parent / "main.tex"):
        document = tmp_path / f"{tex.stem}-doc.tex"
        document.write_text(
            "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
            f"\\input{{{tex}}}\n\\end{{document}}\n",
            encoding="utf-8",
        )
        done = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-2000:]


def test_latex_tables_are_ascii_outside_comments(golden_report: Path, own_report: Path) -> None:
    """What LaTeX reads (every line but the leading comment) is plain ASCII: specials escaped, no raw ± or †."""
    for tex in [*golden_report.parent.glob("*.tex"), *own_report.parent.glob("*.tex")]:
        body = [line for line in tex.read_text(encoding="utf-8").splitlines() if not line.startswith("%")]
        assert all(line.isascii() for line in body), tex.name


def markdown_table_of(path: Path) -> str:
    """The first Markdown table of a file, as text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


GOLDEN_FILES = (
    "table2.md",
    "table3.md",
    "other.md",
    "comparison.md",
    "selection.md",
    "metrics.md",
    "README.md",
    "table2.tex",
    "table2.csv",
)


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_outputs_match_goldens(golden_report: Path, name: str) -> None:
    produced = (golden_report.parent / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing; create it deliberately with RDLR_UPDATE_GOLDEN=1"
    assert produced == golden.read_text(encoding="utf-8")


def md_row(text: str, label: str, occurrence: int = 0) -> list[str]:
    """Cells of the ``occurrence``-th Markdown table row whose first cell is ``label``."""
    rows = [line for line in text.splitlines() if line.startswith(f"| {label} ")]
    return [cell.strip() for cell in rows[occurrence].strip("|").split("|")][1:]


def test_report_layout_and_index(golden_report: Path) -> None:
    folder = golden_report.parent
    assert golden_report.name == "README.md" and folder.name == "table2"
    for name in ("table2", "table3", "other"):
        for suffix in (".md", ".tex", ".csv"):
            assert (folder / f"{name}{suffix}").stat().st_size > 0
    index = golden_report.read_text(encoding="utf-8")
    assert "**Selection:** validation" in index and "**Seeds:** 3 (0, 1, 2)" in index
    assert f"**Trials:** {len(make_results())} finished trials" in index
    assert "[Table 2](table2.md)" in index and "[Paired comparison" in index
    table2 = (folder / "table2.md").read_text(encoding="utf-8")
    assert "validation selection" in table2 and "Demo corpora" not in table2
    shown = ["ce", "ce", "cww_dagger", "rdlr_cww_dagger"]  # within-corpus CE, then the out-of-corpus rows with results
    assert pd.read_csv(folder / "table2.csv")["method"].tolist() == shown
    assert "22 row(s) of the paper's layout without results are left out" in table2
    assert "(22 layout rows without results left out; `--all-rows`)" in index


def test_missing_cells_are_shown_as_missing(golden_report: Path, tmp_path: Path) -> None:
    table2 = (golden_report.parent / "table2.md").read_text(encoding="utf-8")
    assert "Soft label [17]" not in table2  # a row without any result is left out by default
    proposed = md_row(table2, get_method("rdlr_cww_dagger").label)
    assert proposed[4] == "–" and proposed[5] == "–"  # POD missing -> no Avg
    beside = md_row(table2, get_method("rdlr_cww_dagger").label, occurrence=1)
    assert beside[3] == "– / 38.8 / –" and beside[4] == "– / 48.4 / –"
    index = render_report(make_results(), tmp_path, plots=False, all_rows=True)  # the paper's full layout
    table2 = (index.parent / "table2.md").read_text(encoding="utf-8")
    assert md_row(table2, "Soft label [17]") == [""] + ["–"] * 5 and "left out" not in table2
    csv = pd.read_csv(index.parent / "table2.csv").set_index(["protocol", "method"])
    assert len(csv) == 26
    soft = csv.loc[("out_of_corpus", "soft")]
    assert math.isnan(soft["CRE_mean"]) and soft["CRE_paper"] == 52.7 and soft["CRE_configs"] == 0


def test_cells_mean_std_and_seed_marks(golden_report: Path) -> None:
    trials = selected_trials(make_results(), "validation")
    ce = trials[(trials["method"] == "ce") & (trials["features"] == "is10") & (trials["protocol"] == "out_of_corpus")]
    cre = ce.loc[ce["held_out"] == "CRE", "test_ua"]
    table2 = (golden_report.parent / "table2.md").read_text(encoding="utf-8")
    row = md_row(table2, get_method("ce").label)
    assert row[0] == "2"  # configurations compared
    low, high = stats.t.interval(0.95, len(cre) - 1, loc=100 * cre.mean(), scale=100 * stats.sem(cre))
    assert row[1].strip("*") == f"{100 * cre.mean():.1f} ± {(high - low) / 2:.1f}"  # mean ± 95 % t half-width
    csv = pd.read_csv(golden_report.parent / "table2.csv").set_index(["protocol", "method"])
    assert csv.loc[("out_of_corpus", "ce"), "CRE_std"] == pytest.approx(100 * cre.std(ddof=1), abs=1e-3)
    assert csv.loc[("out_of_corpus", "ce"), "CRE_ci95"] == pytest.approx((high - low) / 2, abs=1e-3)
    means = [ce.loc[ce["held_out"] == c, "test_ua"].mean() for c in CORPORA]
    assert row[5].split(" ± ")[0].strip("*") == f"{100 * np.mean(means):.1f}"
    cww = md_row(table2, get_method("cww_dagger").label)
    assert cww[3].endswith("(n=2)")
    assert md_row(table2, WITHIN_LABEL)[1].startswith("65.")  # within-corpus row from its own protocol
    assert "95 % Student-t interval" in table2


def test_best_per_column_is_marked_among_out_of_corpus_rows(golden_report: Path) -> None:
    csv = pd.read_csv(golden_report.parent / "table2.csv")
    out = csv[csv["protocol"] == "out_of_corpus"]
    for column in ("CRE", "IEM", "IMP", "POD", AVG):
        values = out[f"{column}_mean"].round(1)
        expected = set(out.loc[values == values.max(), "method"])
        assert set(out.loc[out[f"{column}_best"], "method"]) == expected, column
    assert not csv.loc[csv["protocol"] == "within_corpus", [f"{c}_best" for c in CORPORA]].any().any()
    table2 = (golden_report.parent / "table2.md").read_text(encoding="utf-8")
    assert md_row(table2, get_method("rdlr_cww_dagger").label)[1].startswith("**")


def test_best_marks_ties_at_shown_precision() -> None:
    rows = [RowSpec("is10", "out_of_corpus", m, m) for m in ("a", "b", "c")]
    trials = pd.DataFrame(
        {
            "features": "is10",
            "protocol": "out_of_corpus",
            "method": ["a", "b", "c"],
            "held_out": "CRE",
            "seed": 0,
            "test_ua": [0.5001, 0.4996, 0.4990],
        }
    )
    table = build_table("t", "t", rows, trials, ["CRE"])
    assert [table.cell(r, "CRE").best for r in rows] == [True, True, False]


def test_avg_needs_all_four_corpora() -> None:
    rows = [RowSpec("is10", "out_of_corpus", "m", "m")]
    frame = pd.DataFrame(
        {
            "features": "is10",
            "protocol": "out_of_corpus",
            "method": "m",
            "held_out": list(CORPORA) * 2,
            "seed": [0] * 4 + [1] * 4,
            "test_ua": [0.5, 0.6, 0.4, 0.3, 0.52, 0.58, 0.44, 0.3],
        }
    )
    full = build_table("t", "t", rows, frame, list(CORPORA)).cell(rows[0], AVG)
    assert full.mean == pytest.approx(np.mean([51, 59, 42, 30]))
    per_seed = [np.mean([50, 60, 40, 30]), np.mean([52, 58, 44, 30])]
    assert full.std == pytest.approx(np.std(per_seed, ddof=1))
    assert full.half_width == pytest.approx(stats.t.ppf(0.975, 1) * stats.sem(per_seed))
    three = frame[frame["held_out"] != "POD"]
    assert build_table("t", "t", rows, three, ["CRE", "IEM", "IMP"]).cell(rows[0], AVG).missing
    assert build_table("t", "t", rows, three, list(CORPORA)).cell(rows[0], AVG).missing
    own = frame.assign(held_out=frame["held_out"].map({"CRE": "A", "IEM": "B", "IMP": "C", "POD": "D"}))
    assert build_table("t", "t", rows, own, ["A", "B"]).cell(rows[0], AVG).mean == pytest.approx(55.0)


def test_paired_test_matches_scipy() -> None:
    a = pd.Series([0.50, 0.60, 0.55, 0.58], index=[0, 1, 2, 3])
    b = pd.Series([0.45, 0.58, 0.50, 0.40], index=[0, 1, 2, 4])  # seed 3 / 4 unpaired
    result = paired_test(a, b)
    expected = stats.ttest_rel([0.50, 0.60, 0.55], [0.45, 0.58, 0.50])
    assert result.n == 3
    assert result.pvalue == pytest.approx(expected.pvalue) and result.statistic == pytest.approx(expected.statistic)
    assert result.diff == pytest.approx(100 * np.mean([0.05, 0.02, 0.05]))
    low, high = stats.t.interval(0.95, 2, loc=result.diff, scale=stats.sem([5.0, 2.0, 5.0]))
    assert result.half_width == pytest.approx((high - low) / 2)
    assert format_pair(result.n, result.diff, result.pvalue) == f"+4.0 (p={expected.pvalue:.3f}, n=3)"
    assert format_pair(3, result.diff, result.pvalue, result.half_width) == (
        f"+4.0 ± {(high - low) / 2:.1f} (p={expected.pvalue:.3f}, n=3)"
    )
    single = paired_test(a.iloc[:1], b.iloc[:1])
    assert single.n == 1 and math.isnan(single.pvalue)
    assert format_pair(single.n, single.diff, single.pvalue) == "+5.0 (p=n/a, n=1)"
    constant = paired_test(pd.Series([0.5, 0.6]), pd.Series([0.4, 0.5]))
    assert math.isnan(constant.pvalue) and constant.diff == pytest.approx(10.0)
    assert paired_test(a, pd.Series([0.1], index=[9])).n == 0
    assert format_pair(0, math.nan, math.nan) == "–"
    assert format_pair(5, 1.0, 1e-5) == "+1.0 (p<0.001, n=5)"


def test_comparison_table_pairs_selected_trials(golden_report: Path) -> None:
    results = make_results()
    trials = selected_trials(results, "validation")
    labels = {r.key: r.label for r in table2_rows() + table3_rows()}
    comparison = compare_methods(trials, list(CORPORA), labels, "rdlr_cww_dagger")
    got = comparison.set_index(["features", "baseline", "column"])
    is10 = trials[(trials["features"] == "is10") & (trials["protocol"] == "out_of_corpus")]

    def ua(method: str, corpus: str) -> pd.Series:
        rows = is10[(is10["method"] == method) & (is10["held_out"] == corpus)]
        return rows.set_index("seed")["test_ua"]

    expected = stats.ttest_rel(ua("rdlr_cww_dagger", "IEM"), ua("ce", "IEM"))
    assert got.loc[("is10", "ce", "IEM"), "p"] == pytest.approx(expected.pvalue)
    assert got.loc[("is10", "cww_dagger", "IMP"), "n"] == 2
    assert got.loc[("is10", "ce", "POD"), "n"] == 0  # proposed missing on POD
    assert list(dict.fromkeys(comparison.loc[comparison["features"] == "is10", "baseline"])) == [
        "ce",
        "cww_dagger",
        "rd+lr+cww",
    ]  # layout order, then other methods
    assert set(comparison["features"]) == {"is10", "is10+w2v"}
    text = (golden_report.parent / "comparison.md").read_text(encoding="utf-8")
    assert f"(p={expected.pvalue:.3f}, n=3)" in md_row(text, get_method("ce").label)[1]


def test_selection_protocol_changes_the_numbers(tmp_path: Path) -> None:
    results = make_results()
    val = render_report(results, tmp_path, selection="validation", plots=False)
    paper = render_report(results, tmp_path, selection="paper", plots=False)
    assert paper.parent == val.parent / "paper-selection"
    v = pd.read_csv(val.parent / "table2.csv").set_index(["protocol", "method"])
    p = pd.read_csv(paper.parent / "table2.csv").set_index(["protocol", "method"])
    key = ("out_of_corpus", "ce")
    assert p.loc[key, "CRE_mean"] - v.loc[key, "CRE_mean"] == pytest.approx(1.5)  # c2: +0.015 test UA
    assert "paper's protocol (test-set selection)" in (paper.parent / "table2.md").read_text(encoding="utf-8")
    assert "**Selection:** paper" in paper.read_text(encoding="utf-8")
    chosen = pd.read_csv(val.parent / "selection.csv")
    assert set(chosen["validation_config_id"]) == {"c1"} and set(chosen["paper_config_id"]) == {"c2"}


def test_demo_corpora_are_mapped_and_flagged(tmp_path: Path) -> None:
    demo = tuple(f"{c}-demo" for c in ("POD", "CRE", "IMP", "IEM"))
    index = render_report(make_results(demo, "table2-demo"), tmp_path, plots=False)  # the paper's spec on the demo
    table2 = (index.parent / "table2.md").read_text(encoding="utf-8")
    header = next(line for line in table2.splitlines() if line.startswith("| Method"))
    assert re.findall(r"(\w+-demo) \(paper: (\w+)\)", header) == [(f"{c}-demo", c) for c in CORPORA]
    assert "synthetic stand-ins" in table2 and "only as a reference" in table2
    assert "## The paper's numbers (reference only)" in table2 and "Beside the paper" not in table2
    assert md_row(table2, get_method("ce").label, occurrence=1) == ["51.6", "50.1", "38.9", "31.9", "43.1"]
    csv = pd.read_csv(index.parent / "table2.csv").set_index(["protocol", "method"])
    ce = csv.loc[("out_of_corpus", "ce")]
    assert ce["CRE-demo_paper"] == 51.6 and math.isnan(ce["CRE-demo_diff"]) and math.isnan(ce["Avg_diff"])
    reference_tex = (index.parent / "table2.tex").read_text(encoding="utf-8").split("reference only")[1]
    assert re.search(r"&\s+51\.6\s+&", reference_tex)
    assert not re.search(r"\$[+-]\d", reference_tex)  # no difference column
    assert "synthetic stand-ins" in index.read_text(encoding="utf-8")


def test_own_corpora_keep_spec_order_and_blank_paper(tmp_path: Path) -> None:
    results = make_results(("ZED", "ALPHA", "MID", "BETA"), "table2-own")
    index = render_report(results, tmp_path, spec={"spec_id": "table2-own", "held_out": ["MID", "ZED"]}, plots=False)
    csv = pd.read_csv(index.parent / "table2.csv")
    assert [c[:-5] for c in csv.columns if c.endswith("_mean")] == ["MID", "ZED", "ALPHA", "BETA", AVG]
    assert csv["MID_paper"].isna().all() and csv["Avg_paper"].isna().all()
    assert (csv["Avg_mean"].dropna() > 0).sum() == 3  # within CE, CE, CWW + † have all four corpora
    table2 = (index.parent / "table2.md").read_text(encoding="utf-8")
    assert "no published numbers" in table2
    assert "Beside the paper" not in table2 and "reference only" not in table2 and "printed Avg" not in table2
    assert (index.parent / "table2.tex").read_text(encoding="utf-8").count(r"\begin{tabular}") == 1
    assert order_corpora(["X", "POD-demo", "CRE", "Y"], ["Y"]) == ["CRE", "POD-demo", "Y", "X"]


def test_tables_without_results_are_not_rendered(tmp_path: Path) -> None:
    results = make_results()
    only_is10 = results[results["features"] == "is10"]
    index = render_report(only_is10, tmp_path, plots=False)
    assert not (index.parent / "table3.md").exists()
    assert "Table 3: not rendered" in index.read_text(encoding="utf-8")
    only_layout = only_is10[only_is10["method"] != "rd+lr+cww"]
    index = render_report(only_layout, tmp_path, plots=False)
    assert not (index.parent / "other.md").exists()  # stale file of the earlier run removed
    only_ce = only_layout[only_layout["method"] == "ce"]
    index = render_report(only_ce, tmp_path, plots=False)
    assert "No comparison" in (index.parent / "comparison.md").read_text(encoding="utf-8")


def test_class_metrics_page_when_the_results_carry_them(golden_report: Path, tmp_path: Path) -> None:
    metrics = pd.read_csv(golden_report.parent / "metrics.csv")
    trials = selected_trials(make_results(), "validation")
    ce = trials[
        (trials["method"] == "ce")
        & (trials["protocol"] == "out_of_corpus")
        & (trials["held_out"] == "IEM")
        & (trials["features"] == "is10")
    ]
    row = metrics[
        (metrics["method"] == "ce")
        & (metrics["protocol"] == "out_of_corpus")
        & (metrics["held_out"] == "IEM")
        & (metrics["features"] == "is10")
    ].iloc[0]
    assert row["test_f1_mean"] == pytest.approx(100 * ce["test_f1"].mean(), abs=1e-3)
    assert row["test_recall/sad_mean"] == pytest.approx(100 * ce["test_recall/sad"].mean(), abs=1e-3)
    assert row["n_seeds"] == 3 and "Macro-F1" in (golden_report.parent / "metrics.md").read_text(encoding="utf-8")
    older = make_results().drop(columns=["test_f1", *(f"test_recall/{c}" for c in CLASSES)])
    index = render_report(older, tmp_path, plots=False)
    assert not (index.parent / "metrics.md").exists()
    assert "Macro-F1 and per-class recall: not in the results" in index.read_text(encoding="utf-8")


def test_malformed_results_raise_clear_errors(tmp_path: Path) -> None:
    results = make_results()
    with pytest.raises(ValueError, match=r"missing required column\(s\) seed, test_ua"):
        render_report(results.drop(columns=["seed", "test_ua"]), tmp_path)
    with pytest.raises(ValueError, match="unknown selection 'best'"):
        render_report(results, tmp_path, selection="best")
    with pytest.raises(ValueError, match="spec id 'other' not in the results"):
        render_report(results, tmp_path, spec={"spec_id": "other"})
    with pytest.raises(ValueError, match="results of several specs"):
        render_report(pd.concat([results, results.assign(spec_id="b")]), tmp_path)
    with pytest.raises(ValueError, match="no spec_id column and no spec given"):
        render_report(results.drop(columns=["spec_id"]), tmp_path)
    bad = results.assign(confusion="[[1, 2], [3, 4]]")
    with pytest.raises(ValueError, match=r"trial t100c1 \(is10, ce, held-out CRE, seed 0\): confusion must be a 4x4"):
        render_report(bad, tmp_path)
    with pytest.raises(ValueError, match="confusion is not a JSON"):
        parse_confusion("not json", "here")


def test_cli_renders_and_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = tmp_path / "storage"
    (storage / "table2").mkdir(parents=True)
    make_results().to_csv(storage / "table2" / "results.csv", index=False)
    (storage / "table2" / "spec.json").write_text(json.dumps({"spec_id": "table2", "held_out": list(CORPORA)}))
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert run(parser.parse_args([str(storage), "--out", str(tmp_path / "rep"), "--no-plots"])) == 0
    index = tmp_path / "rep" / "table2" / "README.md"
    assert str(index) in capsys.readouterr().out
    assert "```yaml\nspec_id: table2\nheld_out:\n- CRE\n" in index.read_text(encoding="utf-8")  # the spec beside it
    assert len(pd.read_csv(index.parent / "table2.csv")) == 4
    assert run(parser.parse_args([str(storage), "--out", str(tmp_path / "rep"), "--no-plots", "--all-rows"])) == 0
    assert len(pd.read_csv(index.parent / "table2.csv")) == 26  # the paper's full layout
    assert run(parser.parse_args([str(storage), "--spec-id", "nope", "--out", str(tmp_path)])) == 2
    assert "no results.csv for spec 'nope'" in capsys.readouterr().err
    (storage / "second").mkdir()
    (storage / "second" / "results.csv").write_text("x\n1\n")
    with pytest.raises(ValueError, match=r"several specs \(second, table2\); pick one with --spec-id"):
        locate_results(str(storage), None)
    assert run(parser.parse_args([str(storage), "--spec-id", "second", "--out", str(tmp_path)])) == 2
    assert "missing required column(s) features" in capsys.readouterr().err
    with pytest.raises(ValueError, match="pass --spec-id for a remote storage path"):
        locate_results("s3://bucket/runs", None)
    assert locate_results("s3://bucket/runs/", "x") == "s3://bucket/runs/x/results.csv"


def test_cli_selection_defaults_to_the_specs_headline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = tmp_path / "storage"
    (storage / "golden").mkdir(parents=True)
    make_results(spec_id="golden").to_csv(storage / "golden" / "results.csv", index=False)
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    arguments = [str(storage), "--out", str(tmp_path / "rep"), "--no-plots"]
    for spec, expected in (
        ({"spec_id": "golden"}, "validation"),
        ({"spec_id": "golden", "headline": "paper"}, "paper"),
    ):
        (storage / "golden" / "spec.json").write_text(json.dumps(spec))
        assert run(parser.parse_args(arguments)) == 0
        assert f"report ({expected} selection)" in capsys.readouterr().out
    assert run(parser.parse_args([*arguments, "--selection", "validation"])) == 0
    assert "report (validation selection)" in capsys.readouterr().out


def test_report_input_prefers_the_spec_file_beside_the_results(tmp_path: Path) -> None:
    folder = tmp_path / "storage" / "golden"
    folder.mkdir(parents=True)
    make_results().to_csv(folder / "results.csv", index=False)
    assert report_input(str(tmp_path / "storage"), "golden") == (str(folder / "results.csv"), {"spec_id": "golden"})
    (folder / "spec.yaml").write_text("spec_id: golden\nheld_out: [CRE, IEM]\n")
    spec = {"spec_id": "golden", "held_out": ["CRE", "IEM"]}
    assert report_input(str(tmp_path / "storage"), "golden") == (str(folder / "results.csv"), spec)
    (folder / "spec.yaml").write_text("- not a mapping\n")
    with pytest.raises(ValueError, match=r"spec.yaml: a sweep spec must be a mapping, got list"):
        report_input(str(folder), None)


def test_report_files_are_written_whole(golden_report: Path) -> None:
    written = sorted(p.name for p in golden_report.parent.iterdir() if p.is_file())
    assert not [name for name in written if name.startswith(".")]  # no temporary file left behind
    assert written == sorted(
        [
            *(f"{t}{s}" for t in ("table2", "table3", "other") for s in (".md", ".tex", ".csv")),
            "comparison.md",
            "comparison.csv",
            "selection.md",
            "selection.csv",
            "metrics.md",
            "metrics.csv",
            "README.md",
        ]
    )


def test_latex_escapes_and_marks_best(golden_report: Path) -> None:
    assert latex_escape("CWW + † 50% a_b #1 & {x}") == r"CWW + $\dagger$ 50\% a\_b \#1 \& \{x\}"
    tex = (golden_report.parent / "table2.tex").read_text(encoding="utf-8")
    proposed = next(line for line in tex.splitlines() if r"RDLR + CWW + $\dagger$ (proposed)" in line)
    assert [cell.strip() for cell in proposed.split("&")][1:3] == ["2", r"$\mathbf{54.6 \pm 5.9}$"]
    assert tex.count(r"\begin{tabular}") == 2 and r"\toprule" in tex and r"\bottomrule" in tex


def test_pipe_table_pads_and_aligns() -> None:
    assert pipe_table(["a", "bb"], [["xxxx", "1"]], ["l", "r"]) == (
        "| a    |   bb |\n|:-----|-----:|\n| xxxx |    1 |\n"
    )
    assert pipe_table(["x"], [["007"]], ["r"]).splitlines()[-1] == "| 007 |"  # text as given, never parsed


def test_latex_tabular_is_booktabs_with_rules_between_blocks() -> None:
    text = latex_tabular(["a", "b"], [["x", r"$\mathbf{1}$"], ["y", "2"], ["z", "3"]], ["l", "c"], rules_before=[2])
    lines = [line.strip() for line in text.splitlines()]
    assert lines[:2] == [r"\begin{tabular}{lc}", r"\toprule"] and lines[-2:] == [r"\bottomrule", r"\end{tabular}"]
    assert lines.index(r"\midrule", 4) == 6 and lines[5].startswith("y") and lines[7].startswith("z")
    assert lines[4].replace(" ", "") == r"x&$\mathbf{1}$\\"


def test_row_labels_come_from_the_method_registry() -> None:
    rows = table2_rows()
    assert len(rows) == 26 and rows[0].label == WITHIN_LABEL and rows[0].protocol == "within_corpus"
    assert [r.label for r in rows[1:]] == [get_method(m).label for m in TABLE2_METHODS]
    rows3 = table3_rows()
    assert len(rows3) == 22 and [r.features for r in rows3[2:]] == [f for f in TABLE3_FEATURES for _ in range(10)]
    assert [r.method for r in rows3[2:12]] == ["ce", *TABLE3_METHODS]


def test_table3_opens_with_the_papers_is10_block(golden_report: Path) -> None:
    """Table 3 prints an IS10 block (within-corpus CE, RDLR + CWW + †) above the two W2V blocks, the paper's numbers
    beside."""
    assert [(r.block, r.key) for r in table3_rows()[:3]] == [
        ("IS10", ("is10", "within_corpus", "ce")),
        ("IS10", ("is10", "out_of_corpus", "rdlr_cww_dagger")),
        ("IS10 + W2V", ("is10+w2v", "within_corpus", "ce")),
    ]
    folder = golden_report.parent
    text = (folder / "table3.md").read_text(encoding="utf-8")
    lines = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    first = lines.index("*IS10*")
    assert lines[first : first + 4] == ["*IS10*", WITHIN_LABEL, "RDLR + CWW + † (proposed)", "*IS10 + W2V*"]
    assert md_row(text, WITHIN_LABEL, 1)[0] == "65.2 / 66.0 / -0.8"  # beside the paper: ours / paper / difference
    assert md_row(text, "RDLR + CWW + † (proposed)", 2)[-1] == "– / 48.4 / –"
    body = (folder / "table3.tex").read_text(encoding="utf-8").split("\\midrule", 1)[1]
    assert body.index("IS10}") < body.index("Within-single-corpus") < body.index("IS10 + W2V")


def test_labels_of_methods_outside_the_registry_are_their_ids() -> None:
    assert method_label("rdlr_cww_dagger") == "RDLR + CWW + † (proposed)"
    assert method_label("not_a_method") == "not_a_method"
    assert row_label(WITHIN_CORPUS, "ce") == WITHIN_LABEL
    assert row_label(OUT_OF_CORPUS, "ce") == get_method("ce").label


def test_paper_numbers_file_has_every_row() -> None:
    paper = load_paper_results()
    t2, t3 = paper[paper["table"] == 2], paper[paper["table"] == 3]
    assert len(t2) == 26 and len(t3) == 22
    assert [(r.protocol, r.method) for r in t2.itertuples()] == [("within_corpus", "ce")] + [
        ("out_of_corpus", m) for m in TABLE2_METHODS
    ]
    keys3 = set(zip(t3["features"], t3["protocol"], t3["method"]))
    assert [r.key for r in table3_rows()] == sorted(keys3, key=[r.key for r in table3_rows()].index)
    assert not paper.duplicated(["table", "features", "protocol", "method"]).any()
    assert paper[list(PAPER_CORPORA) + [AVG]].notna().all().all()


def test_paper_avg_column_is_consistent() -> None:
    paper = load_paper_results()
    gap = (paper[list(PAPER_CORPORA)].mean(axis=1) - paper[AVG]).abs()
    odd = {tuple(r) for r in paper.loc[gap > 0.1 + 1e-9, ["table", "features", "protocol", "method"]].to_numpy()}
    assert odd == set(PAPER_INCONSISTENT_AVG)  # two rows as printed in the paper; every other within rounding


def test_paper_numbers_copies_are_identical() -> None:
    assert (REPO / "reports" / "paper_results.csv").read_bytes() == PAPER_RESULTS_PATH.read_bytes()


@pytest.mark.skipif(not PAPER_MD.is_file(), reason=f"paper text not found at {PAPER_MD}")
def test_paper_numbers_match_the_paper_text() -> None:
    lines = PAPER_MD.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("**Table 2.**"))
    printed = [
        [float(re.sub(r"<[^>]+>", "", x)) for x in line.split("\t")[1:]]
        for line in lines[start:]
        if line.count("\t") == 5 and not line.startswith("Method")
    ]
    ours = load_paper_results()[list(PAPER_CORPORA) + [AVG]].to_numpy().tolist()
    assert printed == ours


def test_titles_follow_the_spec_paper_titles_only_for_the_paper_specs(own_report: Path, tmp_path: Path) -> None:
    """A spec of one's own gets titles and captions from its description, never "Table 2"; LaTeX captions never
    start "Table N —" (``\\caption`` numbers the table itself); the paper's spec keeps the paper's title."""
    titles = [
        line
        for path in own_report.parent.glob("*.md")
        for line in path.read_text().splitlines()
        if line.startswith("#")
    ]
    captions = [
        line
        for path in own_report.parent.glob("*.tex")
        for line in path.read_text().splitlines()
        if "\\caption" in line
    ]
    assert titles and captions
    assert not [line for line in titles + captions if "Table 2" in line or "Table 3" in line]
    table_titles = [line for line in titles + captions if "UA (" in line]
    assert len(table_titles) == 3 and all("four public corpora" in line for line in table_titles)
    paper = render_report(
        make_results(spec_id="table2"), tmp_path / "paper", plots=False, spec={"spec_id": "table2", "seeds": [0, 1, 2]}
    )
    text = (paper.parent / "table2.md").read_text()
    assert text.startswith("# Table 2 — UA (%) with IS10 input features")
    assert "\\caption{UA (\\%) with IS10" in (paper.parent / "table2.tex").read_text()
    assert "## Table 2 — UA (%) with IS10 input features" in paper.read_text()  # the index shows it inline


def test_report_shows_the_spec_file_as_the_user_wrote_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rdlr.spec.core import load_spec
    from rdlr.sweep.files import SweepFiles

    text = load_spec("demo").source_text.replace("id: demo", "id: mine  # my own corpora, commented ```", 1)
    (tmp_path / "mine.yaml").write_text(text)
    spec = load_spec(tmp_path / "mine.yaml")
    assert spec.source_text == text and "source_text" not in spec.to_dict()
    storage = tmp_path / "storage"
    SweepFiles(storage, "mine").check_and_save_spec(spec, {})
    assert (storage / "mine" / "spec.given.yaml").read_text() == text
    make_results(spec_id="mine").to_csv(storage / "mine" / "results.csv", index=False)
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert run(parser.parse_args([str(storage), "--out", str(tmp_path / "rep"), "--no-plots"])) == 0
    index = (tmp_path / "rep" / "mine" / "README.md").read_text(encoding="utf-8")
    assert "id: mine  # my own corpora, commented ```" in index and "````yaml" in index
