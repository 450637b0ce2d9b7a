"""An interrupted report leaves the previous one whole: the report is rendered into a hidden folder and swapped in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import rdlr.report.build as build
from rdlr.report.build import render_report


def tiny_results(shift: float = 0.0) -> pd.DataFrame:
    rows = []
    for protocol, method, ua in (
        ("within_corpus", "ce", 0.6),
        ("out_of_corpus", "ce", 0.45),
        ("out_of_corpus", "rd+lr+cww", 0.5),
    ):
        for corpus in ("CRE", "IEM"):
            for seed in (0, 1):
                rows.append(
                    {
                        "spec_id": "swap",
                        "protocol": protocol,
                        "features": "is10",
                        "method": method,
                        "held_out": corpus,
                        "seed": seed,
                        "config_id": "c1",
                        "hparams": json.dumps({}),
                        "val_ua": ua + shift + 0.01 * seed,
                        "test_ua": ua + shift + 0.02 * seed,
                        "trial_id": f"{method}{corpus}{seed}",
                    }
                )
    return pd.DataFrame(rows)


def broken_links(index: Path) -> list[str]:
    targets = re.findall(r"\]\(([^)#:]+)\)", index.read_text())
    return [t for t in targets if not (index.parent / t).exists()]


def test_an_interrupted_report_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    index = render_report(tiny_results(), tmp_path, plots=False)
    paper = render_report(tiny_results(), tmp_path, selection="paper", plots=False)
    before = index.read_text()
    assert not broken_links(index) and "main.md" in before  # a spec of its own: one table in its order

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_tables", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render_report(tiny_results(0.1), tmp_path, plots=False)
    assert index.read_text() == before and not broken_links(index)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swap"]  # no half-rendered folder left
    monkeypatch.undo()

    (tmp_path / ".swap.new-0000").mkdir()  # what a render killed mid-way leaves behind
    index = render_report(tiny_results(0.1).query("method == 'ce'"), tmp_path, plots=False)
    assert index.read_text() != before and not broken_links(index)
    assert not (index.parent / "other.md").exists()  # no stale table of the earlier results
    assert paper.is_file() and not broken_links(paper)  # the paper-selection report stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swap"]
