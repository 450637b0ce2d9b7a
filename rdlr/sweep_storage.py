"""Where a sweep keeps its files and its results table: a storage folder (local or a URI such as ``s3://``) holding,
per spec id, ``spec.yaml``, ``results.csv``, one row per finished trial, one record per trial execution, the stage-1
cache and Tune's own state."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import yaml

from rdlr.features.store import open_filesystem
from rdlr.spec import SweepSpec

RESULTS_FILE = "results.csv"
SPEC_FILE = "spec.yaml"
ROWS_DIR = "trials"
ATTEMPTS_DIR = "attempts"
STAGE1_DIR = "stage1"
TUNE_DIR = "tune"
BASE_COLUMNS: tuple[str, ...] = (
    "spec_id", "protocol", "features", "method", "held_out", "seed", "config_id", "hparams", "val_ua",
)  # fmt: skip
TAIL_COLUMNS: tuple[str, ...] = (
    "test_wa", "confusion", "epochs", "best_epoch", "wall_time_s", "cpu_time_s", "trial_id",
)  # fmt: skip
IGNORED_SPEC_KEYS: tuple[str, ...] = ("description", "resources")  # may change between runs of one spec id
RESOLVED_KEY = "resolved"  # spec.yaml = the spec's keys + what this run resolved (paths, resources, versions)


class SweepError(RuntimeError):
    """A sweep that cannot run as asked; the message says why and what to do."""


class Storage:
    """A folder on the local disk or under a URI (``s3://bucket/prefix``), through pyarrow's filesystems."""

    def __init__(self, uri: str | os.PathLike[str]) -> None:
        text = str(uri)
        self.fs, self.root = open_filesystem(text)
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)
        self.uri = self.root if self.is_local else text.rstrip("/")

    def child(self, *parts: str) -> "Storage":
        return Storage("/".join([self.uri, *parts]))

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def read(self, *parts: str) -> bytes:
        with self.fs.open_input_stream(self.path(*parts)) as stream:
            return stream.read()

    def write(self, data: bytes, *parts: str) -> None:
        """Write a whole file: temp file + rename locally (readers never see half a file), one PUT remotely."""
        path = self.path(*parts)
        directory = path.rsplit("/", 1)[0]
        self.fs.create_dir(directory, recursive=True)
        if not self.is_local:
            with self.fs.open_output_stream(path) as stream:
                stream.write(data)
            return
        tmp = f"{directory}/.tmp-{uuid.uuid4().hex}"
        with self.fs.open_output_stream(tmp) as stream:
            stream.write(data)
        self.fs.move(tmp, path)

    def list(self, *parts: str) -> list[str]:
        """File names directly under a folder (empty when it does not exist)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(*parts), allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.File and not i.base_name.startswith("."))


def config_id(hparams: Mapping[str, Any]) -> str:
    """Short hash of the searched hyperparameters (the results table's ``config_id``)."""
    text = json.dumps(dict(hparams), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def row_key(spec_id: str, features: str, protocol: str, method: str, held_out: str, cid: str, seed: int) -> str:
    """Identity of one result row: a trial of one configuration and seed within a spec."""
    text = json.dumps([spec_id, features, protocol, method, held_out, cid, int(seed)])
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class SweepFiles:
    """The files of one spec under the storage path: ``spec.yaml``, ``results.csv``, ``trials/`` (one row per
    finished trial), ``attempts/`` (one record per trial execution), ``stage1/`` and ``tune/`` (Tune's own)."""

    def __init__(self, storage: str | os.PathLike[str], spec_id: str) -> None:
        self.storage = Storage(storage)
        self.spec_id = spec_id
        self.dir = self.storage.child(spec_id)

    @property
    def tune_root(self) -> str:
        return f"{self.dir.uri}/{TUNE_DIR}"

    @property
    def results_uri(self) -> str:
        return f"{self.dir.uri}/{RESULTS_FILE}"

    def read_row(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.dir.read(ROWS_DIR, f"{key}.json"))
        except FileNotFoundError:
            return None

    def write_row(self, key: str, row: Mapping[str, Any]) -> None:
        self.dir.write(json.dumps(dict(row), sort_keys=True).encode(), ROWS_DIR, f"{key}.json")

    def record_attempt(self, key: str, record: Mapping[str, Any]) -> None:
        name = f"{key}-{time.time_ns()}-{uuid.uuid4().hex[:6]}.json"
        self.dir.write(json.dumps(dict(record), sort_keys=True, default=str).encode(), ATTEMPTS_DIR, name)

    def attempts(self) -> list[str]:
        """Row keys of every recorded trial execution (one entry per execution, retries included)."""
        return [name.split("-", 1)[0] for name in self.dir.list(ATTEMPTS_DIR)]

    def load_rows(self) -> dict[str, dict[str, Any]]:
        """Every finished trial's row: ``results.csv`` plus rows written since it was last gathered."""
        rows: dict[str, dict[str, Any]] = {}
        if self.dir.exists(RESULTS_FILE):
            frame = pd.read_csv(io.BytesIO(self.dir.read(RESULTS_FILE)), dtype={"config_id": str, "hparams": str,
                                "confusion": str, "trial_id": str, "held_out": str, "method": str})
            for record in frame.to_dict(orient="records"):
                row = {k: _python(v) for k, v in record.items() if not (isinstance(v, float) and math.isnan(v))}
                rows[key_of(row)] = row
        for name in self.dir.list(ROWS_DIR):
            key = name.removesuffix(".json")
            if name.endswith(".json") and key not in rows:
                row = self.read_row(key)
                if row is not None:
                    rows[key] = row
        return rows

    def write_results(self, rows: list[Mapping[str, Any]]) -> None:
        self.dir.write(results_frame(rows).to_csv(index=False).encode(), RESULTS_FILE)

    def check_and_save_spec(self, spec: SweepSpec, resolved: Mapping[str, Any]) -> None:
        """Refuse to mix results of two different specs under one id; save the spec (+ ``resolved``) beside the
        results, in the spec's own format so that ``rdlr report`` and ``SweepSpec.from_dict`` read it."""
        if self.dir.exists(SPEC_FILE):
            saved = yaml.safe_load(self.dir.read(SPEC_FILE)) or {}
            before = {k: v for k, v in saved.items() if k not in (*IGNORED_SPEC_KEYS, RESOLVED_KEY)}
            now = {k: v for k, v in spec.to_dict().items() if k not in IGNORED_SPEC_KEYS}
            if before != now:
                changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
                raise SweepError(
                    f"{self.dir.uri}/{SPEC_FILE} holds results of a different spec {spec.id!r} (changed: "
                    f"{', '.join(changed)}); give the new spec another id, or use another --storage"
                )
        document = {**spec.to_dict(), RESOLVED_KEY: dict(resolved)}
        self.dir.write(yaml.safe_dump(document, sort_keys=False).encode(), SPEC_FILE)


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def key_of(row: Mapping[str, Any]) -> str:
    """The :func:`row_key` of a result row."""
    return row_key(str(row["spec_id"]), str(row["features"]), str(row["protocol"]), str(row["method"]),
                   str(row["held_out"]), str(row["config_id"]), int(row["seed"]))


def results_frame(rows: list[Mapping[str, Any]]) -> pd.DataFrame:
    """The results table: fixed columns first, then ``val_ua/<corpus>``, ``test_ua``, ``test_ua/<corpus>``."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=[*BASE_COLUMNS, "test_ua", *TAIL_COLUMNS])
    val = sorted(c for c in frame.columns if c.startswith("val_ua/"))
    test = sorted(c for c in frame.columns if c.startswith("test_ua/"))
    order = [*BASE_COLUMNS, *val, "test_ua", *test, *TAIL_COLUMNS]
    columns = [c for c in order if c in frame.columns] + sorted(c for c in frame.columns if c not in order)
    frame = frame[columns]
    return frame.sort_values(["features", "protocol", "method", "held_out", "config_id", "seed"], kind="mergesort")
