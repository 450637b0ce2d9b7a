"""Overhead per model of a Ray Tune sweep on CPU, and the demo end to end, for this checkout and others side by side.

1. **Overhead per model**: sweeps of tiny models (``rdlr.sweep.driver.run_sweep``, one epoch on a small synthetic
   table) on a private Ray of one trial slot, so that the sweep's wall time less the models' own training time
   (``wall_time_s`` of each results row) is what the sweep spends around them: Tune's scheduling, trial actors,
   the trials' split of the rows, result writing. Two shapes (:data:`CASES`): a search (2 jobs × 4 configurations
   × 5 seeds = 40 models) and the demo's (8 jobs of one configuration × 3 seeds = 24 models, one Tuner each).
   Each checkout given runs in a process of its own with its ``rdlr`` on the path, one after the other, so
   ``--checkout /path/to/old/worktree`` measures the layout before a change in the same run (e.g.
   ``git worktree add /tmp/before 4a3bfa1``: one Tune trial per seed).
2. **A paper-size trial's fixed costs** (``--fixed-costs``, no Ray): the roles (Section 3.1), the trial data and
   the prepared, z-normalised rows of an out-of-corpus split with POD held out on a table of the paper's sizes
   (``support/scale_data.py``, 1,582 dims), which one trial per seed paid for every model (twice for LR / self-KD:
   stage 1 and stage 2 each prepared the rows) and a worker now pays once.
3. **The demo** (``--demo``): ``rdlr reproduce --demo`` timed end to end (corpora, IS10 extraction, sweep, report)
   for each checkout, each into a fresh storage folder, and its results rows compared with the first checkout's
   (or with ``--same-rows-as results.csv`` of an earlier run): every column but the per-run ones must be equal.

    python benchmarks/bench_overhead.py --checkout /tmp/before             # overhead: before vs this checkout
    python benchmarks/bench_overhead.py --fixed-costs                      # paper-size split + preparation
    python benchmarks/bench_overhead.py --demo --same-rows-as OLD/demo/results.csv

``--out`` writes the JSON; ``--install`` puts this checkout's overhead per model into rdlr/data/scale_figures.json
(``ray.overhead_s_per_model`` of the search shape, what ``rdlr plan`` adds per model).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from support.checkout_runs import checkout_env, child_figures  # benchmarks/ is on the path: the scripts run from there

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PER_RUN_COLUMNS = ("wall_time_s", "cpu_time_s", "trial_id", "node", "host")  # differ between any two runs
DEMO_CORPORA = ("CRE-demo", "IEM-demo", "IMP-demo", "POD-demo")
CASES: dict[str, dict[str, Any]] = {  # held-out corpora, methods, batch sizes searched (all of them), seeds
    "search": {"held_out": DEMO_CORPORA[:2], "methods": ("ce",), "batch_sizes": (16, 32, 64, 128), "seeds": 5},
    "demo-like": {"held_out": DEMO_CORPORA, "methods": ("ce", "rd"), "batch_sizes": (32,), "seeds": 3},
}


def overhead_spec(case: str) -> dict[str, Any]:
    """A tiny sweep of :data:`CASES`: out of corpus, every batch size of the case, every seed, one epoch."""
    shape = CASES[case]
    return {
        "id": f"overhead-{case}",
        "data": {"source": "demo"},
        "features": ["is10"],
        "held_out": list(shape["held_out"]),
        "unlabeled": "LIB-demo",
        "protocols": {"out_of_corpus": list(shape["methods"])},
        "seeds": list(range(shape["seeds"])),
        "search": {"configs": len(shape["batch_sizes"]), "space": {"batch_size": list(shape["batch_sizes"])}},
        "training": {"max_epochs": 1},
        "resources": {"cpus_per_trial": 1, "max_failures": 0},
    }


def tiny_table() -> tuple[Any, Any]:
    """40 labeled rows per demo corpus and 16 unlabeled ones, 32 random features (the models' compute is small)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    labels = ("neutral", "happy", "sad", "angry")
    records = [(f"{c}-{i}", c, labels[i % 4], f"{c}-spk{i % 6}") for c in DEMO_CORPORA for i in range(40)]
    records += [(f"LIB-demo-{i}", "LIB-demo", "", f"LIB-demo-spk{i % 4}") for i in range(16)]
    meta = pd.DataFrame(records, columns=["utt_id", "corpus", "label", "speaker"])
    return rng.standard_normal((len(meta), 32), dtype=np.float32), meta


def measure_overhead(case: str) -> dict[str, Any]:
    """Run the tiny sweep of ``case`` with the ``rdlr`` on the path (in a child process); its timings."""
    import pandas as pd
    import ray

    from rdlr.spec.core import SweepSpec
    from rdlr.sweep.driver import run_sweep

    started = time.monotonic()
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    ray_start_s = time.monotonic() - started
    with tempfile.TemporaryDirectory() as storage:
        try:
            outcome = run_sweep(
                SweepSpec.from_dict(overhead_spec(case)), {"is10": tiny_table()}, storage, log=lambda line: None
            )
        finally:
            ray.shutdown()
        rows = pd.read_csv(outcome.results_uri)
    models_s = float(rows["wall_time_s"].sum())
    return {
        "models": len(rows),
        "ok": outcome.ok,
        "ray_start_s": ray_start_s,
        "sweep_wall_s": outcome.wall_time_s,
        "models_wall_s": models_s,
        "overhead_s_per_model": (outcome.wall_time_s - models_s) / max(1, len(rows)),
        "wall_s_per_model": outcome.wall_time_s / max(1, len(rows)),
    }


def fixed_costs(repeats: int = 2) -> dict[str, float]:
    """Seconds of a paper-size trial's roles, trial data and prepared rows (with the unlabeled rows: AE / PEL), the
    fastest of ``repeats``."""
    import numpy as np
    import torch
    from support.scale_data import paper_manifest

    from rdlr.corpora import assign_roles
    from rdlr.train import TrialData
    from rdlr.train.data import prepare

    torch.set_num_threads(1)
    meta = paper_manifest()
    x = np.random.default_rng(0).standard_normal((len(meta), 1582), dtype=np.float32)
    best = {"roles_s": math.inf, "trial_data_s": math.inf, "prepare_s": math.inf}
    for _ in range(repeats):
        started = time.perf_counter()
        roles = assign_roles(meta, "out_of_corpus", "POD", seed=0)
        split = time.perf_counter()
        data = TrialData.from_table(x, meta, roles)
        built = time.perf_counter()
        prepare(data, "cpu", unlabeled=True)
        done = time.perf_counter()
        for name, seconds in zip(best, (split - started, built - split, done - built)):
            best[name] = min(best[name], seconds)
    return {**best, "rows": len(meta)}


def run_demo(checkout: Path, folder: Path) -> dict[str, Any]:
    """``rdlr reproduce --demo`` of ``checkout`` into ``folder``, timed; where its results are."""
    folder.mkdir(parents=True)
    log = folder / "reproduce.log"
    started = time.monotonic()
    with log.open("w") as output:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rdlr",
                "reproduce",
                "--demo",
                "--storage",
                str(folder / "runs"),
                "--out",
                str(folder / "reports"),
            ],
            env=checkout_env(checkout),
            stdout=output,
            stderr=output,
        )
    if done.returncode != 0:
        raise RuntimeError(f"rdlr reproduce --demo of {checkout} failed: see {log}")
    return {
        "wall_s": time.monotonic() - started,
        "results": str(folder / "runs" / "demo" / "results.csv"),
        "log": str(log),
    }


def differing_columns(results: str, reference: str) -> list[str]:
    """Columns (but the per-run ones) whose values differ between two results tables, row by row in trial-key
    order; ``["rows"]`` when they hold different trials."""
    from rdlr.results import TRIAL_KEY, read_results

    frames = [read_results(path) for path in (results, reference)]  # a table without normalization reads as train
    frames = [
        f.drop(columns=[c for c in PER_RUN_COLUMNS if c in f.columns])
        .sort_values(list(TRIAL_KEY))
        .reset_index(drop=True)
        for f in frames
    ]
    mine, theirs = frames
    if len(mine) != len(theirs) or not mine[list(TRIAL_KEY)].equals(theirs[list(TRIAL_KEY)]):
        return ["rows"]
    columns = sorted(set(mine.columns) | set(theirs.columns))
    return [c for c in columns if c not in mine or c not in theirs or not mine[c].equals(theirs[c])]


def _child(checkout: Path, case: str) -> dict[str, Any]:
    return child_figures(__file__, checkout, [case], "overhead sweep")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkout",
        type=Path,
        action="append",
        default=[],
        help="another checkout of rdlr to measure before this one (repeatable)",
    )
    parser.add_argument("--demo", action="store_true", help="time `rdlr reproduce --demo` instead")
    parser.add_argument("--fixed-costs", action="store_true", help="a paper-size trial's split and preparation")
    parser.add_argument(
        "--same-rows-as",
        type=Path,
        default=None,
        help="--demo: compare the rows with this results.csv (default: the first checkout's)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the measurements as JSON")
    parser.add_argument(
        "--install",
        action="store_true",
        help="put this checkout's overhead per model into rdlr/data/scale_figures.json",
    )
    parser.add_argument("--child", choices=tuple(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_overhead(args.child)))
        return 0
    checkouts = [*(c.resolve() for c in args.checkout), REPO]
    measured: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0], "runs": []}
    if args.fixed_costs:
        costs = measured["fixed_costs"] = fixed_costs()
        once = sum(costs[name] for name in ("roles_s", "trial_data_s", "prepare_s"))
        print(
            f"a paper-size trial's fixed costs ({costs['rows']:,} rows, 1,582 dims, POD held out): roles "
            f"{costs['roles_s']:.2f} s + trial data {costs['trial_data_s']:.2f} s + prepared rows "
            f"{costs['prepare_s']:.2f} s = {once:.2f} s; one trial per seed paid them per model "
            f"({once + costs['prepare_s']:.2f} s for LR / self-KD), a worker now pays them once for every seed and "
            "configuration it trains",
            flush=True,
        )
    elif args.demo:
        work = Path(tempfile.mkdtemp(prefix="rdlr-demo-bench-"))
        reference = str(args.same_rows_as) if args.same_rows_as else None
        for i, checkout in enumerate(checkouts):
            run = {"checkout": str(checkout), **run_demo(checkout, work / str(i))}
            reference = reference or run["results"]
            run["differing_columns"] = differing_columns(run["results"], reference)
            measured["runs"].append(run)
            same = "same rows" if not run["differing_columns"] else f"DIFFERENT: {', '.join(run['differing_columns'])}"
            print(
                f"{checkout}: rdlr reproduce --demo {run['wall_s'] / 60:.1f} min end to end; {same} as {reference}",
                flush=True,
            )
    else:
        for case, shape in CASES.items():
            jobs = len(shape["held_out"]) * len(shape["methods"])
            print(
                f"overhead per model, {case}: {jobs} jobs × {len(shape['batch_sizes'])} configurations × "
                f"{shape['seeds']} seeds, one epoch on 40 rows per corpus, one trial slot (goal ≤ 0.3 s)",
                flush=True,
            )
            for checkout in checkouts:
                run = {"case": case, "checkout": str(checkout), **_child(checkout, case)}
                measured["runs"].append(run)
                print(
                    f"  {checkout}: {run['models']} models{'' if run['ok'] else ' (SOME FAILED)'} in "
                    f"{run['sweep_wall_s']:.1f} s, of which training {run['models_wall_s']:.1f} s: overhead "
                    f"{run['overhead_s_per_model']:.2f} s per model",
                    flush=True,
                )
    measured["load_after"] = os.getloadavg()[0]
    if args.out:
        args.out.write_text(json.dumps(measured, indent=1))
    if args.install and not args.demo:
        install(next(run for run in measured["runs"] if run["case"] == "search" and run["checkout"] == str(REPO)))
    return 0


def install(run: dict[str, Any]) -> None:
    """This checkout's overhead per model into the packaged figures (``ray.overhead_s_per_model``)."""
    from rdlr.models.folder import write_atomically

    path = REPO / "rdlr" / "data" / "scale_figures.json"
    figures = json.loads(path.read_text())
    figures["ray"] = {
        **figures.get("ray", {}),
        "overhead_s_per_model": run["overhead_s_per_model"],
        "overhead_source": "benchmarks/bench_overhead.py (one trial per configuration, every seed)",
    }
    write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(figures, indent=1) + "\n"))
    print(f"installed: {path} ray.overhead_s_per_model = {run['overhead_s_per_model']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
