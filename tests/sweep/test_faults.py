"""A sweep's storage failing (issue 20.5): a full disk mid-sweep stops it in one line with its rows kept and a re-run
completes it; a Tune state torn by such a stop is set aside and rebuilt from the rows; one writer per spec folder."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import rdlr.io.storage
from rdlr.io.storage import FolderLock, LockHeldError
from rdlr.results import trial_key
from rdlr.spec.core import SweepSpec
from rdlr.spec.sections import DEMO_UNLABELED
from rdlr.sweep import collector
from rdlr.sweep.driver import run_sweep
from rdlr.sweep.files import SweepFiles
from rdlr.sweep.recovery import SweepStorageError, describe_fault, fault_in_text, storage_fault, torn_state
from tests.sweep.test_driver import synthetic_table

SPEC_ID = "faults"
SPEC = SweepSpec.from_dict(
    {
        "id": SPEC_ID,
        "data": {"source": "demo"},
        "features": ["is10"],
        "held_out": ["CRE-demo"],
        "unlabeled": DEMO_UNLABELED,
        "protocols": {"within_corpus": ["ce"], "out_of_corpus": ["ce"]},
        "seeds": [0, 1],
        "search": {"configs": 2, "space": {"batch_size": [32, 64, 128]}},
        "training": {"max_epochs": 2, "patience": 2},
    }
)
PLANNED = 2 * 2 * 2  # 2 jobs × 2 configurations (of 3: searched, each job a Tuner with a Tune state) × 2 seeds
WRITES_BEFORE_FULL = 3  # results.csv is written this many times, then the disk is full


def disk_full_after(writes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every write of a ``results.csv`` after the first ``writes`` fail as a full disk does (pyarrow's
    ENOSPC, which names no file), in this process: trials (other processes) still write their rows."""
    real_put_file = rdlr.io.storage.put_file
    done = [0]

    def put_file(fs: Any, path: str, write: Any) -> None:
        if path.endswith("/results.csv"):
            done[0] += 1
            if done[0] > writes:

                def full(stream: Any) -> None:
                    raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left")

                write = full
        real_put_file(fs, path, write)

    monkeypatch.setattr(rdlr.io.storage, "put_file", put_file)
    monkeypatch.setattr(collector, "FLUSH_EVERY_S", 0.0)  # results.csv written after every row


def dead_pid() -> int:
    """The id of a process of this host that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture(scope="module")
def faulted(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A sweep whose disk fills after three writes of results.csv, then the same sweep again (space freed), over
    a lock left by a killed sweep."""
    storage = tmp_path_factory.mktemp("faults") / "runs"
    files = SweepFiles(storage, SPEC_ID)
    with pytest.MonkeyPatch.context() as patch:
        disk_full_after(WRITES_BEFORE_FULL, patch)
        with pytest.raises(SweepStorageError) as stopped:
            run_sweep(SPEC, {"is10": synthetic_table()}, storage, log=lambda line: None)
    kept = pd.read_csv(files.results_uri, dtype={"config_id": str, "spec_id": str})
    rows_after_fault = set(files.dir.list("trials"))
    attempts_after_fault = files.attempts()
    stale = {"host": os.uname().nodename, "pid": dead_pid(), "command": "rdlr sweep", "started": "earlier"}
    (storage / SPEC_ID / ".lock").write_text(json.dumps(stale))
    lines: list[str] = []
    outcome = run_sweep(SPEC, {"is10": synthetic_table()}, storage, log=lines.append)
    return {
        "storage": storage,
        "files": files,
        "stopped": str(stopped.value),
        "kept": kept,
        "outcome": outcome,
        "rows_after_fault": rows_after_fault,
        "attempts_after_fault": attempts_after_fault,
        "lines": lines,
    }


def test_a_full_disk_stops_the_sweep_in_one_line_naming_the_path(faulted: dict[str, Any]) -> None:
    message = faulted["stopped"]
    assert "\n" not in message and "Traceback" not in message
    assert f"cannot write {faulted['files'].results_uri}: No space left on device" in message
    assert "re-run the same command to resume" in message


def test_rows_finished_before_the_fault_are_kept(faulted: dict[str, Any]) -> None:
    # the last complete results.csv, not a torn one: its third write, after a row each (two Tuners' callbacks
    # finishing at once may both be in that write)
    kept, written = faulted["kept"], faulted["rows_after_fault"]
    assert WRITES_BEFORE_FULL <= len(kept) <= len(written) and not kept.isna().all(axis=1).any()
    keys = {trial_key(row) for row in kept.to_dict("records")}
    assert keys <= {name.removesuffix(".json") for name in written}


def test_the_rerun_after_freeing_space_completes_without_retraining(faulted: dict[str, Any]) -> None:
    outcome, files = faulted["outcome"], faulted["files"]
    assert outcome.ok, outcome.errors
    assert outcome.rows == PLANNED and len(pd.read_csv(outcome.results_uri)) == PLANNED
    finished = {name.removesuffix(".json") for name in faulted["rows_after_fault"]}
    before, after = faulted["attempts_after_fault"], files.attempts()
    assert not {key for key in finished if after.count(key) > before.count(key)}, "a finished row was retrained"
    assert not (faulted["storage"] / SPEC_ID / ".lock").exists()  # the stale lock taken over, then released


def test_a_torn_tune_state_is_set_aside_and_rebuilt_from_the_rows(faulted: dict[str, Any]) -> None:
    storage, files = faulted["storage"], faulted["files"]
    within, out = (storage / SPEC_ID / "tune" / job.name for job in SPEC.jobs())
    (within / "tuner.pkl").write_bytes(b"")  # what a disk that filled while Tune saved left behind
    state = max(out.glob("experiment_state-*.json"))
    state.write_bytes(state.read_bytes()[:200])
    assert torn_state(files.dir.fs, within.as_posix()) and torn_state(files.dir.fs, out.as_posix())
    rows = {
        name.removesuffix(".json"): json.loads((storage / SPEC_ID / "trials" / name).read_text())
        for name in files.dir.list("trials")
    }
    lost_keys = {
        next(key for key, row in rows.items() if row["seed"] == 1 and row["protocol"] == job.protocol)
        for job in SPEC.jobs()
    }  # one row of each job, to be trained again
    for key in lost_keys:
        (storage / SPEC_ID / "trials" / f"{key}.json").unlink()
    results = pd.read_csv(files.results_uri, dtype={"config_id": str, "spec_id": str})
    kept = [trial_key(row) not in lost_keys for row in results.to_dict(orient="records")]
    results[kept].to_csv(files.results_uri, index=False)
    before = files.attempts()
    lines: list[str] = []
    outcome = run_sweep(SPEC, {"is10": synthetic_table()}, storage, log=lines.append)
    assert outcome.ok, outcome.errors
    assert outcome.rows == PLANNED and len(pd.read_csv(outcome.results_uri)) == PLANNED
    after = files.attempts()
    assert {key for key in set(after) if after.count(key) > before.count(key)} == lost_keys
    torn_lines = [line for line in lines if "saved state is torn" in line]
    assert len(torn_lines) == 2 and all("moved it to" in line for line in torn_lines)
    assert len(list((storage / SPEC_ID / "tune").glob("*.torn-*"))) == 2  # set aside, nothing deleted


def test_a_second_sweep_on_a_locked_storage_is_refused(ray_session: Any, tmp_path: Path) -> None:
    files = SweepFiles(tmp_path, SPEC_ID)
    with (
        FolderLock(files.dir.fs, files.dir.root, "rdlr sweep", what="sweep storage"),
        pytest.raises(LockHeldError) as refused,
    ):
        run_sweep(SPEC, {"is10": synthetic_table()}, tmp_path, log=lambda line: None)
    message = str(refused.value)
    assert "\n" not in message
    assert f"sweep storage {files.dir.uri} is locked by rdlr sweep (pid {os.getpid()} on host" in message
    assert files.dir.list() == [] and not files.dir.exists("tune")  # nothing touched


def test_storage_faults_are_found_behind_the_errors_that_wrap_them() -> None:
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/runs/faults/results.csv")
    wrapped = RuntimeError("Tune's controller failed")
    wrapped.__cause__ = full
    assert storage_fault(wrapped) is full
    assert describe_fault(full) == "/runs/faults/results.csv: No space left on device"
    assert storage_fault(FileNotFoundError(errno.ENOENT, "missing", "spec.yaml")) is None  # not a disk fault
    assert storage_fault(LockHeldError("locked")) is None


def test_a_trial_that_failed_on_a_full_disk_is_recognised_from_its_traceback_line() -> None:
    fault = fault_in_text("OSError: [Errno 28] No space left on device: '/runs/faults/trials/ab12.json'")
    assert fault is not None and describe_fault(fault) == "/runs/faults/trials/ab12.json: No space left on device"
    assert fault_in_text("OSError: [Errno 30] Read-only file system") is not None
    assert fault_in_text("FileNotFoundError: [Errno 2] No such file or directory: '/x'") is None
    assert fault_in_text("ValueError: batch_size must be positive") is None
