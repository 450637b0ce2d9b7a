"""The Parquet feature store: a local folder or a cloud URI (``s3://bucket/prefix``) via pyarrow's filesystems.

Layout (one dataset per feature set, extractor config hash and corpus)::

    <store>/<feature_set>/<config_hash>/config.json                 extractor class, config, dim, versions
    <store>/<feature_set>/<config_hash>/<corpus>/part-*.parquet     utt_id, manifest columns, extras, features
    <store>/<feature_set>/<config_hash>/<corpus>/errors/part-*.parquet   utt_id, corpus, path, reason, kind, time

``features`` is one binary column holding each vector as little-endian float32 bytes: decoding it to an N×D
matrix is a single ``np.frombuffer`` per Arrow chunk (several times faster than a list<float32> column).
Part files are written whole and then renamed (local) or PUT in one request (object stores), so a reader never
sees half a file and an interrupted extraction keeps every part it finished. :meth:`FeatureStore.compact`
merges parts into one and drops duplicate rows. One writer per dataset at a time.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from rdlr.storage import open_filesystem, put_file

FEATURES_COLUMN = "features"
ERRORS_DIR = "errors"
CONFIG_FILE = "config.json"
PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
ERROR_COLUMNS = ("utt_id", "corpus", "path", "reason", "kind", "time")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class FeatureStoreError(LookupError):
    """Something asked of the store that it does not hold; the message says what it has and what to run."""


def reason_kind(reason: str) -> str:
    """The category of an error reason (``"too short (0.05 s < 0.1 s): /a.wav"`` -> ``"too short"``)."""
    head = reason.split(":", 1)[0]
    return head.split(" (", 1)[0].strip() or "error"


def check_name(kind: str, name: str) -> str:
    """``name`` if it is usable as one folder of the store, else a clear ValueError."""
    if not _SAFE_NAME.fullmatch(name) or name in {".", ".."}:
        raise ValueError(f"{kind} name {name!r} cannot be a store folder: use letters, digits, '_', '-', '.'")
    return name


def encode_vectors(vectors: list[np.ndarray] | np.ndarray) -> pa.Array:
    """A binary Arrow array with each vector as little-endian float32 bytes."""
    return pa.array([np.asarray(v, dtype="<f4").tobytes() for v in vectors], type=pa.binary())


def decode_vectors(column: pa.ChunkedArray | pa.Array, where: str = "") -> np.ndarray:
    """N×D float32 matrix from a binary column written by :func:`encode_vectors` (one copy, no per-row Python)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    chunks = [chunk for chunk in chunks if len(chunk)]
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    dims: set[int] = set()
    pieces: list[np.ndarray] = []
    for chunk in chunks:
        if chunk.null_count:
            raise ValueError(f"feature column has {chunk.null_count} null vectors{where}")
        offset_type = np.int64 if pa.types.is_large_binary(chunk.type) else np.int32
        _, offset_buffer, data_buffer = chunk.buffers()
        offsets = np.frombuffer(offset_buffer, dtype=offset_type)[chunk.offset : chunk.offset + len(chunk) + 1]
        lengths = np.diff(offsets)
        if (lengths != lengths[0]).any() or lengths[0] % 4:
            raise ValueError(f"feature vectors of different or non-float32 sizes {sorted(set(lengths // 4))}{where}")
        dims.add(int(lengths[0]) // 4)
        values = np.frombuffer(data_buffer, dtype="<f4", count=int(offsets[-1] - offsets[0]) // 4,
                               offset=int(offsets[0]))
        pieces.append(values.reshape(len(chunk), -1))
    if len(dims) > 1:
        raise ValueError(f"feature vectors of different sizes {sorted(dims)}{where}")
    return np.concatenate(pieces).astype(np.float32, copy=False) if len(pieces) > 1 else pieces[0].copy()


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def _dedup(table: pa.Table, keep: str) -> pa.Table:
    ids = table.column("utt_id").to_numpy(zero_copy_only=False)
    duplicated = pd.Index(ids).duplicated(keep=keep)
    return table.filter(pa.array(~duplicated)) if duplicated.any() else table


@dataclass(frozen=True)
class DatasetKey:
    """One dataset of the store: a feature set, an extractor config hash and a corpus."""

    feature_set: str
    config_hash: str
    corpus: str


class FeatureStore:
    """Read and write the feature store at ``uri`` (local folder or ``s3://``-style URI)."""

    def __init__(self, uri: str | Path) -> None:
        self.uri = str(uri)
        self.fs, self.root = open_filesystem(uri)

    # ---- paths and listing -------------------------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def dataset_path(self, key: DatasetKey, errors: bool = False) -> str:
        """Folder of the part files of ``key`` (or of its errors table)."""
        parts = [key.feature_set, key.config_hash, key.corpus] + ([ERRORS_DIR] if errors else [])
        return self._path(*parts)

    def _subdirs(self, path: str) -> list[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory
                      and not i.base_name.startswith("."))

    def _parts(self, path: str) -> list[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(i.path for i in infos if i.type == pafs.FileType.File
                      and i.base_name.startswith(PART_PREFIX) and i.base_name.endswith(PART_SUFFIX))

    def feature_sets(self) -> list[str]:
        """Feature-set folders in the store."""
        return self._subdirs(self.root)

    def config_hashes(self, feature_set: str) -> list[str]:
        """Config hashes stored for ``feature_set`` (folders holding a config.json)."""
        hashes = self._subdirs(self._path(feature_set))
        infos = self.fs.get_file_info([self._path(feature_set, h, CONFIG_FILE) for h in hashes])
        return [h for h, info in zip(hashes, infos) if info.type == pafs.FileType.File]

    def corpora(self, feature_set: str, config_hash: str) -> list[str]:
        """Corpora with at least one stored vector for this feature set and config."""
        return [c for c in self._subdirs(self._path(feature_set, config_hash))
                if self._parts(self.dataset_path(DatasetKey(feature_set, config_hash, c)))]

    def describe(self) -> str:
        """One line per feature set and config: what the store holds (for error messages)."""
        lines = []
        for feature_set in self.feature_sets():
            for config_hash in self.config_hashes(feature_set):
                corpora = ", ".join(self.corpora(feature_set, config_hash)) or "no corpora yet"
                lines.append(f"  {feature_set} (config {config_hash}): {corpora}")
        return "\n".join(lines) if lines else "  (nothing)"

    # ---- config ------------------------------------------------------------------------------------------------
    def write_config(self, feature_set: str, config_hash: str, info: dict[str, Any]) -> None:
        """Record the extractor config beside the data (``config.json``), atomically."""
        check_name("feature set", feature_set)
        data = json.dumps(info, indent=2, sort_keys=True, default=str).encode()
        put_file(self.fs, self._path(feature_set, config_hash, CONFIG_FILE), lambda stream: stream.write(data))

    def has_config(self, feature_set: str, config_hash: str) -> bool:
        """Whether ``config.json`` exists for this feature set and config."""
        info = self.fs.get_file_info(self._path(feature_set, config_hash, CONFIG_FILE))
        return info.type == pafs.FileType.File

    def read_config(self, feature_set: str, config_hash: str) -> dict[str, Any]:
        """The ``config.json`` of a stored feature set and config."""
        path = self._path(feature_set, config_hash, CONFIG_FILE)
        try:
            with self.fs.open_input_stream(path) as stream:
                return json.loads(stream.read().decode())
        except FileNotFoundError:
            raise FeatureStoreError(f"no {CONFIG_FILE} at {path}; the store holds:\n{self.describe()}") from None

    # ---- writing -----------------------------------------------------------------------------------------------
    def write_part(self, key: DatasetKey, table: pa.Table, errors: bool = False) -> str:
        """Write ``table`` as a new part file of ``key`` (whole file or nothing); returns its path."""
        check_name("corpus", key.corpus)
        name = f"{PART_PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}{PART_SUFFIX}"
        path = f"{self.dataset_path(key, errors)}/{name}"
        put_file(self.fs, path, lambda stream: pq.write_table(table, stream, compression="snappy"))
        return path

    def compact(self, key: DatasetKey) -> None:
        """Merge the part files of ``key`` into one (features: first copy of each utt_id wins; errors: the latest
        reason, dropping utterances that now have features). The merged file is written before the old parts are
        deleted, so a crash in between only leaves duplicates, which readers drop."""
        features = self._parts(self.dataset_path(key))
        if len(features) > 1:
            table = self.read_table(key)
            self._replace(key, features, table, errors=False)
        errors = self._parts(self.dataset_path(key, errors=True))
        if errors:
            raw = _concat([pq.read_table(path, filesystem=self.fs) for path in errors])
            table = _dedup(raw, keep="last")
            done = pa.array(self.ids(key), type=pa.string())
            table = table.filter(pc.invert(pc.is_in(table.column("utt_id").cast(pa.string()), value_set=done)))
            if len(errors) > 1 or len(table) < len(raw):
                self._replace(key, errors, table, errors=True)

    def _replace(self, key: DatasetKey, old: list[str], table: pa.Table, errors: bool) -> None:
        if len(table):
            self.write_part(key, table, errors=errors)
        for path in old:
            self.fs.delete_file(path)

    # ---- reading -----------------------------------------------------------------------------------------------
    def read_table(self, key: DatasetKey, errors: bool = False, columns: list[str] | None = None) -> pa.Table:
        """All rows of ``key`` (or its errors), duplicates dropped; an empty table when there are none."""
        parts = self._parts(self.dataset_path(key, errors))
        if not parts:
            names = list(ERROR_COLUMNS) if errors else ["utt_id", FEATURES_COLUMN]
            return pa.table({name: pa.array([], type=pa.binary() if name == FEATURES_COLUMN else pa.string())
                             for name in (columns or names)})
        tables = [pq.read_table(path, filesystem=self.fs, columns=columns) for path in parts]
        return _dedup(_concat(tables), keep="last" if errors else "first")

    def ids(self, key: DatasetKey, errors: bool = False) -> np.ndarray:
        """utt_ids stored for ``key`` (or recorded in its errors table), as an array of str."""
        table = self.read_table(key, errors=errors, columns=["utt_id"])
        return table.column("utt_id").to_numpy(zero_copy_only=False).astype(str)
