"""The Parquet feature store: a local folder or a cloud URI (``s3://bucket/prefix``) via pyarrow's filesystems.

Layout (one dataset per feature set, extractor config hash and corpus; the manifest columns once per corpus)::

    <store>/<feature_set>/<config_hash>/config.json                 extractor class, config, dim, versions
    <store>/<feature_set>/<config_hash>/<corpus>/part-*.parquet     utt_id, corpus, path, audio_fingerprint, extras,
                                                                     features
    <store>/<feature_set>/<config_hash>/<corpus>/errors/part-*.parquet   utt_id, corpus, path, reason, kind, time,
                                                                          audio_fingerprint
    <store>/manifests/<corpus>.parquet                               the manifest rows (labels, speakers, ...)
    <store>/.lock                                                    the writer lock (rdlr.io.storage.FolderLock)

``features`` is one binary column holding each vector as little-endian float32 bytes: decoding it to an N×D
matrix is a single ``np.frombuffer`` per Arrow chunk (several times faster than a list<float32> column).
Vectors are keyed by ``utt_id`` and the fingerprint of the audio they were computed from (path, size,
modification time: :func:`rdlr.features.metadata.audio_fingerprints`); labels and the other manifest columns are
kept apart (:mod:`rdlr.features.metadata`) and joined when loading, so a corrected manifest updates them without
recomputing a vector. Part files are written whole and then renamed (local) or PUT in one request (object
stores), so a reader never sees half a file and an interrupted extraction keeps every part it finished.
:meth:`FeatureStore.compact` merges parts into one, writing the merged part before deleting the old ones; the
newest copy of a row wins. A reader whose listed part is deleted by a compaction lists again. Writers hold the
store's lock (:meth:`FeatureStore.lock`).
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

from rdlr.io.safe_text import MAX_BYTES, parse_json
from rdlr.io.storage import TMP_PREFIX, FolderLock, open_filesystem, put_file

FEATURES_COLUMN = "features"
FINGERPRINT_COLUMN = "audio_fingerprint"  # the audio a row was computed from; null in stores written before it
ERRORS_DIR = "errors"
CONFIG_FILE = "config.json"
METADATA_DIR = "manifests"  # <store>/manifests/<corpus>.parquet: not a feature set
PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
ERROR_COLUMNS = ("utt_id", "corpus", "path", "reason", "kind", "time", FINGERPRINT_COLUMN)
READ_ATTEMPTS = 5  # listings retried when a compaction deletes a listed part before it is read
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_FEATURE_SET_NAME = re.compile(r"[A-Za-z0-9_.-]+(@[0-9]+)?")  # a layer of an encoder: whisper@6


class FeatureStoreError(LookupError):
    """Something asked of the store that it does not hold; the message says what it has and what to run."""


def reason_kind(reason: str) -> str:
    """The category of an error reason (``"too short (0.05 s < 0.1 s): /a.wav"`` -> ``"too short"``)."""
    head = reason.split(":", 1)[0]
    return head.split(" (", 1)[0].strip() or "error"


def check_name(kind: str, name: str) -> str:
    """``name`` if it is usable as one folder of the store, else a clear ValueError (feature sets may end in a
    layer number, ``whisper@6``)."""
    pattern = _FEATURE_SET_NAME if kind == "feature set" else _SAFE_NAME
    if not pattern.fullmatch(name) or name in {".", ".."}:
        raise ValueError(f"{kind} name {name!r} cannot be a store folder: use letters, digits, '_', '-', '.'")
    if kind == "feature set" and name == METADATA_DIR:
        raise ValueError(f"feature set name {name!r} is reserved for the store's manifest tables")
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
        values = np.frombuffer(
            data_buffer, dtype="<f4", count=int(offsets[-1] - offsets[0]) // 4, offset=int(offsets[0])
        )
        pieces.append(values.reshape(len(chunk), -1))
    if len(dims) > 1:
        raise ValueError(f"feature vectors of different sizes {sorted(dims)}{where}")
    return np.concatenate(pieces).astype(np.float32, copy=False) if len(pieces) > 1 else pieces[0].copy()


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def _dedup(table: pa.Table) -> pa.Table:
    """One row per utt_id: the last one (parts are read oldest first, so the newest copy wins)."""
    ids = table.column("utt_id").to_numpy(zero_copy_only=False)
    duplicated = pd.Index(ids).duplicated(keep="last")
    return table.filter(pa.array(~duplicated)) if duplicated.any() else table


def _stale_rows(table: pa.Table, current: pd.Series | None) -> np.ndarray:
    """Rows computed from other audio than ``current`` (utt_id -> fingerprint) says the manifest has now;
    rows without a fingerprint (older stores) and utterances ``current`` does not list are kept."""
    if current is None or FINGERPRINT_COLUMN not in table.column_names or not len(table):
        return np.zeros(len(table), dtype=bool)
    ids = pd.Index(table.column("utt_id").to_numpy(zero_copy_only=False).astype(str))
    stored = table.column(FINGERPRINT_COLUMN).to_numpy(zero_copy_only=False)
    now = current.reindex(ids).to_numpy(dtype=object)
    known = pd.notna(stored) & pd.notna(now)
    return known & (stored != now)


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

    def metadata_path(self, corpus: str) -> str:
        """The manifest table of ``corpus`` (:mod:`rdlr.features.metadata`)."""
        return self._path(METADATA_DIR, f"{check_name('corpus', corpus)}{PART_SUFFIX}")

    def lock(self, command: str, wait_s: float = 0.0) -> FolderLock:
        """The store's writer lock (a context manager); a second writer waits ``wait_s`` s, then is refused with
        a message naming the holder."""
        return FolderLock(self.fs, self.root, command, what="feature store", wait_s=wait_s)

    def _subdirs(self, path: str) -> list[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(
            i.base_name for i in infos if i.type == pafs.FileType.Directory and not i.base_name.startswith(".")
        )

    def _parts(self, path: str) -> list[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(
            i.path
            for i in infos
            if i.type == pafs.FileType.File
            and i.base_name.startswith(PART_PREFIX)
            and i.base_name.endswith(PART_SUFFIX)
        )

    def feature_sets(self) -> list[str]:
        """Feature-set folders in the store."""
        return [name for name in self._subdirs(self.root) if name != METADATA_DIR]

    def config_hashes(self, feature_set: str) -> list[str]:
        """Config hashes stored for ``feature_set`` (folders holding a config.json)."""
        hashes = self._subdirs(self._path(feature_set))
        infos = self.fs.get_file_info([self._path(feature_set, h, CONFIG_FILE) for h in hashes])
        return [h for h, info in zip(hashes, infos) if info.type == pafs.FileType.File]

    def corpora(self, feature_set: str, config_hash: str) -> list[str]:
        """Corpora with at least one stored vector for this feature set and config."""
        return [
            c
            for c in self._subdirs(self._path(feature_set, config_hash))
            if self._parts(self.dataset_path(DatasetKey(feature_set, config_hash, c)))
        ]

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
                return parse_json(stream.read(MAX_BYTES + 1), path)
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

    def needs_compaction(self, key: DatasetKey) -> bool:
        """Whether ``key`` has several part files (or an interrupted write's temporary file) to merge."""
        for errors in (False, True):
            infos = self.fs.get_file_info(pafs.FileSelector(self.dataset_path(key, errors), allow_not_found=True))
            names = [i.base_name for i in infos if i.type == pafs.FileType.File]
            if sum(n.startswith(PART_PREFIX) for n in names) > 1 or any(n.startswith(TMP_PREFIX) for n in names):
                return True
        return False

    def compact(self, key: DatasetKey, current: pd.Series | None = None) -> None:
        """Merge the part files of ``key`` into one: the newest copy of each utt_id, without rows computed from
        audio that ``current`` (utt_id -> fingerprint of the manifest's audio now) says changed; errors also
        without the utterances that now have features. The merged file is written before the old parts are
        deleted, so a crash in between only leaves duplicates, which readers drop. Temporary files of writes
        that a killed process left behind are removed: call this only while holding the store's lock."""
        features = self._parts(self.dataset_path(key))
        if features:
            stale = _stale_rows(self.read_table(key, columns=["utt_id", FINGERPRINT_COLUMN]), current)
            if len(features) > 1 or stale.any():  # the vectors are read only when there is something to rewrite
                table = self.read_table(key)
                self._replace(key, features, table.filter(pa.array(~_stale_rows(table, current))), errors=False)
        errors = self._parts(self.dataset_path(key, errors=True))
        if errors:
            table = self.read_table(key, errors=True)
            done = pa.array(self.ids(key), type=pa.string())
            keep = pc.invert(pc.is_in(table.column("utt_id").cast(pa.string()), value_set=done))
            table = table.filter(pc.and_(keep, pa.array(~_stale_rows(table, current))))
            if len(errors) > 1 or len(table) < self._rows(errors):
                self._replace(key, errors, table, errors=True)
        self._remove_temporary_files(key)

    def _rows(self, paths: list[str]) -> int:
        total = 0
        for path in paths:
            with self.fs.open_input_file(path) as stream:
                total += pq.ParquetFile(stream).metadata.num_rows
        return total

    def _replace(self, key: DatasetKey, old: list[str], table: pa.Table, errors: bool) -> None:
        if len(table):
            self.write_part(key, table, errors=errors)
        for path in old:
            self.fs.delete_file(path)

    def _remove_temporary_files(self, key: DatasetKey) -> None:
        for errors in (False, True):
            infos = self.fs.get_file_info(pafs.FileSelector(self.dataset_path(key, errors), allow_not_found=True))
            for info in infos:
                if info.type == pafs.FileType.File and info.base_name.startswith(TMP_PREFIX):
                    self.fs.delete_file(info.path)

    # ---- reading -----------------------------------------------------------------------------------------------
    def read_table(self, key: DatasetKey, errors: bool = False, columns: list[str] | None = None) -> pa.Table:
        """All rows of ``key`` (or its errors), the newest copy of each utt_id; an empty table when there are
        none. ``columns`` that a part lacks (written by an older version) come back as nulls."""
        tables = self._read_parts(self.dataset_path(key, errors), columns)
        if not tables:
            names = columns or (list(ERROR_COLUMNS) if errors else ["utt_id", FEATURES_COLUMN])
            return pa.table(
                {name: pa.array([], type=pa.binary() if name == FEATURES_COLUMN else pa.string()) for name in names}
            )
        return _dedup(_concat(tables))

    def _read_parts(self, folder: str, columns: list[str] | None) -> list[pa.Table]:
        """Every part of ``folder``, listed again when a compaction deleted a listed part before it was read."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return [self._read_part(path, columns) for path in self._parts(folder)]
            except FileNotFoundError:
                if attempt == READ_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
        return []

    def _read_part(self, path: str, columns: list[str] | None) -> pa.Table:
        with self.fs.open_input_file(path) as stream:
            part = pq.ParquetFile(stream)
            if columns is None:
                return part.read()
            present = [c for c in columns if c in part.schema_arrow.names]
            table = part.read(columns=present)
        for name in columns:
            if name not in present:
                table = table.append_column(name, pa.nulls(len(table), type=pa.string()))
        return table.select(columns)

    def ids(self, key: DatasetKey, errors: bool = False) -> np.ndarray:
        """utt_ids stored for ``key`` (or recorded in its errors table), as an array of str."""
        table = self.read_table(key, errors=errors, columns=["utt_id"])
        return table.column("utt_id").to_numpy(zero_copy_only=False).astype(str)

    def fingerprints(self, key: DatasetKey, errors: bool = False) -> pd.Series:
        """The audio fingerprint of each utt_id stored for ``key`` (or in its errors); None where unrecorded."""
        table = self.read_table(key, errors=errors, columns=["utt_id", FINGERPRINT_COLUMN])
        ids = table.column("utt_id").to_numpy(zero_copy_only=False).astype(str)
        return pd.Series(table.column(FINGERPRINT_COLUMN).to_pylist(), index=pd.Index(ids, name="utt_id"), dtype=object)
