"""The driver side of incremental extraction: result blocks buffered and written to the feature store as part
files, so an interrupted run keeps what finished."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rdlr.features.actor import RESULT_COLUMNS
from rdlr.features.store import ERROR_COLUMNS, FEATURES_COLUMN, DatasetKey, FeatureStore, reason_kind

ROWS_PER_PART = 512
SECONDS_PER_PART = 30.0


class PartWriter:
    """Buffers result blocks in the driver and writes them as part files (features and errors) every
    ``rows_per_part`` rows or ``seconds_per_part`` seconds, and on :meth:`flush`."""

    def __init__(self, store: FeatureStore, feature_set: str, config_hash: str, manifest: pd.DataFrame,
                 rows_per_part: int = ROWS_PER_PART, seconds_per_part: float = SECONDS_PER_PART) -> None:
        self.store = store
        self.feature_set = feature_set
        self.config_hash = config_hash
        self.manifest = manifest.set_index("utt_id", drop=False)
        self.rows_per_part = rows_per_part
        self.seconds_per_part = seconds_per_part
        self._features: dict[str, list[pa.Table]] = {}
        self._errors: dict[str, list[pa.Table]] = {}
        self._buffered = 0
        self._last_flush = time.monotonic()
        self.dim: int | None = None

    def add(self, block: pa.Table) -> tuple[list[str], list[tuple[str, str]]]:
        """Buffer one result block; returns (corpus of each vector added, [(corpus, error reason), ...])."""
        failed = pc.is_valid(block.column("error"))
        good = block.filter(pc.invert(failed))
        bad = block.filter(failed)
        if len(good):
            self._check_dim(good)
            self._buffer(self._features, self._feature_rows(good))
        reasons: list[tuple[str, str]] = []
        if len(bad):
            reasons = list(zip(bad.column("corpus").to_pylist(), bad.column("error").to_pylist()))
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            errors = pa.table({
                "utt_id": bad.column("utt_id").cast(pa.string()),
                "corpus": bad.column("corpus").cast(pa.string()),
                "path": bad.column("path").cast(pa.string()),
                "reason": bad.column("error"),
                "kind": pa.array([reason_kind(r) for _, r in reasons], type=pa.string()),
                "time": pa.array([now] * len(bad), type=pa.string()),
            }).select(list(ERROR_COLUMNS))
            self._buffer(self._errors, errors)
        self._buffered += len(block)
        if self._buffered >= self.rows_per_part or time.monotonic() - self._last_flush >= self.seconds_per_part:
            self.flush()
        return good.column("corpus").to_pylist(), reasons

    def _check_dim(self, good: pa.Table) -> None:
        sizes = set(pc.unique(pc.binary_length(good.column(FEATURES_COLUMN))).to_pylist())
        dims = {size // 4 for size in sizes} | ({self.dim} if self.dim is not None else set())
        if len(dims) != 1:
            raise RuntimeError(f"feature set {self.feature_set!r} produced vectors of different sizes {sorted(dims)}")
        self.dim = dims.pop()

    def _feature_rows(self, good: pa.Table) -> pa.Table:
        ids = good.column("utt_id").to_numpy(zero_copy_only=False)
        meta = self.manifest.loc[ids].reset_index(drop=True)
        table = pa.Table.from_pandas(meta, preserve_index=False)
        for name in good.column_names:
            if name in RESULT_COLUMNS:
                continue
            column = good.column(name)
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, column)
            else:
                table = table.append_column(name, column)
        return table.append_column(FEATURES_COLUMN, good.column(FEATURES_COLUMN))

    @staticmethod
    def _buffer(buffers: dict[str, list[pa.Table]], table: pa.Table) -> None:
        corpora = table.column("corpus").cast(pa.string())
        for corpus in pc.unique(corpora).to_pylist():
            buffers.setdefault(corpus, []).append(table.filter(pc.equal(corpora, corpus)))

    def flush(self) -> None:
        """Write everything buffered as part files."""
        for errors, buffers in ((False, self._features), (True, self._errors)):
            for corpus, tables in buffers.items():
                table = pa.concat_tables(tables, promote_options="permissive")
                self.store.write_part(DatasetKey(self.feature_set, self.config_hash, corpus), table, errors=errors)
            buffers.clear()
        self._buffered = 0
        self._last_flush = time.monotonic()
