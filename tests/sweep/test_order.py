"""Longest work first (rdlr.sweep.order, rdlr.sweep.groups): whole grids run as one Tuner per feature set, their
points costliest first (each once, finished ones left out), searched jobs by their projected critical path and
left in their searcher's order; the plan of a partly run spec; the efficiency line every sweep ends with
(rdlr.sweep.efficiency)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pytest

from rdlr.io.storage import Storage
from rdlr.results import config_id
from rdlr.spec import load_spec
from rdlr.sweep.cost import load_figures
from rdlr.sweep.efficiency import RUNS_FILE, SweepRun, read_runs, record_run
from rdlr.sweep.epochs import job_key
from rdlr.sweep.groups import GridGroup, split_grid_jobs
from rdlr.sweep.order import grid_costs, longest_first, runs_whole_grid, start_order
from rdlr.sweep.plan import build_plan, done_models, planning_manifest
from rdlr.sweep.sampling import make_sampler
from rdlr.sweep.trial import GROUP_POINT, POINT_CONFIG, POINT_JOB, job_of, seeds_of, split_config


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
    one_left = done_models(rows[:2], "demo")  # two of its three seeds: its one model left goes after its peers
    peers = [j for j in spec.jobs() if j.method == first.method and j != first]
    assert longest_first(spec.jobs(), demo_plan(spec, one_left))[:3] == peers
    item = next(i for i in whole.jobs if i.job == first)
    assert partly.core_hours == pytest.approx(whole.core_hours - (item.cpu_s + 3 * whole.figures.ray_overhead_s) / 1800)


def test_jobs_with_more_rounds_of_trials_start_before_jobs_with_one_long_trial() -> None:
    spec = with_search(load_spec("demo"), configs=3, space={"batch_size": [32, 64, 128], "gamma": [0.5]})
    plan = build_plan(spec, *planning_manifest(spec, None), load_figures())
    ce = next(i for i in plan.jobs if (i.job.protocol, i.job.method) == ("out_of_corpus", "ce"))
    assert ce.job.configs == 3  # 2 at a time: 2 rounds of trials
    order = longest_first(spec.jobs(), plan)
    assert [j.method for j in order[:4]] == ["rdlr_cww_dagger"] * 4


def models_of(group: GridGroup, seeds) -> list[tuple[str, str, int]]:
    """(job, config id, seed) of every model the group's trials train: a point's own seeds, else every seed."""
    return [
        (job_of({GROUP_POINT: p}), config_id(split_config({GROUP_POINT: p})[1]), seed)
        for p in group.points
        for seed in seeds_of({GROUP_POINT: p}, seeds)
    ]


def test_the_demo_runs_as_one_grid_group_its_proposed_row_first_and_within_corpus_ce_last() -> None:
    plan = demo_plan()
    groups, searched = split_grid_jobs(plan.spec.jobs(), plan, [], slots=2)
    assert searched == [] and len(groups) == 1  # every demo job runs its whole (one-point) grid
    group = groups[0]
    assert group.name == "grids__is10" and len(group.jobs) == 20
    assert len(group.points) == 18 + 2 * 3  # the two cheapest points end it one seed per trial
    assert group.models == 60 and group.single_seed_trials == 6
    methods = [point[POINT_CONFIG]["method"] for point in group.points]
    assert methods[:4] == ["rdlr_cww_dagger"] * 4 and methods[-8:] == ["ce"] * 8  # within-corpus CE: shortest
    assert list(group.costs) == sorted(group.costs, reverse=True)
    assert group.concurrency(slots=2) == 2 and group.concurrency(slots=64) == 24
    assert start_order(groups, searched, plan, slots=2) == [group]


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_a_grid_group_ends_with_single_seed_trials_of_its_cheapest_points(slots: int) -> None:
    plan = demo_plan()
    (group,), _ = split_grid_jobs(plan.spec.jobs(), plan, [], slots=slots)
    seeds = plan.spec.seeds
    trained = models_of(group, seeds)
    assert len(trained) == len(set(trained)) == 20 * len(seeds)  # every model once, split or not
    singles = [i for i, p in enumerate(group.points) if len(seeds_of({GROUP_POINT: p}, seeds)) == 1]
    assert singles == list(range(len(group.points) - len(singles), len(group.points)))  # at the end
    assert 2 * slots <= len(singles) < 2 * slots + len(seeds)  # whole points split until 2 per slot
    whole_costs = [c for i, c in enumerate(group.costs) if i not in singles]
    assert min(whole_costs) >= max(group.costs[i] * len(seeds) for i in singles)  # the cheapest points split


def test_a_grid_groups_points_are_costliest_first_each_model_once_and_finished_ones_left_out() -> None:
    space = {"batch_size": [32, 64, 128], "gamma": [0.3, 0.7]}
    spec = with_search(load_spec("demo"), sampler="grid", configs=6, space=space)
    plan = build_plan(spec, *planning_manifest(spec, None), load_figures())
    lr = next(job for job in spec.jobs() if job.method == "lr" and job.held_out == "CRE-demo")
    assert runs_whole_grid(lr) and lr.grid_size == 6  # 3 minibatches × γ {0.3, 0.7}: a stage-1 model per M
    (group,), _ = split_grid_jobs([lr], plan, [], slots=1)
    configs = [split_config(point) for point in ({GROUP_POINT: p} for p in group.points)]
    assert len({tuple(sorted(h.items())) for _, h in configs}) == 6
    every_model = {(lr.name, config_id(h), seed) for _, h in configs for seed in spec.seeds}
    assert sorted(models_of(group, spec.seeds)) == sorted(every_model)  # each model once
    costs = grid_costs(plan, lr)
    firsts = [h["batch_size"] for _, h in configs[:3]]
    assert sorted(firsts) == [32, 64, 128]  # each of the first three also trains its M's stage-1 models
    assert all(costs[(h["batch_size"], h["gamma"])][2] > 0 for _, h in configs)
    assert list(group.costs) == sorted(group.costs, reverse=True)
    # a point with every seed done is left out; one with some seeds done trains and costs only the others
    _, hparams = configs[0]
    constants = {key: getattr(lr, key) for key in ("protocol", "method", "held_out")}
    row = {"features": "is10", **constants, "config_id": config_id(hparams)}
    done = [{**row, "seed": seed} for seed in spec.seeds]
    (fewer,), _ = split_grid_jobs([lr], plan, done, slots=1)
    assert len(models_of(fewer, spec.seeds)) == 5 * 3
    assert config_id(hparams) not in {cid for _, cid, _ in models_of(fewer, spec.seeds)}
    (partly,), _ = split_grid_jobs([lr], plan, done[:1], slots=1)
    assert (lr.name, config_id(hparams), spec.seeds[0]) not in models_of(partly, spec.seeds)
    assert len(models_of(partly, spec.seeds)) == 6 * 3 - 1
    first = next(i for i, p in enumerate(partly.points) if split_config({GROUP_POINT: p})[1] == hparams)
    assert partly.costs[first] < group.costs[0]
    every_row = [{**row, "config_id": config_id(h), "seed": seed} for _, h in configs for seed in spec.seeds]
    assert split_grid_jobs([lr], plan, every_row, slots=1) == ([], [])  # nothing left: no group


def test_searched_jobs_keep_their_own_tuner_and_start_by_critical_path() -> None:
    spec = with_search(load_spec("demo"), sampler="grid", configs=2, space={"batch_size": [32, 64, 128]})
    plan = build_plan(spec, *planning_manifest(spec, None), load_figures())
    job = plan.jobs[0].job
    assert not runs_whole_grid(job)  # 2 of 3: which two is the search's choice, left to the seeded order
    assert type(make_sampler(job.sampler, 0, job.space)) is optuna.samplers.GridSampler
    groups, searched = split_grid_jobs(spec.jobs(), plan, [], slots=2)
    assert groups == [] and searched == spec.jobs()
    assert start_order(groups, searched, plan, slots=2) == longest_first(spec.jobs(), plan)
    whole = dataclasses.replace(job, configs=3)
    costs = grid_costs(plan, whole)
    assert runs_whole_grid(whole) and set(costs) == {(32,), (64,), (128,)}
    assert costs[(128,)][0] > costs[(64,)][0]  # 2 steps per epoch on 240 rows: more epochs to the best one


def test_a_group_with_a_long_critical_path_starts_before_shorter_searched_jobs() -> None:
    plan = demo_plan()
    jobs = plan.spec.jobs()
    long_group = GridGroup("is10", "train", (jobs[0],), ({POINT_JOB: jobs[0].name},), (1e9,))
    short_group = dataclasses.replace(long_group, features="w2v", costs=(1e-9,))
    order = start_order([short_group, long_group], jobs[:2], plan, slots=2)
    assert order[0] is long_group and order[-1] is short_group


def test_the_efficiency_line_and_its_record_beside_the_results(tmp_path: Path) -> None:
    run = SweepRun(20, 1530.0, 744.0, 796.0, 2, 1.0, 12.9)
    assert run.efficiency == pytest.approx(1530 / (796 * 2)) and run.used_core_minutes == pytest.approx(12.4)
    line = run.line("demo")
    assert line.startswith("sweep demo: efficiency 0.96 (20 Tune trials: 1,530 s in 796 s × 2 slots)")
    assert "core-minutes projected 12.9, used 12.4 (-4%)" in line and "25.5 held" in line
    assert "the first" not in line  # a record without the first trial's start (written before it was kept)
    started = dataclasses.replace(run, first_trial_s=4.6).line("demo")
    assert "in 796 s × 2 slots, the first after 5 s); core-minutes" in started
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
