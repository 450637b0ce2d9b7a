"""Where a report reads and writes: the results table and the spec saved beside it (local folders or URIs),
whole-or-nothing writes of the rendered files (:func:`rdlr.io.storage.put_file`), and a report folder replaced whole
(:func:`staged_folder`)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from rdlr.io.safe_text import read_json, read_yaml
from rdlr.io.storage import open_filesystem, put_file
from rdlr.results import GIVEN_SPEC_FILE, RESULTS_FILE, parse_results_csv, validate_results

SPEC_FILES: tuple[str, ...] = ("spec.json", "spec.yaml", "spec.yml")
PAPER_SELECTION_DIR = "paper-selection"  # subfolder of <out>/<spec_id>/ for the paper's (test-set) selection


def find_spec(folder: str | PathLike[str]) -> dict[str, Any] | None:
    """The sweep spec saved beside results.csv (spec.json / spec.yaml / spec.yml), or None."""
    for name in SPEC_FILES:
        path = Path(folder) / name
        if path.is_file():
            loaded = read_json(path) if name.endswith(".json") else read_yaml(path)
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: a sweep spec must be a mapping, got {type(loaded).__name__}")
            return loaded
    return None


def given_spec_text(results: pd.DataFrame | str) -> str | None:
    """The spec file's text a sweep saved beside a local results.csv (``spec.given.yaml``), or None."""
    if not isinstance(results, str) or "://" in results:
        return None
    path = Path(results).parent / GIVEN_SPEC_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else None


def locate_results(storage: str, spec_id: str | None) -> str:
    """The results.csv of ``spec_id`` under ``storage`` (or the only one there); clear errors otherwise.

    ``storage``: a sweep's storage path (holding ``<spec_id>/results.csv``), one spec folder, a results.csv file,
    or a URI (``s3://...``: its results.csv, or the storage path with ``spec_id``).
    """
    if "://" in storage:
        if storage.endswith(".csv"):
            return storage
        if not spec_id:
            raise ValueError(f"{storage}: pass --spec-id for a remote storage path (or the URI of its results.csv)")
        return f"{storage.rstrip('/')}/{spec_id}/{RESULTS_FILE}"
    root = Path(storage)
    if root.is_file():
        return str(root)
    if not root.is_dir():
        raise FileNotFoundError(f"storage path not found: {root}")
    if (root / RESULTS_FILE).is_file() and not spec_id:
        return str(root / RESULTS_FILE)
    found = sorted(p.parent.name for p in root.glob(f"*/{RESULTS_FILE}"))
    if spec_id:
        if spec_id not in found:
            raise FileNotFoundError(
                f"no {RESULTS_FILE} for spec {spec_id!r} under {root}; found: {', '.join(found) or 'none'}"
            )
        return str(root / spec_id / RESULTS_FILE)
    if not found:
        raise FileNotFoundError(f"no <spec_id>/{RESULTS_FILE} under {root}; run `rdlr sweep` first")
    if len(found) > 1:
        raise ValueError(f"{root} holds several specs ({', '.join(found)}); pick one with --spec-id")
    return str(root / found[0] / RESULTS_FILE)


def report_input(storage: str, spec_id: str | None) -> tuple[pd.DataFrame | str, dict[str, Any] | None]:
    """What ``rdlr report STORAGE [--spec-id ID]`` renders: the results (a local results.csv path, or the table
    read and validated from a URI) and the spec (the file saved beside a local results.csv, else
    ``{"spec_id": spec_id}`` when one is given, else None)."""
    location = locate_results(storage, spec_id)
    results: pd.DataFrame | str = location
    spec = None
    if "://" in location:
        results = validate_results(parse_results_csv(location), source=location)
    else:
        spec = find_spec(Path(location).parent)
    if spec is None and spec_id:
        spec = {"spec_id": spec_id}
    return results, spec


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all (parent folders created); returns ``path``."""
    filesystem, target = open_filesystem(path)
    put_file(filesystem, target, lambda stream: stream.write(data))
    return path


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text with a trailing newline, whole or not at all; returns ``path``."""
    return write_bytes(path, (text if text.endswith("\n") else text + "\n").encode("utf-8"))


@contextmanager
def staged_folder(dest: Path, keep: Sequence[str] = ()) -> Iterator[Path]:
    """A fresh hidden folder beside ``dest`` to render a report into, which replaces ``dest`` whole when the block
    ends without error (the subfolders named in ``keep`` move over from the old ``dest``) and is removed when it
    fails. So every index links files that exist: an interrupted render leaves the previous report untouched, and
    a process killed mid-swap leaves the old or the new folder complete (leftovers are removed by the next render).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    for leftover in [*dest.parent.glob(f".{dest.name}.new-*"), *dest.parent.glob(f".{dest.name}.old-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    staging = dest.parent / f".{dest.name}.new-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not dest.exists():
        staging.rename(dest)
        return
    old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
    dest.rename(old)
    staging.rename(dest)
    for name in keep:
        if (old / name).exists() and not (dest / name).exists():
            (old / name).rename(dest / name)
    shutil.rmtree(old, ignore_errors=True)
