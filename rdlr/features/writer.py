"""The driver side of incremental extraction: every result block (one batch of an actor) is written to the feature
store as part files as soon as it arrives, so a run killed at any point loses at most the batches still on their
way to the driver. The parts are merged by :meth:`rdlr.features.store.FeatureStore.compact` at the end of a run."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rdlr.features.actor import RESULT_COLUMNS
from rdlr.features.store import (
    ERROR_COLUMNS,
    FEATURES_COLUMN,
    FINGERPRINT_COLUMN,
    DatasetKey,
    FeatureStore,
    reason_kind,
)

ROW_COLUMNS = ("utt_id", "corpus", "path", FINGERPRINT_COLUMN)  # then the extractor's extras, then the vector


def feature_set_rows(block: pa.Table, part: int = 0, parts: int = 1, wanted: pa.Array | None = None) -> pa.Table:
    """One feature set's rows of a result block whose vectors hold ``parts`` feature sets side by side (an
    encoder's layers, :meth:`rdlr.features.base.Extractor.outputs`): its slice ``part`` of each vector, and with
    ``wanted`` (utt_ids) only the utterances it still lacks."""
    if parts > 1:
        column = block.column(FEATURES_COLUMN)
        sizes = set(pc.unique(pc.binary_length(column)).to_pylist()) - {None}
        if any(size % (4 * parts) for size in sizes) or len(sizes) > 1:
            raise RuntimeError(f"vectors of {sorted(sizes)} bytes do not split into {parts} float32 feature sets")
        width = sizes.pop() // parts if sizes else 0
        sliced = pc.binary_slice(column, part * width, (part + 1) * width)
        block = block.set_column(block.column_names.index(FEATURES_COLUMN), FEATURES_COLUMN, sliced)
    if wanted is not None:
        block = block.filter(pc.is_in(block.column("utt_id").cast(pa.string()), value_set=wanted))
    return block


class PartWriter:
    """Writes each result block as part files (features and errors, one per corpus in the block), with the
    fingerprint of the audio each row was computed from (``fingerprints``: utt_id -> fingerprint)."""

    def __init__(self, store: FeatureStore, feature_set: str, config_hash: str, fingerprints: pd.Series) -> None:
        self.store = store
        self.feature_set = feature_set
        self.config_hash = config_hash
        self.fingerprints = fingerprints
        self.dim: int | None = None

    def add(self, block: pa.Table) -> tuple[list[str], list[tuple[str, str]]]:
        """Store one result block; returns (corpus of each vector added, [(corpus, error reason), ...])."""
        failed = pc.is_valid(block.column("error"))
        good = block.filter(pc.invert(failed))
        bad = block.filter(failed)
        if len(good):
            self._check_dim(good)
            self._write(self._feature_rows(good), errors=False)
        reasons: list[tuple[str, str]] = []
        if len(bad):
            reasons = list(zip(bad.column("corpus").to_pylist(), bad.column("error").to_pylist()))
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            errors = pa.table(
                {
                    "utt_id": bad.column("utt_id").cast(pa.string()),
                    "corpus": bad.column("corpus").cast(pa.string()),
                    "path": bad.column("path").cast(pa.string()),
                    "reason": bad.column("error"),
                    "kind": pa.array([reason_kind(r) for _, r in reasons], type=pa.string()),
                    "time": pa.array([now] * len(bad), type=pa.string()),
                    FINGERPRINT_COLUMN: self._fingerprints(bad),
                }
            ).select(list(ERROR_COLUMNS))
            self._write(errors, errors=True)
        return good.column("corpus").to_pylist(), reasons

    def _check_dim(self, good: pa.Table) -> None:
        sizes = set(pc.unique(pc.binary_length(good.column(FEATURES_COLUMN))).to_pylist())
        dims = {size // 4 for size in sizes} | ({self.dim} if self.dim is not None else set())
        if len(dims) != 1:
            raise RuntimeError(f"feature set {self.feature_set!r} produced vectors of different sizes {sorted(dims)}")
        self.dim = dims.pop()

    def _fingerprints(self, rows: pa.Table) -> pa.Array:
        ids = rows.column("utt_id").to_numpy(zero_copy_only=False).astype(str)
        return pa.array(self.fingerprints.reindex(ids).tolist(), type=pa.string())

    def _feature_rows(self, good: pa.Table) -> pa.Table:
        table = pa.table(
            {
                "utt_id": good.column("utt_id").cast(pa.string()),
                "corpus": good.column("corpus").cast(pa.string()),
                "path": good.column("path").cast(pa.string()),
                FINGERPRINT_COLUMN: self._fingerprints(good),
            }
        )
        for name in good.column_names:
            if name not in RESULT_COLUMNS:
                table = table.append_column(name, good.column(name))
        return table.append_column(FEATURES_COLUMN, good.column(FEATURES_COLUMN))

    def _write(self, table: pa.Table, errors: bool) -> None:
        corpora = table.column("corpus")
        for corpus in pc.unique(corpora).to_pylist():
            key = DatasetKey(self.feature_set, self.config_hash, corpus)
            self.store.write_part(key, table.filter(pc.equal(corpora, corpus)), errors=errors)
