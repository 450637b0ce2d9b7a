"""Longest work first (rdlr.sweep.order): jobs by their projected critical path, a whole grid's configurations
costliest first (CostOrderedGrid, each still run once), partial searches left in their searcher's order; the
plan of a partly run spec; the efficiency line every sweep ends with (rdlr.sweep.efficiency)."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import optuna
import pytest

from rdlr.io.storage import Storage
from rdlr.spec import load_spec
from rdlr.sweep.cost import load_figures
from rdlr.sweep.efficiency import RUNS_FILE, SweepRun, read_runs, record_run
from rdlr.sweep.epochs import job_key
from rdlr.sweep.order import grid_costs, longest_first, runs_whole_grid
from rdlr.sweep.plan import build_plan, done_models, planning_manifest
from rdlr.sweep.sampling import CostOrderedGrid, make_sampler
from tests.sweep.test_sampling import run_study


def demo_plan(spec=None, done=None):
    spec = spec or load_spec("demo")
    meta, source = planning_manifest(spec, None)
    return build_plan(spec, meta, source, load_figures(), done=done)


def with_search(spec, **search):
    raw = spec.to_dict()
    return spec.__class__.from_dict({**raw, "search": {**raw["search"], **search}})


def test_the_demo_starts_its_two_stage_proposed_row_first_and_within_corpus_ce_last() -> None:
    plan = demo_plan()
    order = longest_first(plan.spec.jobs(), plan)
    methods = [(job.protocol, job.method) for job in order]
    assert methods[:4] == [("out_of_corpus", "rdlr_cww_dagger")] * 4  # two stages with the AE decoder
    assert methods[4:8] == [("out_of_corpus", "lr")] * 4  # two stages
    assert methods[-4:] == [("within_corpus", "ce")] * 4  # a third of the rows
    cost = {(i.job.method, i.job.protocol, i.job.held_out): i.cost.cpu_s for i in plan.jobs}
    ranked = [cost[(j.method, j.protocol, j.held_out)] for j in order]
    assert ranked == sorted(ranked, reverse=True)  # one trial per job: the critical path is the trial's cost
    assert sorted(order, key=plan.spec.jobs().index) == plan.spec.jobs()  # every job once


def test_finished_jobs_go_last_and_a_partly_run_spec_plans_only_what_is_left() -> None:
    spec = load_spec("demo")
    first = longest_first(spec.jobs(), demo_plan(spec))[0]
    rows = [
        {"spec_id": "demo", "features": first.features, "protocol": first.protocol, "method": first.method,
         "held_out": first.held_out, "seed": seed}
        for seed in spec.seeds
    ] + [{"spec_id": "other", "features": "is10", "protocol": "within_corpus", "method": "ce",
          "held_out": "CRE-demo", "seed": 0}]  # fmt: skip
    done = done_models(rows, "demo")
    assert done == {job_key(first): 3}
    partly, whole = demo_plan(spec, done), demo_plan(spec)
    assert (partly.trials, partly.left) == (60, 57)
    assert longest_first(spec.jobs(), partly)[-1] == first
    item = next(i for i in whole.jobs if i.job == first)
    assert partly.core_hours == pytest.approx(whole.core_hours - (item.cpu_s + 3 * whole.figures.ray_overhead_s) / 1800)


def test_jobs_with_more_rounds_of_trials_start_before_jobs_with_one_long_trial() -> None:
    spec = with_search(load_spec("demo"), configs=3, space={"batch_size": [32, 64, 128], "gamma": [0.5]})
    plan = build_plan(spec, *planning_manifest(spec, None), load_figures())
    ce = next(i for i in plan.jobs if (i.job.protocol, i.job.method) == ("out_of_corpus", "ce"))
    assert ce.job.configs == 3  # 2 at a time: 2 rounds of trials
    order = longest_first(spec.jobs(), plan)
    assert [j.method for j in order[:4]] == ["rdlr_cww_dagger"] * 4


def study_order(sampler: optuna.samplers.BaseSampler, configs: int, concurrent: int = 1) -> list[dict]:
    space = {"batch_size": [16, 32, 64], "gamma": [0.2, 0.5]}
    return [dict(config) for config in run_study(sampler, configs, concurrent, space=space)]


def test_a_whole_grid_runs_costliest_first_and_each_configuration_once() -> None:
    space = {"batch_size": [16, 32, 64], "gamma": [0.2, 0.5]}
    own = {16: 3.0, 32: 2.0, 64: 1.0}  # smaller minibatches: more steps, slower per row
    costs = {(b, g): (own[b], (b,), 10.0) for b in space["batch_size"] for g in space["gamma"]}
    asked = study_order(CostOrderedGrid(space, 0, costs), configs=6, concurrent=2)
    assert len({tuple(c.items()) for c in asked}) == 6
    firsts, seconds = asked[:3], asked[3:]
    assert [c["batch_size"] for c in firsts] == [16, 32, 64]  # each trains its stage 1 (γ shares it): 13, 12, 11
    assert [c["batch_size"] for c in seconds] == [16, 32, 64]  # the stage 1 cached: 3, 2, 1
    assert {c["gamma"] for c in firsts} | {c["gamma"] for c in seconds} == {0.2, 0.5}
    plain = study_order(optuna.samplers.GridSampler(space, seed=0), configs=6)
    same = {(b, g): (1.0, (), 0.0) for b in space["batch_size"] for g in space["gamma"]}
    assert study_order(CostOrderedGrid(space, 0, same), configs=6) == plain  # equal costs: the seeded order
    pickle.loads(pickle.dumps(CostOrderedGrid(space, 0, costs)))  # Tune saves the searcher with the Tuner


def test_only_jobs_running_their_whole_grid_are_reordered() -> None:
    spec = with_search(load_spec("demo"), sampler="grid", configs=2, space={"batch_size": [32, 64, 128]})
    plan = build_plan(spec, *planning_manifest(spec, None), load_figures())
    job = plan.jobs[0].job
    assert not runs_whole_grid(job)  # 2 of 3: which two is the search's choice, left to the seeded order
    assert type(make_sampler(job.sampler, 0, job.space)) is optuna.samplers.GridSampler
    whole = dataclasses.replace(job, configs=3)
    costs = grid_costs(plan, whole)
    assert runs_whole_grid(whole) and set(costs) == {(32,), (64,), (128,)}
    assert costs[(128,)][0] > costs[(64,)][0]  # 2 steps per epoch on 240 rows: more epochs to the best one
    assert type(make_sampler("grid", 0, whole.space, costs)) is CostOrderedGrid


def test_the_efficiency_line_and_its_record_beside_the_results(tmp_path: Path) -> None:
    run = SweepRun(20, 1530.0, 744.0, 796.0, 2, 1.0, 12.9)
    assert run.efficiency == pytest.approx(1530 / (796 * 2)) and run.used_core_minutes == pytest.approx(12.4)
    line = run.line("demo")
    assert line.startswith("sweep demo: efficiency 0.96 (20 trials, 1,530 s of trials in 796 s × 2 slots)")
    assert "core-minutes projected 12.9, used 12.4 (-4%)" in line and "25.5 held" in line
    folder = Storage(tmp_path)
    record_run(folder, run)
    record_run(folder, dataclasses.replace(run, trials=3))
    assert [r.trials for r in read_runs(folder)] == [20, 3]
    (tmp_path / RUNS_FILE).write_text("[{")
    assert read_runs(folder) == []  # unreadable: no line in the report, nothing else lost


def test_the_reports_readme_carries_each_sweep_runs_figures(tmp_path: Path) -> None:
    from rdlr.report.build import render_report
    from tests.report.test_tables import OWN_SPEC, make_results

    folder = tmp_path / "runs" / "mine"
    folder.mkdir(parents=True)
    make_results(spec_id="mine").to_csv(folder / "results.csv", index=False)
    run = SweepRun(20, 1530.0, 744.0, 796.0, 2, 1.0, 12.9)
    record_run(Storage(folder), run)
    index = render_report(folder / "results.csv", tmp_path / "reports", spec=dict(OWN_SPEC), plots=False)
    readme = index.read_text(encoding="utf-8")
    assert f"- **Sweep run:** {run.line('mine').split(': ', 1)[1]}" in readme
    assert "efficiency 0.96" in readme and "projected 12.9, used 12.4" in readme
