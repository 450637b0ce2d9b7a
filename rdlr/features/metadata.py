"""The manifest side of the feature store: which audio a vector was computed from, and the manifest columns
(labels, speakers, corpus metadata) kept apart from the vectors.

* :func:`audio_fingerprints`: ``size:mtime_ns:path`` of each utterance's audio file (``None`` when the file cannot
  be read: a vector stored for it is kept, there is nothing to recompute it from). A vector whose fingerprint
  differs from the manifest's audio now is recomputed; one stored without a fingerprint (by an older version) is
  kept as it is.
* ``<store>/manifests/<corpus>.parquet``: the manifest rows of a corpus, rewritten whole (atomically) by every
  ``rdlr extract`` whose manifest changed them (rows of utterances absent from that manifest are kept), and joined
  to the vectors by :func:`with_manifest` when loading. So a corrected label reaches the next
  :func:`rdlr.features.load` without recomputing any vector.
"""

from __future__ import annotations

import io
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rdlr.features.store import FINGERPRINT_COLUMN, FeatureStore
from rdlr.io.storage import put_file

IDENTITY_COLUMNS = ("utt_id", "corpus", "path", FINGERPRINT_COLUMN)  # the other columns of a part are extras


def audio_fingerprint(path: str) -> str | None:
    """``size:mtime_ns:path`` of the file at ``path``, or ``None`` when it cannot be read."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}:{path}"


def audio_fingerprints(manifest: pd.DataFrame) -> pd.Series:
    """utt_id -> :func:`audio_fingerprint` of its ``path``, for every row of ``manifest``."""
    values = [audio_fingerprint(path) for path in manifest["path"].astype(str)]
    return pd.Series(values, index=pd.Index(manifest["utt_id"].astype(str), name="utt_id"), dtype=object)


def stored_manifest(store: FeatureStore, corpus: str) -> pd.DataFrame | None:
    """The manifest rows the store holds for ``corpus``, or ``None`` (nothing stored, or a store written before
    manifests were kept apart)."""
    try:
        with store.fs.open_input_file(store.metadata_path(corpus)) as stream:
            return pq.read_table(stream).to_pandas()
    except FileNotFoundError:
        return None


def manifest_updates(store: FeatureStore, manifest: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """corpus -> its new manifest table, for each corpus of ``manifest`` whose stored rows it changes."""
    updates = {}
    for corpus, rows in manifest.groupby("corpus", sort=True):
        merged = _upsert(stored_manifest(store, str(corpus)), rows.reset_index(drop=True))
        if merged is not None:
            updates[str(corpus)] = merged
    return updates


def write_manifest(store: FeatureStore, corpus: str, table: pd.DataFrame) -> None:
    """Replace the stored manifest of ``corpus`` with ``table``, whole or not at all (hold the store's lock)."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), buffer, compression="snappy")
    data = buffer.getvalue()
    put_file(store.fs, store.metadata_path(corpus), lambda stream: stream.write(data))


def _upsert(existing: pd.DataFrame | None, rows: pd.DataFrame) -> pd.DataFrame | None:
    """``existing`` with ``rows`` replacing or adding their utt_ids, or ``None`` when that changes nothing."""
    if existing is None:
        return rows
    if set(existing.columns) == set(rows.columns):
        before = existing.set_index("utt_id").reindex(rows["utt_id"])[[c for c in rows.columns if c != "utt_id"]]
        if _same(before, rows.set_index("utt_id")):
            return None
    kept = existing[~existing["utt_id"].isin(rows["utt_id"])]
    return pd.concat([kept, rows], ignore_index=True) if len(kept) else rows


def _same(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    """Equal values cell by cell (missing equals missing), whatever the dtypes."""

    def cells(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype(object)
        return frame.where(frame.notna(), None)

    return cells(left).equals(cells(right))


def stored_manifests(store: FeatureStore, corpora: list[str]) -> pd.DataFrame | None:
    """The stored manifest rows of ``corpora`` together, or ``None`` when none is stored."""
    frames = [frame for frame in (stored_manifest(store, corpus) for corpus in corpora) if frame is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def with_manifest(part_meta: pd.DataFrame, manifest: pd.DataFrame | None) -> pd.DataFrame:
    """The columns of stored rows (``part_meta``: utt_id, corpus, path, fingerprint, extras) joined with the
    stored manifest: the manifest's columns first, then the extractor's extras. The manifest's values win, except
    that an extra the extractor produced (e.g. the transcript the ASR model heard) is kept. Rows the manifest
    does not list, and rows written before manifests were kept apart (which carry the manifest columns of their
    time themselves), keep their own values."""
    fresh = part_meta[FINGERPRINT_COLUMN].notna().to_numpy() if FINGERPRINT_COLUMN in part_meta else None
    part_meta = part_meta.drop(columns=[FINGERPRINT_COLUMN], errors="ignore")
    if manifest is None or manifest.empty:
        return part_meta
    ids = pd.Index(part_meta["utt_id"].astype(str))
    manifest = manifest.drop_duplicates("utt_id", keep="last")
    out = manifest.assign(utt_id=manifest["utt_id"].astype(str)).set_index("utt_id").reindex(ids).reset_index()
    unlisted = ~ids.isin(manifest["utt_id"].astype(str))
    for column in part_meta.columns:
        values = part_meta[column].to_numpy()
        if column not in out.columns:
            out[column] = values
            continue
        replace = unlisted.copy()
        if fresh is not None and column not in IDENTITY_COLUMNS:
            replace |= fresh & pd.notna(values)
        if replace.any():
            out[column] = out[column].astype(object)
            out.loc[replace, column] = values[replace]
    return out
