"""`rdlr plan`: jobs, trials, configurations and trial rows of the packaged specs, and the projected cost from a
figures file (rdlr.sweep.plan, rdlr.sweep.plan_text, rdlr.sweep.cost, rdlr.corpora.shape)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdlr.cli import main
from rdlr.methods import get_method
from rdlr.spec.core import SpecError, load_spec
from rdlr.spec.files import packaged_specs
from rdlr.sweep.cost import (
    PACKAGED_FIGURES,
    Figures,
    FiguresError,
    TrialRows,
    classifier_weights,
    decoder_weights,
    load_figures,
    train_flops_per_row,
    trial_cost,
)
from rdlr.sweep.plan import build_plan, feature_dims, planning_manifest
from rdlr.sweep.plan_text import core_time, wall_time

FIGURES = {
    "format": 1,
    "machine": {"description": "test machine", "threads_per_trial": 2},
    "cases": [
        {
            "kind": "plain",
            "dims": 1582,
            "batch": 1024,
            "train_flops_per_s": 2e10,
            "eval_flops_per_s": 4e10,
            "epochs": 12,
            "early_stopped": True,
        },
        {
            "kind": "plain",
            "dims": 1582,
            "batch": 4096,
            "train_flops_per_s": 3e10,
            "eval_flops_per_s": 4e10,
            "epochs": 30,
            "early_stopped": False,
        },
        {
            "kind": "ae",
            "dims": 1582,
            "batch": 1024,
            "train_flops_per_s": 1e10,
            "eval_flops_per_s": 4e10,
            "epochs": 10,
            "early_stopped": True,
        },
    ],
    "ray": {"overhead_s_per_trial": 3.0},
    "gpu": None,
}


@pytest.fixture(scope="module")
def figures() -> Figures:
    return Figures.from_dict(FIGURES, "test figures")


@pytest.fixture(scope="module")
def table2(figures: Figures):
    spec = load_spec("table2")
    meta, source = planning_manifest(spec, None)
    return build_plan(spec, meta, source, figures)


def test_table2_jobs_trials_and_configurations(table2) -> None:
    assert len(table2.jobs) == 104 and table2.trials == 8520 == table2.spec.num_trials()
    configs = {(j.job.protocol, j.job.method): j.job.configs for j in table2.jobs}
    assert configs[("within_corpus", "ce")] == configs[("out_of_corpus", "ce")] == 3  # the batch-size grid
    assert configs[("out_of_corpus", "ae")] == 12 and configs[("out_of_corpus", "lr")] == 21
    assert configs[("out_of_corpus", "rdlr_cww_dagger")] == 24
    assert all(j.trials == j.job.configs * 5 for j in table2.jobs)


def test_table2_trial_rows_follow_the_paper_splits_of_table_1_sizes(table2) -> None:
    rows = {(j.job.protocol, j.job.held_out): j.rows for j in table2.jobs}
    assert rows[("within_corpus", "POD")] == TrialRows(28_602, 4_772, 12_787, 28_539)  # POD 1.8's partitions
    assert rows[("within_corpus", "IEM")].train == 4 * 1106 + 1  # sessions 1-4 (5,531 rows over 10 speakers)
    assert rows[("out_of_corpus", "CRE")] == TrialRows(28_602 + 4_425 + 6_500, 4_772 + 1_106 + 1_298, 4_899, 28_539)
    pod = rows[("out_of_corpus", "POD")]
    assert (pod.test, pod.unlabeled, pod.train + pod.val) == (46_161, 28_539, 4_899 + 5_531 + 7_798)
    assert 4_425 + 6_500 + 58 * 53 <= pod.train <= 4_425 + 6_500 + 58 * 54  # CRE: 58 of 91 speakers


def test_projected_cost_follows_the_cost_model(table2, figures: Figures) -> None:
    job = next(
        j for j in table2.jobs if (j.job.protocol, j.job.method, j.job.held_out) == ("within_corpus", "ce", "POD")
    )
    weights = classifier_weights(1582)
    assert weights == 1582 * 1024 + 1024 * 1024 + 1024 * 512 + 512 * 512 + 512 * 4
    rows = job.rows
    evaluation = 2 * weights * (12 * rows.val + rows.val + rows.test + rows.train) / 4e10
    at = {rate: 12 * rows.train * 6 * weights / rate + evaluation for rate in (2e10, 2.5e10, 3e10)}
    expected = (at[2e10] + at[2.5e10] + at[3e10]) / 3  # the grid 1024, 2048 (the mean of both rates), 4096
    assert job.cost.cpu_s == pytest.approx(expected)
    total = sum(j.cpu_s for j in table2.jobs)
    assert table2.core_hours == pytest.approx((total + 8520 * 3.0) * 2 / 3600)
    lr_grid = next(j for j in table2.jobs if j.job.method == "lr")  # γ (7) × M (3): one stage 1 per M and seed
    assert (lr_grid.job.configs, lr_grid.stage1_models) == (21, 3 * 5)
    assert lr_grid.cpu_s == pytest.approx(
        105 * (lr_grid.cost.cpu_s - lr_grid.cost.stage1_s) + 15 * lr_grid.cost.stage1_s
    )
    lr = next(j for j in table2.jobs if j.job.method == "rdlr_cww_dagger")
    stage1 = trial_cost(get_method("rd_cww_dagger"), lr.rows, 1582, 1024, figures)
    assert trial_cost(get_method("rdlr_cww_dagger"), lr.rows, 1582, 1024, figures).cpu_s == pytest.approx(
        2 * stage1.cpu_s
    )  # stage 1 (RD + CWW + †) and stage 2 cost the same


def test_training_work_counts_the_decoder_unlabeled_rows_and_pairs() -> None:
    ce, dagger, contrastive = (get_method(name) for name in ("ce", "cww_dagger", "contrastive"))
    assert train_flops_per_row(ce, 1582, 1024) == 6 * classifier_weights(1582)
    per_row = 6 * classifier_weights(1582) + 6 * decoder_weights(1582)
    assert train_flops_per_row(dagger, 1582, 1024) == pytest.approx(per_row * (1 + 32 / 1024))
    assert train_flops_per_row(contrastive, 1582, 4096) == 6 * classifier_weights(1582) + 6 * 4096 * 512
    assert decoder_weights(2862) == 1024 * 1024 * 2 + 1024 * 2862


def test_table3_dimensions_and_demo_plan(figures: Figures) -> None:
    assert feature_dims("is10+w2v") == (2094, False) and feature_dims("is10+w2v+bert") == (2862, False)
    assert feature_dims("is10+hf:models/hubert") == (1582 + 1024, True)
    demo = load_spec("demo")
    meta, source = planning_manifest(demo, None)
    plan = build_plan(demo, meta, source, figures)
    assert (len(plan.jobs), plan.trials) == (20, 60) and plan.trials == demo.num_trials()
    rows = {(j.job.protocol, j.job.held_out): j.rows for j in plan.jobs}
    assert rows[("out_of_corpus", "CRE-demo")] == TrialRows(720, 240, 320, 200)  # 3 corpora × 6 / 2 speakers × 40
    assert rows[("within_corpus", "CRE-demo")] == TrialRows(240, 40, 40, 200)  # 6 / 1 / 1 speakers


def test_plan_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "figures.json"
    path.write_text(json.dumps(FIGURES))
    assert main(["plan", "demo", "--figures", str(path), "--storage", str(tmp_path)]) == 0  # --figures: --rates
    out = capsys.readouterr().out
    assert "plan demo: 20 jobs, 60 trials" in out and "projected demo: 60 trials" in out
    assert f"rates: {path} (test machine), 2 threads per trial" in out and "3.0 s per trial" in out
    assert "epochs per model estimated 12 (20 jobs)" in out  # best epoch 7 + patience 5, under max_epochs 15
    path.write_text(json.dumps({**FIGURES, "format": 0}))
    assert main(["plan", "demo", "--rates", str(path), "--storage", str(tmp_path)]) == 2
    assert "rerun bench_scale.py" in capsys.readouterr().err
    manifests = tmp_path / "spec.yaml"
    manifests.write_text(
        json.dumps(
            {
                "id": "m",
                "data": {"source": "manifests", "manifests": ["a.csv"]},
                "features": ["is10"],
                "held_out": ["X"],
                "protocols": {"within_corpus": ["ce"]},
                "seeds": [0],
            }
        )
    )
    assert main(["plan", str(manifests), "--figures", str(tmp_path / "missing.json")]) == 2
    assert "no such figures file" in capsys.readouterr().err


def test_manifest_specs_need_their_data_and_packaged_figures_load(figures: Figures) -> None:
    spec = load_spec("table2")
    with pytest.raises(SpecError, match="give --data-root"):
        planning_manifest(
            spec.__class__.from_dict({**spec.to_dict(), "data": {"source": "manifests", "manifests": ["a.csv"]}}), None
        )
    packaged = load_figures()
    assert packaged.source == str(PACKAGED_FIGURES) and {r.kind for r in packaged.rates} == {"plain", "ae"}
    with pytest.raises(FiguresError, match="kinds"):
        Figures.from_dict({**FIGURES, "cases": []}, "empty")


def test_epochs_come_from_measured_stops_then_the_fallback_then_the_assumption() -> None:
    capped = {**FIGURES, "cases": [{**case, "early_stopped": False} for case in FIGURES["cases"]]}
    assert Figures.from_dict(capped, "capped").epochs("ae") == (20.0, False)  # nothing measured: assumed
    borrowed = Figures.from_dict({**capped, "epochs": {"ae": 9, "source": "the full run"}}, "quick")
    assert borrowed.epochs("ae") == (9.0, True) and borrowed.epochs_source == "the full run"
    assert Figures.from_dict(FIGURES, "full").epochs("plain") == (12.0, True)  # the capped 4096 case is left out


def test_measured_gpu_rates_and_sharing_set_the_gpu_hours(table2, figures: Figures) -> None:
    gpu_case = {
        "kind": "ae",
        "dims": 1582,
        "batch": 1024,
        "train_flops_per_s": 1e12,
        "eval_flops_per_s": 2e12,
        "epochs": 10,
        "early_stopped": True,
    }
    measured = Figures.from_dict(
        {
            **FIGURES,
            "gpu": {
                "machine": "one test GPU",
                "cases": [gpu_case],
                "sharing": [{"trials": 1, "speedup": 1.0}, {"trials": 4, "speedup": 2.5}],
            },
        },
        "with GPU",
    )
    assert measured.gpu_measured and not figures.gpu_measured
    assert measured.rate("plain", 2862, 4096, gpu=True) == (1e12, 2e12)  # the only GPU case, whatever the kind
    assert figures.rate("ae", 1582, 1024, gpu=True) == (4e12, 8e12)  # nothing measured: the assumed rates
    assert (measured.gpu_speedup(1), measured.gpu_speedup(3), measured.gpu_speedup(8)) == (1.0, 1.0, 2.5)
    spec = table2.spec
    plan = build_plan(spec, *planning_manifest(spec, None), measured)
    assert plan.trials_per_gpu == 4  # resources.gpus_per_trial 0.25
    rows = plan.jobs[0].rows
    alone = trial_cost(get_method(plan.jobs[0].job.method), rows, 1582, 1024, measured).gpu_s
    epochs = measured.epochs("plain")[0]  # CE's: 12, from the CPU cases (epochs do not depend on the device)
    assert alone == pytest.approx(
        epochs * rows.train * 6 * classifier_weights(1582) / 1e12
        + 2 * classifier_weights(1582) * ((epochs + 1) * rows.val + rows.test + rows.train) / 2e12
    )
    assert plan.gpu_hours == pytest.approx((sum(j.gpu_s for j in plan.jobs) / 2.5 + 8520 * 3.0 / 4) / 3600)


def test_ray_overhead_is_read_per_model_and_from_figures_of_one_seed_per_trial() -> None:
    per_model = Figures.from_dict({**FIGURES, "ray": {"overhead_s_per_model": 0.2, "overhead_s_per_trial": 3.0}}, "t")
    assert per_model.ray_overhead_s == 0.2  # one trial per configuration: the overhead of each of its models
    assert Figures.from_dict(FIGURES, "t").ray_overhead_s == 3.0  # older figures: one model per trial


def test_plan_warns_per_job_whose_searched_m_leaves_few_steps():
    from rdlr.spec.core import load_spec
    from rdlr.sweep.cost import load_figures
    from rdlr.sweep.plan import build_plan, planning_manifest
    from rdlr.sweep.plan_text import batch_warnings

    spec = load_spec("table2")  # the paper's sets, kept: M 4096 is small for within-corpus CRE (3,874 rows)
    meta, source = planning_manifest(spec, None)
    lines = batch_warnings(build_plan(spec, meta, source, load_figures()))
    assert any("within_corpus__ce__CRE: 3,874 training rows" in line for line in lines)
    assert len(lines) < len(spec.jobs())
    spec = load_spec("demo")
    meta, source = planning_manifest(spec, None)
    small = spec.__class__.from_dict(
        {**spec.to_dict(), "search": {**spec.to_dict()["search"], "space": {"batch_size": [4096]}}}
    )
    lines = batch_warnings(build_plan(small, meta, source, load_figures()))
    assert len(lines) == len(small.jobs()) and all("M 4096: 1" in line for line in lines)


@pytest.mark.slow
@pytest.mark.parametrize("spec", packaged_specs())
def test_every_packaged_spec_plans_without_data(spec, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no corpora, no data root: the loaders' documented counts shape the manifests
    assert main(["plan", spec, "--rates", str(PACKAGED_FIGURES)]) == 0  # calibration: test_calibration.py
    assert "jobs" in capsys.readouterr().out


def test_small_costs_read_in_minutes_and_hours():
    assert core_time(0.1) == "6 core-minutes" and core_time(556.4) == "556 core-hours"
    assert wall_time(0.001) == "about 1 minute" and wall_time(0.5) == "about 30 minutes"
    assert wall_time(5) == "about 5.0 hours" and wall_time(48) == "about 2.0 days"


PAPER_SPECS = ("table2", "table3", "table2-paper", "table3-paper")  # keep the paper's M sets (Section 3.2)


@pytest.mark.parametrize("spec_id", [name for name in packaged_specs() if name not in PAPER_SPECS])
def test_packaged_specs_search_m_that_trains_on_their_rows(spec_id, tmp_path, monkeypatch, capsys):
    """Every job of a non-paper packaged spec gets at least 4 steps per epoch from every M it searches, on the
    rows its plan gives without data; ``rdlr plan`` warns about none."""
    from rdlr.train.batches import SWEEP_MIN_STEPS, steps_per_epoch

    spec = load_spec(spec_id)
    meta, source = planning_manifest(spec, None)
    plan = build_plan(spec, meta, source, load_figures())
    for item in plan.jobs:
        steps = {m: steps_per_epoch(item.rows.train, int(m)) for m in item.job.space["batch_size"]}
        assert min(steps.values()) >= SWEEP_MIN_STEPS, (item.job.name, item.rows.train, steps)
    monkeypatch.chdir(tmp_path)
    assert main(["plan", spec_id, "--rates", str(PACKAGED_FIGURES)]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.out + captured.err


def test_public_specs_size_m_per_protocol_to_eight_steps_or_more():
    from rdlr.train.batches import TRAIN_MIN_STEPS, steps_per_epoch

    for spec_id in ("public", "public-multilingual"):
        spec = load_spec(spec_id)
        meta, source = planning_manifest(spec, None)
        for item in build_plan(spec, meta, source, load_figures()).jobs:
            fewest = min(steps_per_epoch(item.rows.train, int(m)) for m in item.job.space["batch_size"])
            assert fewest >= TRAIN_MIN_STEPS, (item.job.name, item.rows.train, fewest)
