"""A sweep listing every normalisation runs each end to end on Ray (rows per normalisation, speaker counts, the
report's blocks), and a sweep of ``train`` alone resumes from a results table written before the column existed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rdlr.report.build import render_report
from rdlr.results import RESULTS_FILE, read_results
from rdlr.spec.core import SweepSpec
from rdlr.sweep.driver import run_sweep
from tests.helpers.specs import demo_raw
from tests.helpers.synthetic import demo_table

RAW = demo_raw(
    "norms",
    seeds=[0, 1],
    search={"configs": 1, "space": {"batch_size": [32]}},
    training={"max_epochs": 2, "patience": 2},
    normalization=["train", "corpus", "speaker"],
)


def table() -> tuple[Any, pd.DataFrame]:
    return demo_table(48, unlabeled=24, speakers=3)


def test_every_normalisation_runs_end_to_end_and_the_report_shows_each(ray_session, tmp_path):
    spec = SweepSpec.from_dict(RAW)
    outcome = run_sweep(spec, {"is10": table()}, tmp_path / "runs", log=lambda line: None)
    assert outcome.ok, outcome.errors
    results = read_results(outcome.results_uri)
    assert results.groupby("normalization")["seed"].count().to_dict() == {"corpus": 2, "speaker": 2, "train": 2}
    speaker = results[results["normalization"] == "speaker"].iloc[0]
    assert speaker["norm_speakers"] + speaker["norm_fallback_speakers"] > 0
    assert results[results["normalization"] != "speaker"]["norm_speakers"].isna().all()
    folder = render_report(outcome.results_uri, tmp_path / "reports", spec=spec.to_dict(), plots=False).parent
    assert {"main.md", "main-corpus.md", "main-speaker.md", "normalization.md"} <= {p.name for p in folder.iterdir()}
    # a sweep of train alone, its results table rewritten as before the column existed: resumes, trains nothing
    plain = SweepSpec.from_dict({k: v for k, v in RAW.items() if k != "normalization"} | {"id": "plain"})
    first = run_sweep(plain, {"is10": table()}, tmp_path / "old", log=lambda line: None)
    path = tmp_path / "old" / "plain" / RESULTS_FILE
    pd.read_csv(path).drop(columns="normalization").to_csv(path, index=False)
    again = run_sweep(plain, {"is10": table()}, tmp_path / "old", log=lambda line: None)
    assert first.new_rows == 2 and again.new_rows == 0 and again.rows == 2
