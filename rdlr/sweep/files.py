"""Where a sweep keeps its files and its results table: a storage folder (local or a URI such as ``s3://``) holding,
per spec id, ``spec.yaml``, ``results.csv``, one row per finished trial, one record per trial execution, the stage-1
cache and Tune's own state."""

from __future__ import annotations

import io
import json
import math
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import yaml

from rdlr.io.safe_text import MAX_BYTES, parse_json, parse_yaml
from rdlr.io.storage import Storage
from rdlr.labels import CLASSES
from rdlr.results import (
    GIVEN_SPEC_FILE,
    RESOLVED_KEY,
    RESULTS_FILE,
    SPEC_FILE,
    parse_results_csv,
    results_frame,
    trial_key,
)
from rdlr.spec.core import SweepSpec

ROWS_DIR = "trials"
ATTEMPTS_DIR = "attempts"
STAGE1_DIR = "stage1"
TUNE_DIR = "tune"
# may change between runs of one spec id
IGNORED_SPEC_KEYS: tuple[str, ...] = ("description", "resources", "headline", "tracking")


class SweepError(RuntimeError):
    """A sweep that cannot run as asked; the message says why and what to do."""


class SweepFiles:
    """The files of one spec under the storage path: ``spec.yaml``, ``results.csv``, ``trials/`` (one row per
    finished trial), ``attempts/`` (one record per trial execution), ``stage1/`` and ``tune/`` (Tune's own).
    ``classes``: the spec's class set, in output order (the per-class columns of ``results.csv``)."""

    def __init__(self, storage: str | os.PathLike[str], spec_id: str, classes: Sequence[str] = CLASSES) -> None:
        self.storage = Storage(storage)
        self.spec_id = spec_id
        self.classes = tuple(classes)
        self.dir = self.storage.child(spec_id)

    @property
    def tune_root(self) -> str:
        return f"{self.dir.uri}/{TUNE_DIR}"

    @property
    def results_uri(self) -> str:
        return f"{self.dir.uri}/{RESULTS_FILE}"

    def read_row(self, key: str) -> dict[str, Any] | None:
        try:
            return parse_json(
                self.dir.read(ROWS_DIR, f"{key}.json", limit=MAX_BYTES + 1), f"{self.dir.uri}/{ROWS_DIR}/{key}.json"
            )
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
            frame = parse_results_csv(io.BytesIO(self.dir.read(RESULTS_FILE)))
            for record in frame.to_dict(orient="records"):
                row = {k: _python(v) for k, v in record.items() if not (isinstance(v, float) and math.isnan(v))}
                rows[trial_key(row)] = row
        for name in self.dir.list(ROWS_DIR):
            key = name.removesuffix(".json")
            if name.endswith(".json") and key not in rows:
                row = self.read_row(key)
                if row is not None:
                    rows[key] = row
        return rows

    def write_results(self, rows: list[Mapping[str, Any]]) -> None:
        self.dir.write(results_frame(rows, self.classes).to_csv(index=False).encode(), RESULTS_FILE)

    def read_saved_spec(self) -> dict[str, Any]:
        """The ``spec.yaml`` saved beside the results (empty when it holds nothing), within the bounds of
        :mod:`rdlr.io.safe_text`."""
        where = f"{self.dir.uri}/{SPEC_FILE}"
        document = parse_yaml(self.dir.read(SPEC_FILE, limit=MAX_BYTES + 1), where) or {}
        if not isinstance(document, dict):
            raise SweepError(f"{where}: a saved spec is a mapping, got {type(document).__name__}")
        return document

    def check_and_save_spec(self, spec: SweepSpec, resolved: Mapping[str, Any]) -> None:
        """Refuse to mix results of two different specs under one id; save the spec (+ ``resolved``) beside the
        results, in the spec's own format so that ``rdlr report`` and ``SweepSpec.from_dict`` read it, and the
        spec file's text as written (``spec.given.yaml``, comments included) for the report to show."""
        if self.dir.exists(SPEC_FILE):
            saved = self.read_saved_spec()
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
        if spec.source_text is not None:
            self.dir.write(spec.source_text.encode(), GIVEN_SPEC_FILE)


def read_results_uri(results_uri: str) -> pd.DataFrame:
    """The results table at a local path or URI (``s3://...``), parsed (not validated: it may still be empty)."""
    folder, name = results_uri.rsplit("/", 1)
    return parse_results_csv(io.BytesIO(Storage(folder).read(name)))


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
