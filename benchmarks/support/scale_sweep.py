"""The Ray part of the scale rehearsal: one small Ray Tune sweep (``rdlr.sweep.driver.run_sweep``) of paper-sized
trials, on a Ray instance of its own with one trial slot (a trial asks for all the CPUs it trains on), so that
the sweep's wall time less the trials' own time (``wall_time_s`` of each results row, what ``run_trial`` took) is
Ray's overhead: driver set-up, Tune's scheduling, trial-actor start, the trial's split and result writing.

Measured: Ray's start, the driver's set-up (``run_sweep`` called → first trial started, from the attempt records),
object-store bytes (the features, put once, plus the metadata), overhead per trial and as a share of the trials'
summed time, and the trial workers' peak RSS (``VmHWM`` of the processes the attempt records name).
"""

from __future__ import annotations

import json
import pickle
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from rdlr.spec.core import SweepSpec

from .scale_data import read_table

CORPORA = {"CRE": "cremad", "IEM": "iemocap", "IMP": "msp_improv", "POD": "msp_podcast", "LIB": "librispeech"}
FIXED = {"lambda_w": [2], "lambda_ae": [0.01], "lambda_rd": [0.01], "gamma": [0.5]}  # batch size is the search


def rehearsal_spec(methods: list[str], epochs: int, threads: int) -> SweepSpec:
    """Out-of-corpus trials with POD held out, one seed, the batch sizes 1024 and 4096 as the only search."""
    return SweepSpec.from_dict(
        {
            "id": "scale-rehearsal",
            "data": {
                "source": "real",
                "corpora": {name: {"loader": loader, "root": name} for name, loader in CORPORA.items()},
            },
            "features": ["is10"],
            "held_out": ["POD"],
            "unlabeled": "LIB",
            "protocols": {"out_of_corpus": methods},
            "seeds": [0],
            "search": {"configs": 2, "space": {"batch_size": [1024, 4096], **FIXED}},
            "training": {"max_epochs": epochs, "patience": 5},
            "resources": {"cpus_per_trial": threads, "max_failures": 0},
        }
    )


def _peak_rss(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((line for line in text.splitlines() if line.startswith("VmHWM:")), None)
    return int(line.split()[1]) * 1024 if line else None


def _attempts(storage: Path, spec_id: str) -> list[dict[str, Any]]:
    records = []
    for path in (storage / spec_id / "attempts").glob("*"):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):  # being written
            continue
    return records


class PeakWatcher(threading.Thread):
    """Polls the peak RSS (``VmHWM``) of the trial processes the attempt records name while the sweep runs (the
    workers exit when their Tuner ends)."""

    def __init__(self, storage: Path, spec_id: str) -> None:
        super().__init__(daemon=True)
        self.storage, self.spec_id, self.peak, self.stop = storage, spec_id, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for record in _attempts(self.storage, self.spec_id):
                self.peak = max(self.peak, _peak_rss(int(record["pid"])) or 0)


def run_sweep_case(folder: Path, quick: bool, threads: int, log: Any = print) -> dict[str, Any]:
    """Run the rehearsal sweep (module docstring) and print and return what it measured."""
    import ray

    from rdlr.sweep.driver import run_sweep

    methods = ["ce"] if quick else ["ce", "cww_dagger", "rdlr_cww_dagger"]
    epochs = 2 if quick else 100  # the full run's trials train to early stopping, as in the paper's sweeps
    spec = rehearsal_spec(methods, epochs, threads)
    x, meta = read_table(folder, 1582)
    started = time.monotonic()
    ray.init(address="local", num_cpus=threads, include_dashboard=False, log_to_driver=False)
    ray_start_s = time.monotonic() - started
    storage = Path(tempfile.mkdtemp(prefix="runs-", dir=folder))  # fresh: a finished sweep there would resume
    try:
        put_started = time.monotonic()
        x_ref = ray.put(x)  # what `rdlr sweep` does (load_tables(object_store=True)): the driver keeps no copy
        put_s = time.monotonic() - put_started
        table_bytes = x.nbytes
        del x
        watcher = PeakWatcher(storage, spec.id)
        watcher.start()
        called = time.time()
        try:
            outcome = run_sweep(spec, {"is10": (x_ref, meta)}, str(storage), log=lambda line: None)
        finally:
            watcher.stop.set()
        attempts = _attempts(storage, spec.id)
    finally:
        ray.shutdown()
    rows = pd.read_csv(outcome.results_uri)
    trial_s = float(rows["wall_time_s"].sum())
    overhead = outcome.wall_time_s - trial_s  # one slot: trials run one after another
    result = {
        "methods": methods,
        "epochs": epochs,
        "trials": len(rows),
        "ok": outcome.ok,
        "ray_start_s": ray_start_s,
        "put_s": put_s,
        "setup_s": min(a["started"] for a in attempts) - called if attempts else None,
        "object_store_bytes": table_bytes + len(pickle.dumps(meta, protocol=5)),
        "sweep_wall_s": outcome.wall_time_s,
        "trials_wall_s": trial_s,
        "overhead_s_per_trial": overhead / max(1, len(rows)),
        "overhead_fraction": overhead / trial_s,
        "worker_peak_rss": watcher.peak or None,
    }
    log(
        f"Ray Tune sweep ({', '.join(methods)}; batch 1024 and 4096; at most {epochs} epochs; POD held out; 1 slot of "
        f"{threads} CPUs): {result['trials']} trials{'' if outcome.ok else ' (SOME FAILED)'}"
    )
    log(
        f"  Ray start {ray_start_s:.1f} s; features into the object store {put_s:.2f} s "
        f"({result['object_store_bytes'] / 1024**2:.0f} MB: the table once + metadata); driver set-up "
        f"(run_sweep called → first trial started) {result['setup_s']:.1f} s"
    )
    log(
        f"  sweep {outcome.wall_time_s:.1f} s wall vs {trial_s:.1f} s in run_trial: Ray overhead "
        f"{result['overhead_s_per_trial']:.1f} s per trial = {result['overhead_fraction']:.1%} of the trials' time "
        f"(here ~{trial_s / max(1, len(rows)):.0f} s each)"
    )
    if watcher.peak:
        log(f"  trial worker peak RSS {watcher.peak / 1024**2:.0f} MB (its pages of the object store's table included)")
    return result
