"""The driver side of a sweep's results: finished trials' rows gathered into ``results.csv``, one progress line each.

Every Tuner of a sweep gets a :class:`SinkCallback`, which forwards finished and failed trials to the sweep's
:class:`ResultSink`, and a :class:`FaultStopper`, which ends the Tuner once the sink has seen a storage fault (a full
or failing disk, :func:`rdlr.sweep.recovery.storage_fault`). Both are pickled into the Tuner's saved state, so they
find their sink by a key (:func:`open_sink`) rather than holding it: a Tuner restored by a later run reaches that
run's sink.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ray import tune

from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.results import normalization_of, trial_key
from rdlr.sweep.files import ROWS_DIR, SweepFiles
from rdlr.sweep.recovery import fault_in_text, storage_fault
from rdlr.sweep.trial import job_of

FLUSH_EVERY_S = 10.0

Log = Callable[[str], None]

_SINKS: dict[str, ResultSink] = {}


class ResultSink:
    """Gathers finished trials' rows (thread-safe), prints progress and keeps ``results.csv`` up to date."""

    def __init__(self, files: SweepFiles, planned: int, log: Log) -> None:
        self.files = files
        self.planned = planned
        self.log = log
        self.rows = files.load_rows()
        self.previous = len(self.rows)
        self.errors: list[str] = []
        self.fault: OSError | None = None  # the first storage fault of the sweep: it stops every Tuner
        self.trial_wall_s = 0.0  # summed over the trials finished in this run (their own clocks, in the workers)
        self.trial_cpu_s = 0.0
        self.trials_timed = 0
        self.first_trial_started: float | None = None  # the earliest start (epoch seconds) of those trials
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def add(self, job: str, result: Mapping[str, Any] | None) -> None:
        """A trial's final result (the rows of its seeds, :func:`rdlr.sweep.trial.final_report`, and its own wall
        and CPU seconds): each row kept and logged once, the seconds summed."""
        if not result or "rows" not in result:
            return
        with self._lock:
            self.trial_wall_s += float(result.get("trial_wall_s", 0.0))
            self.trial_cpu_s += float(result.get("trial_cpu_s", 0.0))
            self.trials_timed += "trial_wall_s" in result
            if "trial_started" in result:
                started = float(result["trial_started"])
                self.first_trial_started = min(started, self.first_trial_started or started)
        for row in json.loads(result["rows"]):
            self._add_row(row)

    def first_trial_after(self, started_at: float) -> float | None:
        """Seconds from ``started_at`` (epoch seconds, the driver's clock) to the first trial's start; ``None`` when
        no trial ran."""
        return None if self.first_trial_started is None else max(0.0, self.first_trial_started - started_at)

    def _add_row(self, row: dict[str, Any]) -> None:
        key = trial_key(row)
        with self._lock:
            new = key not in self.rows
            self.rows[key] = row
            if not new:  # a row reused by a re-run trial, or delivered twice
                return
            done = len(self.rows)
        self.log(
            f"[{done}/{self.planned}] {row['features']}{_normalization_tag(row)} {row['protocol']} {row['method']} "
            f"-> {row['held_out']} "
            f"seed {row['seed']} cfg {row['config_id']}: val UA {100 * row['val_ua']:.1f}%, "
            f"test UA {100 * row.get('test_ua', float('nan')):.1f}%, {row['epochs']} epochs, {row['wall_time_s']:.0f}s"
        )
        if time.monotonic() - self._flushed > FLUSH_EVERY_S:
            self.flush()

    def error(self, job: str, trial: Any, retry: bool) -> None:
        """A failed trial: logged; kept in :attr:`errors` when Tune will not retry it. A trial that failed on a
        storage fault stops the sweep (:meth:`fail`)."""
        message = _error_text(trial)
        fault = fault_in_text(message)
        if fault is not None:
            self.fail(fault)
        if retry:
            self.log(f"trial {trial.trial_id} of {job} failed, retrying: {message}")
            return
        with self._lock:
            self.errors.append(f"{job} trial {trial.trial_id}: {message}")
        self.log(f"trial {trial.trial_id} of {job} FAILED: {message}")

    def gather(self) -> None:
        """Add rows that trials wrote but no callback delivered (e.g. a Tuner restored from another path)."""
        for name in self.files.dir.list(ROWS_DIR):
            key = name.removesuffix(".json")
            if key not in self.rows:
                row = self.files.read_row(key)
                if row is not None:
                    with self._lock:
                        self.rows[key] = row

    def fail(self, fault: OSError) -> None:
        """Record a storage fault (the first one is kept); :class:`FaultStopper` then ends every Tuner."""
        with self._lock:
            self.fault = self.fault or fault

    def flush(self) -> None:
        """Write every row gathered so far to ``results.csv``. A storage fault is recorded (:meth:`fail`), not
        raised: the file keeps its last complete version and the rows stay in ``trials/``."""
        with self._lock:
            rows = list(self.rows.values())
            self._flushed = time.monotonic()
        try:
            self.files.write_results(rows)
        except OSError as error:
            fault = storage_fault(error)
            if fault is None:
                raise
            self.fail(fault)


def _normalization_tag(row: Mapping[str, Any]) -> str:
    """`` [corpus norm]`` beside the feature set of a row not normalised with the training statistics."""
    normalization = normalization_of(row)
    return "" if normalization == DEFAULT_NORMALIZATION else f" [{normalization} norm]"


def open_sink(key: str, sink: ResultSink) -> None:
    """Make ``sink`` the one that callbacks created with ``key`` deliver to (until :func:`close_sink`)."""
    _SINKS[key] = sink


def close_sink(key: str) -> None:
    """Stop delivering to the sink of ``key`` (no error if none is open)."""
    _SINKS.pop(key, None)


def _error_text(trial: Any) -> str:
    """The last line of a failed trial's error file (Tune's traceback), or where to find it."""
    path = getattr(trial, "error_file", None)
    try:
        if path and os.path.isfile(path):
            lines = [line for line in Path(path).read_text().strip().splitlines() if line.strip()]
            return lines[-1][:300] if lines else "unknown error"
    except OSError:
        pass
    return "see the trial's error.txt under the storage path"


class SinkCallback(tune.Callback):
    """Forwards finished and failed trials of the Tuner ``tuner`` (a job, or a grid group whose trials name their
    job: :func:`rdlr.sweep.trial.job_of`) to the :class:`ResultSink` opened under ``sink_key``."""

    def __init__(self, sink_key: str, tuner: str) -> None:
        self.sink_key = sink_key
        self.tuner = tuner

    def job(self, trial: Any) -> str:
        return job_of(trial.config) or self.tuner

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        sink = _SINKS.get(self.sink_key)
        if sink is not None:
            sink.add(self.job(trial), trial.last_result)

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        sink = _SINKS.get(self.sink_key)
        if sink is not None:
            sink.error(self.job(trial), trial, retry=True)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        sink = _SINKS.get(self.sink_key)
        if sink is not None:
            sink.error(self.job(trial), trial, retry=False)


class FaultStopper(tune.Stopper):
    """Ends the whole Tuner once the sink opened under ``sink_key`` has recorded a storage fault."""

    def __init__(self, sink_key: str) -> None:
        self.sink_key = sink_key

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.stop_all()

    def stop_all(self) -> bool:
        sink = _SINKS.get(self.sink_key)
        return sink is not None and sink.fault is not None
