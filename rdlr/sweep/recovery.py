"""What a sweep does when its storage fails: a full or broken disk stops it in one line, and a Tune state torn by
such a stop is set aside on the next run instead of failing every re-run.

``results.csv`` and the per-trial rows (``trials/*.json``) are the sweep's source of truth, both written whole or
not at all (:func:`rdlr.io.storage.put_file`); Tune's own state (``tuner.pkl``, ``experiment_state-*.json``, the
searcher's pickle) is not, and a disk that fills while Tune saves it leaves files that are empty or cut short.

* **Storage faults** (:func:`storage_fault`): an ``OSError`` whose errno says the disk cannot take more writes
  (full, over quota, read-only, an I/O error), raised anywhere in the driver or in a trial (whose exception reaches
  the driver as its traceback's last line: :func:`fault_in_text`), ends the sweep; the driver reports it as one line
  naming the path and the cause (:func:`describe_fault`).
* **Torn Tune state** (:func:`torn_state`): checked before a job's Tuner is restored. A torn job folder is renamed
  aside to ``<job>.torn-<UTC time>`` (:func:`set_aside`; nothing is deleted) and the job starts a fresh Tuner,
  seeded with the configurations that already have rows (:func:`finished_configs`); its trials find those rows and
  train only what is missing (:mod:`rdlr.sweep.trial`). A sweep stopped by a storage fault sets aside (as
  ``<job>.stopped-<UTC time>``) the state of every job still missing rows, because Tune counts the trials it
  stopped as finished.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import pyarrow.fs as pafs

from rdlr.results import normalization_of
from rdlr.spec.jobs import Job
from rdlr.sweep.files import SweepError

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})
TUNER_STATE = "tuner.pkl"
EXPERIMENT_STATE_PREFIX = "experiment_state-"
SEARCHER_STATE_PREFIX = "searcher-state-"
JOB_KEYS: tuple[str, ...] = ("features", "protocol", "method", "held_out")  # what a row shares with its job
PICKLE_STOP = b"."  # the opcode every complete pickle ends with
_ERRNO_LINE = re.compile(r"\[Errno (?P<errno>\d+)\] [^']*?(?:: '(?P<path>[^']+)')?$")


class SweepStorageError(SweepError):
    """The sweep's storage stopped taking writes; the message names the path, the cause and what to do."""


def storage_fault(error: BaseException | None) -> OSError | None:
    """The disk error behind ``error`` (itself, its cause or context, or the cause of a Ray task error), if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
            return error
        cause = getattr(error, "cause", None)  # a Ray task error keeps the worker's exception here
        error = cause if isinstance(cause, BaseException) else error.__cause__ or error.__context__
    return None


def fault_in_text(text: str) -> OSError | None:
    """The storage fault named by the last line of a failed trial's traceback (``OSError: [Errno 28] No space
    left on device: '<path>'``), if any: a trial's exception reaches the driver as text."""
    match = _ERRNO_LINE.search(text)
    if match is None or int(match["errno"]) not in STORAGE_ERRNOS:
        return None
    return OSError(int(match["errno"]), os.strerror(int(match["errno"])), match["path"])


def describe_fault(fault: OSError) -> str:
    """``<path>: <cause>`` of a storage fault (the path when the error names one)."""
    cause = os.strerror(fault.errno) if fault.errno else str(fault)
    return f"{fault.filename}: {cause}" if fault.filename else f"{cause} ({fault})"


def torn_state(fs: pafs.FileSystem, job_dir: str) -> str | None:
    """Why the Tune state in ``job_dir`` cannot be restored (an empty or cut-short file), or ``None`` when it looks
    whole or there is none. Read as bytes only: nothing is unpickled here."""
    infos = fs.get_file_info(pafs.FileSelector(job_dir, allow_not_found=True))
    names = {info.base_name: info for info in infos if info.type == pafs.FileType.File}
    if not names:
        return None
    for name in sorted(names):
        path = f"{job_dir}/{name}"
        if name == TUNER_STATE or (name.startswith(SEARCHER_STATE_PREFIX) and name.endswith(".pkl")):
            if names[name].size == 0 or not _read(fs, path).endswith(PICKLE_STOP):
                return f"{path} is {'empty' if names[name].size == 0 else 'cut short'}"
        elif name.startswith(EXPERIMENT_STATE_PREFIX) and name.endswith(".json"):
            try:
                json.loads(_read(fs, path))
            except ValueError:
                return f"{path} is {'empty' if names[name].size == 0 else 'not complete JSON'}"
    return None


def set_aside(fs: pafs.FileSystem, job_dir: str, why: str) -> str:
    """Rename ``job_dir`` to ``<job_dir>.<why>-<UTC time>`` (one rename on a local disk); the new path."""
    aside = f"{job_dir}.{why}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"
    fs.move(job_dir, aside)
    return aside


def job_rows(rows: Iterable[Mapping[str, Any]], job: Job) -> list[Mapping[str, Any]]:
    """The rows of ``job`` (its feature set, protocol, method, held-out corpus and normalisation; a row without
    one has the paper's) among ``rows``."""
    return [
        row
        for row in rows
        if all(row.get(key) == getattr(job, key) for key in JOB_KEYS) and normalization_of(row) == job.normalization
    ]


def finished_configs(rows: Iterable[Mapping[str, Any]], job: Job) -> list[dict[str, Any]]:
    """The hyperparameters of ``job``'s configurations that have at least one row, in the order first seen."""
    configs: dict[str, dict[str, Any]] = {}
    for row in job_rows(rows, job):
        configs.setdefault(str(row["config_id"]), json.loads(row["hparams"]))
    return list(configs.values())


def _read(fs: pafs.FileSystem, path: str) -> bytes:
    with fs.open_input_stream(path) as stream:
        return stream.read()
