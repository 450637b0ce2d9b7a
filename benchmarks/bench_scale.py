"""Paper-scale rehearsal: what one full-size trial costs, and what the full Tables 2 and 3 cost.

Draws feature tables of exactly the paper's sizes (CRE 4,899 · IEM 5,531 · IMP 7,798 · POD 46,161 labeled, LIB
28,539 unlabeled; speakers, sessions and POD partitions shaped for the splits of Section 3.1:
support/scale_data.py), then

1. runs real trials through ``rdlr.train.run_trial`` (out-of-corpus, POD held out), each in its own process, for
   CE, CWW + † and RDLR + CWW + † (with its stage 1), at batch 1024 and 4096, with 1,582 and 2,862 dimensions:
   seconds per epoch, epochs to early stop, seconds per trial, peak RSS (and the trial's own share of it against
   the rows it uses), plus one CE case with per-epoch test evaluation switched on (the old default);
2. compares the trainer's samples/s with a bare PyTorch loop of the same shapes (support/scale_runs.py);
3. runs one small Ray Tune sweep (``rdlr.sweep.driver.run_sweep``) of the same trials: driver set-up time,
   object-store bytes, each trial's time inside Ray against the sweep's wall time (Ray's overhead), worker peak RSS;
4. writes the per-case rates as JSON (what ``rdlr plan --figures`` reads; ``--install`` copies it to
   rdlr/data/scale_figures.json) and prints ``projected full Table 2/3: <trials> trials, <X> core-hours (CPU),
   <Y> GPU-hours`` from the cost model (rdlr.sweep.cost) on the packaged table2/table3 specs, with its assumptions.

With ``--device cuda`` (a machine with a GPU; Ray not needed) steps 1 and 2 run on the GPU instead, followed by
trials sharing it (1, 2, 4 and 8 at once: how much more work they get through together); its JSON goes into the
CPU figures with ``--gpu-figures`` (``--merge-only``: into figures already measured). Without it a CPU run takes
the packaged figures' GPU part (measured on an H200), and without those the cost model's stated assumed rates.

    python benchmarks/bench_scale.py --quick      # 1,582 dims, batch 1024, 2 epochs per trial: < 10 min on 2 cores
    python benchmarks/bench_scale.py              # the full rehearsal (about 25 min on 2 quiet cores)
    python benchmarks/bench_scale.py --device cuda --out gpu.json                  # on a GPU machine (~4 min)
    python benchmarks/bench_scale.py --merge-only --gpu-figures gpu.json --install # figures rdlr plan reads
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

MB = 1024**2
METHODS = ("ce", "cww_dagger", "rdlr_cww_dagger")


def plan_cases(quick: bool, folder: Path, threads: int, device: str) -> list[dict[str, Any]]:
    """The trial cases: the full grid, or (``quick``) one batch size and dimension, 2 epochs each (on a GPU, whose
    trials take seconds, the quick cases train to early stopping too)."""
    dims, batches = ((1582,), (1024,)) if quick else ((1582, 2862), (1024, 4096))
    epochs, patience = (2, 5) if quick and device == "cpu" else (100, 5)
    common = {"folder": str(folder), "threads": threads, "patience": patience, "device": device}
    cases = [
        {**common, "method": m, "batch": b, "dims": d, "max_epochs": epochs}
        for d in dims
        for b in batches
        for m in METHODS
    ]
    cases.append(
        {
            **common,
            "method": "ce",
            "batch": 1024,
            "dims": 1582,
            "max_epochs": 2 if quick else 4,
            "eval_test_each_epoch": True,
        }
    )
    return cases


def run_children(kind: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``scale_runs.<kind>_case(case)`` for every case at once, each in a fresh process; the last stdout line
    of each is its JSON result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE), os.environ.get("PYTHONPATH", "")])}
    children = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--child", kind, json.dumps(case)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for case in cases
    ]
    results = []
    for case, child in zip(cases, children):
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"{kind} case {case} failed:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def run_child(kind: str, case: dict[str, Any]) -> dict[str, Any]:
    """Run ``scale_runs.<kind>_case(case)`` in a fresh process (:func:`run_children`)."""
    return run_children(kind, [case])[0]


SHARING_COUNTS = (1, 2, 4, 8)  # trials at once on one GPU


def measure_sharing(folder: Path, threads: int, quick: bool) -> list[dict[str, Any]]:
    """How much more work trials sharing one GPU do together than one alone: CWW + † at batch 1024 (the specs'
    most common kind), 1,582 dims, run 1, 2, 4 and 8 at a time; the speed-up is the trials' summed training rows
    per second (from each trial's median epoch time) over that of one trial alone."""
    case = {
        "folder": str(folder),
        "threads": threads,
        "device": "cuda",
        "method": "cww_dagger",
        "batch": 1024,
        "dims": 1582,
        "max_epochs": 6 if quick else 10,
        "patience": 1000,
    }
    sharing, alone = [], None
    for count in SHARING_COUNTS:
        results = run_children("trial", [case] * count)
        rate = sum(result["rows"]["train"] / result["s_per_epoch"] for result in results)
        alone = alone or rate
        sharing.append({"trials": count, "rows_per_s": rate, "speedup": rate / alone})
        print(
            f"  {count} trial(s) at once on the GPU: {rate:9.0f} training rows/s together = "
            f"{rate / alone:.2f} × one alone",
            flush=True,
        )
    return sharing


def case_line(result: dict[str, Any]) -> str:
    stop = f"{result['epochs']} ({'early stop' if result['early_stopped'] else 'cap'})"
    if result["stage1_epochs"]:
        stop += f" + stage 1 {result['stage1_epochs']}"
    test_each = " +test/epoch" if result.get("eval_test_each_epoch") else ""
    return (
        f"  {result['method']:<16}{test_each:<12} D={result['dims']:<5} M={result['batch']:<5} "
        f"{result['s_per_epoch']:7.1f} s/epoch  epochs {stop:<30} {result['s_per_trial']:8.1f} s/trial  "
        f"peak RSS {result['peak_rss'] / MB:6.0f} MB (trial's own {result['trial_peak_bytes'] / MB:5.0f} MB = "
        f"{result['trial_peak_bytes'] / result['own_data_bytes']:.2f} × its "
        f"{result['own_data_bytes'] / MB:.0f} MB "
        f"of rows)  test UA {result['test_ua']:.3f}"
        + (f"  GPU peak {result['gpu_peak_bytes'] / MB:.0f} MB" if result.get("gpu_peak_bytes") else "")
        + (f"  [load {result['load_before']:.1f}→{result['load_after']:.1f}]" if "load_after" in result else "")
    )


def machine_description(threads: int, loads: list[tuple[float, float, float]]) -> dict[str, Any]:
    cpus = os.cpu_count() or 0
    one_minute = [load[0] for load in loads]
    mean_load = sum(one_minute) / len(one_minute)
    return {
        "description": f"{platform.machine()} {cpus} cores, {platform.system()}, shared (1-min load average "
        f"{min(one_minute):.1f}-{max(one_minute):.1f} during the run)",
        "cpus": cpus,
        "threads_per_trial": threads,
        "load_average_mean": round(mean_load, 2),
        "python": platform.python_version(),
        "torch": __import__("torch").__version__,
    }


def projections(figures_raw: dict[str, Any], log: Any = print) -> dict[str, Any]:
    """``projected full Table 2/3`` lines from the packaged specs and the figures just measured."""
    from rdlr.spec.core import load_spec
    from rdlr.sweep.cost import Figures
    from rdlr.sweep.plan import build_plan, planning_manifest
    from rdlr.sweep.plan_text import gpu_assumption

    figures = Figures.from_dict(figures_raw, "this run")
    out, trials_per_gpu = {}, 1
    for name, title in (("table2", "Table 2"), ("table3", "Table 3")):
        spec = load_spec(name)
        meta, source = planning_manifest(spec, None)
        plan = build_plan(spec, meta, source, figures)
        trials_per_gpu = plan.trials_per_gpu
        trial_s = sum(job.cpu_s for job in plan.jobs) / plan.trials
        out[name] = {
            "trials": plan.trials,
            "core_hours": plan.core_hours,
            "gpu_hours": plan.gpu_hours,
            "mean_trial_s": trial_s,
            "ray_overhead_fraction": figures.ray_overhead_s / trial_s,
        }
        log(
            f"projected full {title}: {plan.trials:,} trials, {plan.core_hours:,.0f} core-hours (CPU), "
            f"{plan.gpu_hours:,.1f} GPU-hours"
        )
        log(
            f"  (mean trial {trial_s / 60:.1f} min at {figures.threads} threads; Ray's {figures.ray_overhead_s:.1f} s "
            f"per trial = {figures.ray_overhead_s / trial_s:.1%} of it)"
        )
    epochs = {kind: figures.epochs(kind) for kind in ("plain", "ae")}
    log(
        "  assumptions: "
        + "; ".join(
            f"{kind} trials stop after {value:g} epochs ({'measured' if m else 'assumed'})"
            for kind, (value, m) in epochs.items()
        )
        + f"; rates of this machine at {figures.threads} threads per trial, core-hours = trial time × threads; "
        "rows per trial from the paper's sizes and splits; stage 1 counted in every LR/self-KD trial (upper "
        f"bound); Ray overhead {figures.ray_overhead_s:.1f} s per trial; {gpu_assumption(figures, trials_per_gpu)}; "
        "a 16-core node runs 8 trials at once (2 CPUs each): "
        f"{out['table2']['core_hours'] / 16 / 24:,.1f} days for Table 2, "
        f"{out['table3']['core_hours'] / 16 / 24:,.1f} for Table 3"
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one batch size and dimension, 2 epochs per trial")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per trial (the specs ask 2 CPUs)")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cuda: measure the trials on the GPU (and trials sharing it) instead, without Ray; "
        "give the JSON it writes to a CPU run's --gpu-figures",
    )
    parser.add_argument(
        "--gpu-figures",
        type=Path,
        default=None,
        help="the JSON of a --device cuda run, merged into this run's figures; with --merge-only, "
        "into the figures already at --out (no measurement) and the projections printed again",
    )
    parser.add_argument(
        "--merge-only", action="store_true", help="with --gpu-figures: measure nothing, merge into --out's figures"
    )
    parser.add_argument(
        "--sweep-only", action="store_true", help="measure only the Ray Tune sweep and put it into --out's figures"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the tables go (default: a temp folder)")
    parser.add_argument(
        "--out", type=Path, default=None, help="figures JSON (default: benchmarks/results/scale_figures[_gpu].json)"
    )
    parser.add_argument("--install", action="store_true", help="also copy the JSON to rdlr/data/scale_figures.json")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the trial and throughput results of an interrupted run (<out>.partial.json)",
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from support import scale_runs

        print(json.dumps(getattr(scale_runs, f"{args.child[0]}_case")(json.loads(args.child[1]))))
        return 0
    if args.device == "cuda" and (args.install or args.gpu_figures):
        parser.error("--install and --gpu-figures belong to a CPU run (--device cpu)")
    args.out = args.out or HERE / "results" / f"scale_figures{'_gpu' if args.device == 'cuda' else ''}.json"
    if args.merge_only:
        if args.gpu_figures is None:
            parser.error("--merge-only needs --gpu-figures")
        return merge_into_figures(args, "gpu", lambda folder: gpu_section(args.gpu_figures))
    if args.sweep_only:
        from support.scale_sweep import run_sweep_case

        return merge_into_figures(args, "ray", lambda folder: run_sweep_case(folder, args.quick, args.threads))
    started = time.monotonic()
    own_workdir = args.workdir is None
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="rdlr-scale-"))
    try:
        (rehearse_gpu if args.device == "cuda" else rehearse_cpu)(args, folder)
    finally:
        if own_workdir:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"rehearsal done in {time.monotonic() - started:.0f}s")
    return 0


def draw_tables(folder: Path, quick: bool) -> None:
    from support.scale_data import write_tables

    started = time.monotonic()
    dims = [1582] if quick else [1582, 2862]
    print(
        f"drawing feature tables ({', '.join(map(str, dims))} dims) of the paper's sizes into {folder} ...", flush=True
    )
    meta = write_tables(folder, dims)
    counts = meta["corpus"].value_counts(sort=False).items()
    print(
        f"  {len(meta):,} rows: "
        + ", ".join(f"{c} {n:,}" for c, n in counts)
        + f" ({time.monotonic() - started:.0f}s)",
        flush=True,
    )


def run_trials_and_throughput(
    args: argparse.Namespace, folder: Path, loads: list[tuple[float, float, float]]
) -> tuple[list[Any], list[Any]]:
    """The trial cases, then the trainer against the bare loop, each result saved as it comes (``--resume``)."""
    partial = args.out.with_suffix(".partial.json")
    done = json.loads(partial.read_text()) if args.resume and partial.exists() else {"cases": [], "throughput": []}
    where = "on the GPU" if args.device == "cuda" else f"{args.threads} threads"
    print(f"trials through run_trial (out-of-corpus, POD held out), one process each, {where}:", flush=True)
    cases, throughput = done["cases"], done["throughput"]
    for case in plan_cases(args.quick, folder, args.threads, args.device)[len(cases) :]:
        cases.append({**run_child("trial", case), "load_before": loads[-1][0]})
        loads.append(os.getloadavg())
        cases[-1]["load_after"] = loads[-1][0]
        _save(partial, {"cases": cases, "throughput": throughput})
    for case in cases:
        print(case_line(case), flush=True)
    print("trainer vs bare PyTorch loop (same shapes, per-epoch validation included), D=1582, M=1024:", flush=True)
    on_gpu = args.device == "cuda"
    for method in ("ce", "cww_dagger")[len(throughput) :]:
        throughput.append(
            run_child(
                "throughput",
                {
                    "folder": str(folder),
                    "dims": 1582,
                    "batch": 1024,
                    "method": method,
                    "threads": args.threads,
                    "device": args.device,
                    "epochs": 2 if args.quick and not on_gpu else 4,
                    "repeats": 1 if args.quick and not on_gpu else 2,
                },
            )
        )
        loads.append(os.getloadavg())
        _save(partial, {"cases": cases, "throughput": throughput})
    for result in throughput:
        print(
            f"  {result['method']:<12} trainer {result['trainer_samples_per_s']:8.0f} samples/s, bare loop "
            f"{result['bare_samples_per_s']:8.0f} samples/s: ratio {result['ratio']:.2f} (target >= 0.9)",
            flush=True,
        )
    return cases, throughput


def rehearse_gpu(args: argparse.Namespace, folder: Path) -> None:
    """The trial cases and the trainer-vs-bare-loop comparison on the GPU, then trials sharing it."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench_scale.py --device cuda: torch sees no GPU here")
    draw_tables(folder, args.quick)
    loads = [os.getloadavg()]
    cases, throughput = run_trials_and_throughput(args, folder, loads)
    print("trials sharing one GPU (CWW + †, D=1582, M=1024):", flush=True)
    sharing = measure_sharing(folder, args.threads, args.quick)
    name = torch.cuda.get_device_name(0)
    figures = {
        "format": 1,
        "device": "cuda",
        "quick": args.quick,
        "machine": {**machine_description(args.threads, loads), "description": f"one {name}"},
        "cases": [c for c in cases if not c.get("eval_test_each_epoch")],
        "per_epoch_test_case": next(c for c in cases if c.get("eval_test_each_epoch")),
        "throughput": throughput,
        "sharing": sharing,
    }
    _save(args.out, figures)
    args.out.with_suffix(".partial.json").unlink(missing_ok=True)
    print(f"GPU figures: {args.out} (give it to a CPU run: --gpu-figures {args.out})")


def gpu_section(path: Path | None) -> dict[str, Any] | None:
    """The ``gpu`` part of the figures from a ``--device cuda`` run's JSON."""
    if path is None:
        return None
    measured = json.loads(path.read_text())
    if measured.get("device") != "cuda":
        raise SystemExit(f"{path}: not the JSON of a `bench_scale.py --device cuda` run")
    return {
        "machine": measured["machine"]["description"],
        "cases": measured["cases"],
        "sharing": measured["sharing"],
        "throughput": measured["throughput"],
    }


def merge_into_figures(args: argparse.Namespace, key: str, measure: Callable[[Path], Any]) -> int:
    """Replace ``key`` of the figures at ``args.out`` by ``measure(tables folder)`` and print the projections
    again (``--merge-only``: a GPU run's figures; ``--sweep-only``: the Ray Tune sweep measured again)."""
    figures = json.loads(args.out.read_text())
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="rdlr-scale-"))
    try:
        if key == "ray":
            draw_tables(folder, quick=True)
        figures[key] = measure(folder)
    finally:
        if args.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    projections(figures)
    _save(args.out, figures)
    _install(args)
    return 0


def _install(args: argparse.Namespace) -> None:
    print(f"figures: {args.out}")
    if args.install:
        shutil.copyfile(args.out, REPO / "rdlr" / "data" / "scale_figures.json")
        print("installed as rdlr/data/scale_figures.json (what `rdlr plan` reads by default)")


def rehearse_cpu(args: argparse.Namespace, folder: Path) -> None:
    """The trial cases, the trainer against the bare loop and the Ray Tune sweep on this machine's CPUs; then the
    projections of the full tables."""
    from support.scale_sweep import run_sweep_case

    gpu = gpu_section(args.gpu_figures) if args.gpu_figures else _packaged_gpu()
    draw_tables(folder, args.quick)
    loads = [os.getloadavg()]
    cases, throughput = run_trials_and_throughput(args, folder, loads)
    sweep = run_sweep_case(folder, args.quick, args.threads)
    loads.append(os.getloadavg())
    figures = {
        "format": 1,
        "quick": args.quick,
        "machine": machine_description(args.threads, loads),
        "cases": [c for c in cases if not c.get("eval_test_each_epoch")],
        "per_epoch_test_case": next(c for c in cases if c.get("eval_test_each_epoch")),
        "throughput": throughput,
        "ray": sweep,
        "gpu": gpu,
        "epochs": _fallback_epochs() if args.quick else None,
    }
    projections(figures)
    _save(args.out, figures)
    args.out.with_suffix(".partial.json").unlink(missing_ok=True)
    _install(args)


def _save(path: Path, content: dict[str, Any]) -> None:
    """Write JSON whole or not at all (:func:`rdlr.models.folder.write_atomically`)."""
    from rdlr.models.folder import write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(content, indent=1)))


def _fallback_epochs() -> dict[str, Any] | None:
    """Epochs per trial for a quick run (which caps trials at 2 epochs): the packaged full run's measured ones."""
    from rdlr.sweep.cost import FiguresError, load_figures

    try:
        packaged = load_figures()
    except FiguresError:
        return None
    return {kind: packaged.epochs(kind)[0] for kind in ("plain", "ae") if packaged.epochs(kind)[1]} | {
        "source": f"{packaged.source} (full run)"
    }


def _packaged_gpu() -> dict[str, Any] | None:
    """The GPU part of the packaged figures (measured by a ``--device cuda`` run), for a run given none."""
    from rdlr.sweep.cost import PACKAGED_FIGURES

    try:
        gpu = json.loads(PACKAGED_FIGURES.read_text()).get("gpu")
    except (OSError, json.JSONDecodeError):
        return None
    if gpu:
        print(f"GPU figures: the packaged ones ({gpu['machine']}); --gpu-figures gives a GPU run's own", flush=True)
    return gpu


if __name__ == "__main__":
    sys.exit(main())
