"""`rdlr plan`'s rates measured on the machine at hand (rdlr.sweep.calibrate): a real probe, the cache per machine
(read back, missing cases measured, --calibrate measures again, another machine or torch gets its own file, a
broken file is measured again), which calibration the plan says it used; and the epochs per model
(rdlr.sweep.epochs): finished sweeps of similar size, else the estimate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from rdlr.cli import main
from rdlr.sweep import calibrate as calibration
from rdlr.sweep.calibrate import Case, cache_path, calibrate, machine_key, measure
from rdlr.sweep.cost import load_figures
from rdlr.sweep.epochs import Epochs, FinishedModel, estimate, finished_models
from rdlr.train.config import TrainConfig

TINY = Case("ae", 24, 8, 1)
TINY_TEXT = "ae methods, 24 dims, M 8, 1 thread(s), cpu"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RDLR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[Case]:
    """Counts the probes instead of timing them (the real probe: test_a_probe_times_the_real_objective)."""
    measured: list[Case] = []

    def fake(case: Case) -> dict[str, float]:
        measured.append(case)
        return {"train_flops_per_s": 1e10 * case.threads, "eval_flops_per_s": 2e10}

    monkeypatch.setattr(calibration, "measure", fake)
    return measured


def test_a_probe_times_the_real_objective() -> None:
    rates = measure(TINY)
    assert rates["train_flops_per_s"] > 0 and rates["eval_flops_per_s"] > 0


def test_the_cache_is_read_back_refreshed_and_kept_per_machine(cache: Path, probes, monkeypatch) -> None:
    first = calibrate([TINY, TINY])
    assert first.measured_now == 1 and probes == [TINY] and first.path == cache_path(machine_key())
    assert first.path.parent == cache / "calibration" and TINY.key in json.loads(first.path.read_text())["cases"]
    again = calibrate([TINY])
    assert again.measured_now == 0 and len(probes) == 1 and "from the cache" in again.describe()
    more = calibrate([TINY, Case("plain", 24, 8, 1)])
    assert more.measured_now == 1 and len(more.cases) == 2  # only the missing case
    assert calibrate([TINY], refresh=True).measured_now == 1 and len(probes) == 3  # --calibrate
    other = {**machine_key(), "torch": "0.0-other"}
    monkeypatch.setattr(calibration, "machine_key", lambda: other)
    elsewhere = calibrate([TINY])
    assert elsewhere.measured_now == 1 and elsewhere.path != first.path  # another torch: another file
    elsewhere.path.write_text("{not json")
    lines: list[str] = []
    assert calibrate([TINY], log=lines.append).measured_now == 1 and "unusable" in lines[0]


def test_a_case_measured_on_a_busy_machine_is_measured_again_once_it_is_quieter(
    cache: Path, probes, monkeypatch
) -> None:
    cpus = os.cpu_count() or 1
    load = [3.0 * cpus]  # the 1-minute load average: 3 per CPU, busy
    monkeypatch.setattr(calibration.os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    first = calibrate([TINY])
    assert first.measured_now == 1 and first.cases[TINY.key]["load_per_cpu"] == 3.0
    load[0] = 1.6 * cpus  # quieter, but not under half: the cache holds
    assert calibrate([TINY]).measured_now == 0
    load[0] = 0.1 * cpus
    lines: list[str] = []
    again = calibrate([TINY], log=lines.append)
    assert again.measured_now == 1 and len(probes) == 2
    assert lines == [f"calibrating again (measured at a load of 3.0 per CPU, now 0.1): {TINY_TEXT}"]
    assert again.cases[TINY.key]["load_per_cpu"] == 0.1
    assert calibrate([TINY]).measured_now == 0  # measured quiet: kept
    document = json.loads(again.path.read_text())
    del document["cases"][TINY.key]["load_per_cpu"]  # a cache written before the load was recorded: kept as it is
    again.path.write_text(json.dumps(document))
    assert calibrate([TINY]).measured_now == 0


def test_calibrated_figures_take_this_machines_cpu_cases_and_the_fallbacks_gpu(cache: Path, probes) -> None:
    result = calibrate([TINY, Case("ae", 24, 8, 2)])
    packaged = load_figures()
    figures = result.figures(2, packaged)
    assert [(r.dims, r.batch, r.train_flops_per_s) for r in figures.rates] == [(24, 8, 2e10)]
    assert figures.threads == 2 and figures.source.startswith("calibrated on this machine")
    assert figures.gpu_rates == packaged.gpu_rates and figures.ray_overhead_s == packaged.ray_overhead_s


def test_rdlr_plan_says_which_calibration_it_used(cache: Path, probes, tmp_path: Path, capsys) -> None:
    argv = ["plan", "demo", "--storage", str(tmp_path / "runs")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "rates: calibrated on this machine (" in out and "2 case(s) measured now" in out
    assert {(c.kind, c.dims, c.batch, c.threads) for c in probes} == {("plain", 1582, 64, 1), ("ae", 1582, 64, 1)}
    assert main(argv) == 0 and "from the cache" in capsys.readouterr().out and len(probes) == 2
    assert main([*argv, "--calibrate"]) == 0 and "2 case(s) measured now" in capsys.readouterr().out
    assert main([*argv, "--calibrate", "--rates", "x.json"]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_probes_cap_the_minibatch_and_the_threads() -> None:
    assert calibration.probe_batch(4096) == calibration.MAX_PROBE_BATCH and calibration.probe_batch(64) == 64
    assert calibration.calibration_threads(0.5) == 1 and calibration.calibration_threads(10_000) >= 1


def test_epochs_are_estimated_from_patience_max_epochs_and_steps() -> None:
    assert estimate(14_044, 1024, 100, 5) == 12  # 14 steps: best epoch 7, + patience
    assert estimate(240, 64, 15, 5) == 12 and estimate(240, 128, 15, 5) == 15  # 2 steps: best 14, capped
    assert estimate(240, 240, 100, 5) == 28 + 5  # one step per epoch: 28 steps to the best epoch


def test_epochs_come_from_the_same_job_then_similar_models(tmp_path: Path) -> None:
    job = ("is10", "train", "out_of_corpus", "ce", "CRE-demo")
    training = TrainConfig(max_epochs=15)
    similar = FinishedModel("old", ("is10", "train", "out_of_corpus", "rd", "IEM-demo"), "plain", 12, 9, 15, 5)
    capped = FinishedModel("old", job, "plain", 12, 10, 10, 5)  # stopped by max_epochs 10 < 15: a lower bound
    other_kind = FinishedModel("old", job, "ae", 12, 3, 15, 5)
    epochs = Epochs((similar, capped, other_kind))
    assert epochs("demo", job, "plain", 720, 64, training) == (9.0, "similar models")
    same = FinishedModel("demo", job, "plain", 12, 11, 15, 5, stage1_epochs=13)
    epochs = Epochs((similar, same))
    assert epochs("demo", job, "plain", 720, 64, training) == (11.0, "same job")
    assert epochs("demo", job, "plain", 720, 64, training, stage1=True) == (13.0, "same job")
    assert epochs("demo", job, "plain", 72_000, 64, training) == (11.0, "same job")
    assert Epochs((similar,))("x", job, "plain", 72_000, 64, training) == (12.0, "estimated")  # 1,125 steps


def test_finished_models_are_read_from_results_beside_their_spec(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "spec.yaml").write_text("id: old\ntraining: {max_epochs: 20, patience: 3}\n")
    row = {"spec_id": "old", "features": "is10", "protocol": "out_of_corpus", "method": "lr", "held_out": "CRE",
           "seed": 0, "config_id": "c", "hparams": json.dumps({"batch_size": 64}), "val_ua": 0.5, "test_ua": 0.5,
           "epochs": 8, "train_rows": 720}  # fmt: skip
    pd.DataFrame([row, {**row, "method": "unknown_method"}]).to_csv(folder / "results.csv", index=False)
    (tmp_path / "no-results").mkdir()
    (models,) = finished_models(str(tmp_path))
    assert (models.spec_id, models.kind, models.steps, models.epochs, models.max_epochs, models.patience) == (
        "old", "plain", 12, 8, 20, 3,
    )  # fmt: skip
    assert finished_models(str(tmp_path / "absent")) == ()


def test_a_gpu_probe_times_the_real_objective_on_the_gpu() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine")
    rates = measure(Case("ae", 24, 8, 1, "cuda"))
    assert rates["train_flops_per_s"] > 0 and rates["eval_flops_per_s"] > 0
