"""`rdlr plan` against the sweep it plans: projected core-minutes next to the core-minutes the sweep used, and the
sweep's efficiency (issue 29), printed side by side.

1. ``rdlr plan SPEC`` with this machine's calibrated rates (``--calibrate``: measured again first) into an empty
   storage folder, so that it projects the whole spec;
2. ``rdlr reproduce SPEC`` into that folder (prepare, extract, sweep, report), timed;
3. the sweep's own record (``<storage>/<spec id>/sweep_runs.json``, :mod:`rdlr.sweep.efficiency`): its trials' wall
   and CPU seconds, its wall time and slots; with the 1-minute load average before and after, as this machine may
   be shared.

    python benchmarks/bench_plan_vs_sweep.py                                   # the demo (~10 min on 2 quiet cores)
    python benchmarks/bench_plan_vs_sweep.py SPEC --data-root DIR              # a spec of one's own
    python benchmarks/bench_plan_vs_sweep.py demo --storage OLD --no-run       # figures of a finished run only

A projection is good within ±25 % (used / projected in 0.75-1.25), a sweep's efficiency at 0.95 or above.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def rdlr(args: list[str], log: Path) -> str:
    """Run ``python -m rdlr ARGS`` from the repository's checkout; its output (also written to ``log``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "rdlr", *args], env=env, capture_output=True, text=True)
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"rdlr {' '.join(args)} failed ({done.returncode}); see {log}")
    return done.stdout


def projected_minutes(plan_text: str) -> float:
    """The core-minutes (or hours) of the plan's ``projected`` line."""
    found = re.search(r"projected [^:]+: [\d,]+ trials, ([\d,.]+) core-(minutes|hours)", plan_text)
    if not found:
        raise SystemExit("no projected core-time in the plan's output")
    value = float(found.group(1).replace(",", ""))
    return value * (60 if found.group(2) == "hours" else 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="demo")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--storage", default=None, help="storage folder (default: a new temporary one)")
    parser.add_argument("--calibrate", action="store_true", help="measure this machine's rates again first")
    parser.add_argument("--no-run", action="store_true", help="report the sweep already run in --storage")
    args = parser.parse_args()
    storage = Path(args.storage or tempfile.mkdtemp(prefix="bench-plan-"))
    data = ["--data-root", args.data_root] if args.data_root else []
    sys.path.insert(0, str(REPO))
    from rdlr.io.storage import Storage
    from rdlr.spec import load_spec
    from rdlr.sweep.efficiency import read_runs

    spec = load_spec(args.spec)
    load_before = os.getloadavg()[0]
    wall = None
    if not args.no_run:
        plan = rdlr(["plan", args.spec, "--storage", str(storage), *data, *(["--calibrate"] if args.calibrate else [])],
                    storage.parent / f"{storage.name}-plan.log")  # fmt: skip
        print(next(line for line in plan.splitlines() if line.startswith("  rates:")))
        print(f"rdlr plan: {projected_minutes(plan):.1f} core-minutes projected for the whole spec")
        started = time.monotonic()
        rdlr(["reproduce", args.spec, "--storage", str(storage), "--out", str(storage / "reports"), *data],
             storage.parent / f"{storage.name}-reproduce.log")  # fmt: skip
        wall = time.monotonic() - started
    runs = read_runs(Storage(storage).child(spec.id))
    if not runs:
        raise SystemExit(f"no sweep run recorded in {storage}/{spec.id}")
    run = runs[-1]
    load_after = os.getloadavg()[0]
    projected = run.projected_core_minutes or float("nan")
    print(f"\n{spec.id} on {os.cpu_count()} CPUs; 1-min load average {load_before:.1f} before, {load_after:.1f} after"
          + (f"; reproduce {wall:.0f} s end to end" if wall else ""))  # fmt: skip
    print(f"{'':24} {'projected':>10} {'used (CPU)':>11} {'used/proj.':>10} {'held (wall × CPUs)':>19}")
    print(f"{'core-minutes':24} {projected:>10.1f} {run.used_core_minutes:>11.1f} "
          f"{run.used_core_minutes / projected:>10.2f} {run.held_core_minutes:>19.1f}")  # fmt: skip
    first = "" if run.first_trial_s is None else f", the first after {run.first_trial_s:.1f} s"
    print(f"{'sweep efficiency':24} {run.efficiency:>10.2f}  ({run.trials} Tune trials: {run.trial_wall_s:,.0f} s "
          f"in {run.sweep_s:,.0f} s × {run.slots} slots{first})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
