"""Ray Tune execution (rdlr.sweep.driver, .trial, .collector): a real tiny sweep on 2 CPUs, interrupted and resumed,
plus its pure parts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from rdlr.io.storage import Storage
from rdlr.results import config_id, read_results, results_frame, trial_key
from rdlr.spec.core import ResourcesSpec, SweepSpec
from rdlr.spec.sections import DEMO_LABELED, DEMO_UNLABELED
from rdlr.sweep.collector import ResultSink
from rdlr.sweep.driver import SweepError, run_sweep
from rdlr.sweep.files import RESOLVED_KEY, SweepFiles
from rdlr.sweep.resources import plan_resources, trials_per_job, tuners_at_once
from rdlr.sweep.summary import outcome_text
from rdlr.sweep.trial import split_config
from tests.helpers.synthetic import synthetic_table as shared_synthetic_table

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_ID = "007"  # YAML and pandas would read it as the number 7: it must stay text through results.csv and resume
SPEC_RAW: dict[str, Any] = {
    "id": SPEC_ID,
    "data": {"source": "demo"},
    "features": ["is10"],
    "held_out": ["CRE-demo"],
    "unlabeled": DEMO_UNLABELED,
    "protocols": {"within_corpus": ["ce"], "out_of_corpus": ["ce", "lr"]},
    "seeds": [0, 1],
    "search": {"configs": 2, "space": {"batch_size": [32, 64]}},
    "training": {"max_epochs": 2, "patience": 2},
}
PLANNED = 3 * 2 * 2  # 3 jobs (within ce, ce, lr on CRE-demo) × 2 configurations × 2 seeds


def synthetic_table() -> tuple[np.ndarray, pd.DataFrame]:
    """The suite's synthetic features (tests/helpers/synthetic.py), small, with the demo corpora's names."""
    return shared_synthetic_table(
        rows_per_corpus=48, dim=12, unlabeled=24, corpora=DEMO_LABELED, unlabeled_corpus=DEMO_UNLABELED, speakers=6
    )


def spec() -> SweepSpec:
    return SweepSpec.from_dict(SPEC_RAW)


SUBPROCESS = """
import ray
from tests.sweep.test_driver import spec, synthetic_table
from rdlr.sweep.driver import run_sweep
ray.init(address={address!r}, log_to_driver=False)
run_sweep(spec(), {{"is10": synthetic_table()}}, {storage!r})
"""


def run_until_killed(code: str, files: SweepFiles, rows: int) -> str:
    """Run a sweep in another process and SIGKILL it once ``rows`` trials have finished; its stderr."""
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and len(files.dir.list("trials")) < rows:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    _, stderr = process.communicate()
    time.sleep(2)  # the killed driver's trial actors are being shut down by Ray
    return stderr.decode()


@pytest.fixture(scope="module")
def resumed(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A sweep started in another process and killed after a few trials, resumed in another process and killed
    again a few trials later, then resumed here to the end."""
    storage = tmp_path_factory.mktemp("sweep") / "runs"
    files = SweepFiles(storage, SPEC_ID)
    address = ray_session.get_runtime_context().gcs_address
    code = SUBPROCESS.format(address=address, storage=str(storage))
    kills, stderr = [], ""
    for more in (3, 2):  # killed after 3 finished trials, resumed and killed again 2 trials later
        target = len(files.dir.list("trials")) + more
        stderr = run_until_killed(code, files, rows=target)
        finished = {name.removesuffix(".json") for name in files.dir.list("trials")}
        assert target <= len(finished) < PLANNED, stderr[-3000:]
        kills.append((finished, files.attempts()))
    lines: list[str] = []
    x, meta = synthetic_table()  # resumed with the matrix already in the object store (as `rdlr sweep` passes it)
    outcome = run_sweep(spec(), {"is10": (ray_session.put(x), meta)}, storage, log=lines.append)
    return {
        "storage": storage,
        "files": files,
        "kills": kills,
        "outcome": outcome,
        "lines": lines,
        "resumed_stderr": stderr,
    }


def test_resume_recomputes_no_finished_trial(resumed: dict[str, Any]) -> None:
    after = resumed["files"].attempts()
    for finished, before in resumed["kills"]:  # trials running at a kill run again; finished ones never do
        rerun = {key for key in after if after.count(key) > before.count(key)}
        assert rerun, "the resumed sweep ran nothing"
        assert not rerun & finished, "a trial finished before the interruption was executed again"


def test_results_have_one_row_per_trial(resumed: dict[str, Any]) -> None:
    outcome = resumed["outcome"]
    assert outcome.ok, outcome.errors
    assert outcome.rows == outcome.planned == PLANNED
    results = read_results(outcome.results_uri)
    assert len(results) == PLANNED and set(results["spec_id"]) == {SPEC_ID}
    assert not results.duplicated(["protocol", "method", "held_out", "config_id", "seed"]).any()
    assert set(results["seed"]) == {0, 1}
    assert results.groupby(["protocol", "method", "config_id"])["seed"].nunique().eq(2).all()
    budgets = {(job.protocol, job.method): job.configs for job in spec().jobs()}  # lr: 2 of 14 by TPE
    assert results.groupby(["protocol", "method"])["config_id"].nunique().to_dict() == budgets  # all distinct
    assert results[["val_ua", "test_ua", "test_wa"]].apply(lambda c: c.between(0, 1)).all().all()
    assert "val_ua/IEM-demo" in results.columns and "test_ua/CRE-demo" in results.columns
    hparams = results["hparams"].map(json.loads)
    assert all(config_id(h) == c for h, c in zip(hparams, results["config_id"]))
    assert set(hparams[results["method"] == "lr"].map(lambda h: tuple(sorted(h)))) == {("batch_size", "gamma")}
    assert any(line.startswith(f"[{PLANNED}/{PLANNED}]") for line in resumed["lines"])
    group_line = next(line for line in resumed["lines"] if line.startswith("grid group grids__is10: 2 jobs run"))
    assert " one seed each), " in group_line and " trials left in " in group_line


def test_the_sweep_ends_with_its_efficiency_line_and_its_first_trials_start(resumed: dict[str, Any]) -> None:
    run = resumed["outcome"].run
    assert run.trials >= 1 and run.trial_wall_s > 0 and 0 < run.efficiency <= 1.05
    assert run.first_trial_s is not None and 0 <= run.first_trial_s < run.sweep_s  # its workers' start-up
    line = outcome_text(resumed["outcome"]).splitlines()[-1]  # what `rdlr sweep` prints last
    assert line.startswith(f"sweep {SPEC_ID}: efficiency ")
    assert f"the first after {run.first_trial_s:,.0f} s)" in line and "core-minutes projected" in line


def test_a_resumed_sweep_prints_no_tune_warnings_about_unfinished_trials(resumed: dict[str, Any]) -> None:
    stderr = resumed["resumed_stderr"]
    assert "Failed to fetch metrics" not in stderr and "result.json" not in stderr, stderr[-3000:]


def test_spec_is_saved_with_the_results(resumed: dict[str, Any]) -> None:
    saved = yaml.safe_load((resumed["storage"] / SPEC_ID / "spec.yaml").read_text())
    resolved = saved.pop(RESOLVED_KEY)
    assert SweepSpec.from_dict(saved) == spec()
    assert resolved["trial_resources"] == {"cpus": 1.0, "gpus": 0.0, "device": "cpu"}
    changed = SweepSpec.from_dict({**SPEC_RAW, "seeds": [0, 1, 2]})
    with pytest.raises(SweepError, match=r"holds results of a different spec '007' \(changed: seeds\)"):
        run_sweep(changed, {"is10": synthetic_table()}, resumed["storage"])


def test_tune_loggers_and_stage1_cache(resumed: dict[str, Any]) -> None:
    tune_dir = resumed["storage"] / SPEC_ID / "tune"
    assert list(tune_dir.rglob("events.out.tfevents*")), "TensorBoard logs missing"
    results = pd.read_csv(resumed["outcome"].results_uri)
    lr = results[results["method"] == "lr"]
    stage1 = list((resumed["storage"] / SPEC_ID / "stage1").glob("stage1-*.pt"))
    batch_sizes = lr["hparams"].map(lambda h: json.loads(h)["batch_size"])
    assert len(stage1) == len(set(zip(batch_sizes, lr["seed"])))  # one stage-1 model per (M, seed), any γ
    per_epoch = [json.loads(line) for path in tune_dir.rglob("result.json") for line in path.read_text().splitlines()]
    assert any("loss/total" in record for record in per_epoch)  # tune.report per epoch


def test_selection_summary_picks_by_validation(resumed: dict[str, Any]) -> None:
    from rdlr.sweep.summary import selection_summary

    results = pd.read_csv(resumed["outcome"].results_uri, dtype={"config_id": str})
    summary = selection_summary(resumed["outcome"].results_uri)
    assert "best mean validation UA" in summary and "paper's protocol" in summary
    lr = results[results["method"] == "lr"].groupby("config_id")[["val_ua", "test_ua"]].mean()
    by_validation = lr.loc[lr["val_ua"].idxmax(), "test_ua"]
    validation_block = summary.split("\n\n")[0]
    lr_line = next(line for line in validation_block.splitlines() if " lr " in f" {line} ")
    assert f"{100 * by_validation:.1f}" in lr_line


def test_report_renders_every_requested_row(resumed: dict[str, Any], tmp_path: Path) -> None:
    from rdlr.report.build import render_report

    index = render_report(resumed["outcome"].results_uri, tmp_path, spec=spec().to_dict())
    text = "\n".join(path.read_text() for path in index.parent.glob("*.md"))
    for label in ("Within-single-corpus (CE)", "Out-of-corpus (CE)", "Labeling Reliability (LR)"):
        assert label in text
    assert "CRE-demo" in text


def test_rerunning_a_finished_sweep_runs_nothing(resumed: dict[str, Any]) -> None:
    before = resumed["files"].attempts()
    outcome = run_sweep(spec(), {"is10": synthetic_table()}, resumed["storage"], log=lambda line: None)
    assert outcome.new_rows == 0 and outcome.rows == PLANNED and outcome.ok
    searched = [job for job in outcome.jobs if job.job.method == "lr"]  # the CE jobs run their whole grid
    assert searched and all(job.restored for job in searched)  # Tune's state restored, finished: nothing to run
    assert all(job.trials == 0 for job in outcome.jobs if job.job.method == "ce")  # no grid group started
    assert len(outcome.jobs) == len(spec().jobs())
    assert resumed["files"].attempts() == before


def test_a_restored_job_that_ended_short_runs_its_missing_trial_afresh(resumed: dict[str, Any]) -> None:
    """Tune's saved state says the job is done, but a row is missing (as when a trial suggested just before a kill
    is counted by the restored search without ever having run): the job runs the missing trial in a fresh Tuner.
    Mutates the module's finished sweep, so it runs after every other test of ``resumed``."""
    files, storage = resumed["files"], Path(resumed["storage"])
    rows = sorted((storage / SPEC_ID / "trials").glob("*.json"))
    lost = next(path for path in rows if json.loads(path.read_text())["method"] == "lr")  # a searched job's row
    lost.unlink()
    (storage / SPEC_ID / "results.csv").unlink()
    lines: list[str] = []
    outcome = run_sweep(spec(), {"is10": synthetic_table()}, storage, log=lines.append)
    assert outcome.ok and outcome.rows == PLANNED and outcome.new_rows == 1
    assert lost.exists()
    assert sum("ran the missing trials afresh" in line for line in lines) == 1, lines
    assert len(files.attempts()) > 0


# ---- pure parts ----------------------------------------------------------------------------------------------------
def test_resources_adapt_to_the_cluster() -> None:
    spec_resources = ResourcesSpec(cpus_per_trial=2, gpus_per_trial=0.25)
    cpu_only = plan_resources(spec_resources, [{"CPU": 2.0}])
    assert (cpu_only.cpus, cpu_only.gpus, cpu_only.device, cpu_only.slots) == (2.0, 0.0, "cpu", 1)
    assert "no GPU" in cpu_only.notes[0]
    gpu = plan_resources(spec_resources, [{"CPU": 8.0, "GPU": 1.0}, {"CPU": 16.0}])
    assert (gpu.gpus, gpu.device, gpu.slots) == (0.25, "cuda", 4)  # GPU-bound on the GPU node, none elsewhere
    small = plan_resources(ResourcesSpec(cpus_per_trial=4), [{"CPU": 2.0}, {"CPU": 2.0}])
    assert (small.cpus, small.slots) == (2.0, 2) and "largest node" in small.notes[0]
    whole = plan_resources(ResourcesSpec(gpus_per_trial=2), [{"CPU": 8.0, "GPU": 1.0}])
    assert whole.gpus == 1.0
    as_written = plan_resources(spec_resources, [{"CPU": 2.0}], adapt=False)
    assert (as_written.gpus, as_written.slots) == (0.25, 1)


def test_concurrency_keeps_every_slot_busy() -> None:
    job = spec().jobs()[0]
    assert trials_per_job(job) == 2  # two configurations at once, each with every seed
    assert tuners_at_once(slots=2, concurrency=[4] * 10) == 2  # one running + one in reserve
    assert tuners_at_once(slots=100, concurrency=[10] * 104) == 11
    assert tuners_at_once(slots=100, concurrency=[10] * 3) == 3
    assert tuners_at_once(slots=100, concurrency=[10] * 50, fixed=5) == 5
    assert tuners_at_once(slots=2, concurrency=[2, 2, 2]) == 2  # a grid group on both slots + one in reserve
    assert tuners_at_once(slots=4, concurrency=[1, 2, 2, 2]) == 4  # 1 + 2 fill 3 slots, 2 more fill 4, reserve


def test_config_and_row_keys() -> None:
    assert config_id({"gamma": 0.2, "batch_size": 64}) == config_id({"batch_size": 64, "gamma": 0.2})
    assert config_id({"batch_size": 64}) != config_id({"batch_size": 128})
    trial = {
        "spec_id": "s",
        "features": "is10",
        "protocol": "out_of_corpus",
        "method": "ce",
        "held_out": "CRE",
        "config_id": "abc",
        "seed": 0,
    }
    assert trial_key(trial) != trial_key({**trial, "seed": 1})
    constants, hparams = split_config(
        {
            "protocol": "out_of_corpus",
            "method": "lr",
            "held_out": "CRE",
            "gamma": 0.3,
            "batch_size": 64,
            "__trial_index__": 1,
        }
    )  # (the seed index of a sweep started with one seed per trial)
    assert constants == {"protocol": "out_of_corpus", "method": "lr", "held_out": "CRE"}
    assert hparams == {"batch_size": 64, "gamma": 0.3}


def test_results_table_gathers_rows_from_csv_and_trial_files(tmp_path: Path) -> None:
    files = SweepFiles(tmp_path, "s")
    rows = [
        {
            "spec_id": "s",
            "protocol": "out_of_corpus",
            "features": "is10",
            "method": "ce",
            "held_out": "CRE",
            "seed": seed,
            "config_id": "c1",
            "hparams": "{}",
            "val_ua": 0.5,
            "val_ua/IEM": 0.5,
            "test_ua": 0.4,
            "test_ua/CRE": 0.4,
            "test_wa": 0.4,
            "confusion": "[]",
            "epochs": 3,
            "best_epoch": 2,
            "wall_time_s": 1.0,
            "trial_id": f"t{seed}",
        }
        for seed in range(3)
    ]
    files.write_results(rows[:2])
    key = trial_key(rows[2])
    files.write_row(key, rows[2])
    loaded = ResultSink(files, planned=3, log=lambda line: None).rows
    assert len(loaded) == 3 and loaded[key]["trial_id"] == "t2"
    frame = results_frame(list(loaded.values()))
    assert list(frame.columns[:10]) == [
        "spec_id",
        "protocol",
        "features",
        "normalization",  # "train" for rows written without one
        "method",
        "held_out",
        "seed",
        "config_id",
        "hparams",
        "val_ua",
    ]
    assert list(frame.columns[10:13]) == ["val_ua/IEM", "test_ua", "test_ua/CRE"]
    assert Storage(tmp_path).child("s").list("trials") == [f"{key}.json"]
