"""The extraction actors of the Ray Data pipeline: what each actor does with a batch (:class:`ExtractActor`). What
each one asks the cluster for, and how many there are: :mod:`rdlr.features.placement`."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from rdlr.features.base import Extractor
from rdlr.features.store import FEATURES_COLUMN

# Columns of the blocks the actors return; any other column is an extractor "extra" (e.g. transcript).
RESULT_COLUMNS = ("utt_id", "corpus", "path", FEATURES_COLUMN, "error", "started", "node")


class ExtractActor:
    """Ray Data callable class: holds one extractor, set up once per actor, and maps batches through it. Each
    result row names the Ray node that extracted it (``node``)."""

    def __init__(self, extractor: Extractor, device: str = "cpu") -> None:
        import ray

        self.extractor = extractor
        self.extractor.setup(device)
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.time()
        records = batch.to_pylist()
        results = self.extractor.extract(records)
        if len(results) != len(records):
            raise RuntimeError(
                f"{type(self.extractor).__name__}.extract returned {len(results)} results for {len(records)} utterances"
            )
        vectors = [
            r.vector.astype("<f4", copy=False).tobytes() if r.error is None and r.vector is not None else None
            for r in results
        ]
        errors = [
            r.error if r.error is not None else (None if r.vector is not None else "no vector returned")
            for r in results
        ]
        columns: dict[str, pa.Array] = {
            "utt_id": batch.column("utt_id"),
            "corpus": batch.column("corpus"),
            "path": batch.column("path"),
            FEATURES_COLUMN: pa.array(vectors, type=pa.binary()),
            "error": pa.array(errors, type=pa.string()),
            "started": pa.array(np.full(len(records), started)),
            "node": pa.array([self.node] * len(records), type=pa.string()),
        }
        extra_keys = sorted({k for r in results for k in r.extras})
        clash = set(extra_keys) & set(RESULT_COLUMNS)
        if clash:
            raise RuntimeError(f"extractor extras {sorted(clash)} clash with reserved columns {RESULT_COLUMNS}")
        for key in extra_keys:
            columns[key] = pa.array([r.extras.get(key) for r in results], type=pa.string())
        return pa.table(columns)
