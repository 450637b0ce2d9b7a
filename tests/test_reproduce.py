"""``rdlr reproduce``: prepare + extract + sweep + report for real, on a tiny manifest corpus, and its resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rdlr.cli import build_parser
from rdlr.sweep.files import SweepFiles
from tests.helpers.reproduce_cli import reproduce, tone_run
from tests.helpers.tone_corpus import tone_raw

SPEC = tone_raw("tinyrepro")


@pytest.fixture(scope="module")
def tiny_run(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("repro")
    argv = tone_run(root, SPEC)
    return {"root": root, "argv": argv, "status": reproduce(*argv)}


def test_reproduce_runs_every_stage(tiny_run: dict[str, Any]) -> None:
    root = tiny_run["root"]
    assert tiny_run["status"] == 0
    assert list((root / "runs" / "features" / "is10").rglob("part-*.parquet"))  # extracted into the store
    results = pd.read_csv(root / "runs" / "tinyrepro" / "results.csv")
    assert len(results) == 1 and results.loc[0, "held_out"] == "A" and results.loc[0, "method"] == "ce"
    report = root / "reports" / "tinyrepro"
    assert (report / "README.md").is_file() and (report / "paper-selection" / "README.md").is_file()
    assert "Out-of-corpus (CE)" in "\n".join(p.read_text() for p in report.glob("*.md"))


def test_rerun_resumes_without_recomputing(tiny_run: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    files = SweepFiles(tiny_run["root"] / "runs", "tinyrepro")
    before = files.attempts()
    assert reproduce(*tiny_run["argv"]) == 0
    assert files.attempts() == before
    assert "1/1 trials in the results (0 new" in capsys.readouterr().out


def test_reproduce_needs_a_spec_or_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert reproduce() == 2
    assert "give a sweep spec (e.g. sweeps/table2.yaml) or --demo" in capsys.readouterr().err
    assert reproduce("table2", "--demo") == 2
    assert "--demo runs a spec with data.source 'demo'; 'table2' has 'real'" in capsys.readouterr().err


def test_sweep_cli_reports_missing_features(
    ray_session: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["sweep", "demo", "--storage", str(tmp_path)])
    assert args._run(args) == 2
    err = capsys.readouterr().err
    assert "has no feature set 'is10'" in err and "rdlr reproduce demo" in err
