"""The extraction actors of the Ray Data pipeline: what each actor does with a batch (:class:`ExtractActor`) and
what each one asks the cluster for (:func:`actor_resources`)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pyarrow as pa

from rdlr.features.base import Extractor
from rdlr.features.store import FEATURES_COLUMN

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")
# Columns of the blocks the actors return; any other column is an extractor "extra" (e.g. transcript).
RESULT_COLUMNS = ("utt_id", "corpus", "path", FEATURES_COLUMN, "error", "started")


class ExtractActor:
    """Ray Data callable class: holds one extractor, set up once per actor, and maps batches through it."""

    def __init__(self, extractor: Extractor, device: str = "cpu") -> None:
        self.extractor = extractor
        self.extractor.setup(device)

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.time()
        records = batch.to_pylist()
        results = self.extractor.extract(records)
        if len(results) != len(records):
            raise RuntimeError(f"{type(self.extractor).__name__}.extract returned {len(results)} results "
                               f"for {len(records)} utterances")
        vectors = [r.vector.astype("<f4", copy=False).tobytes() if r.error is None and r.vector is not None
                   else None for r in results]
        errors = [r.error if r.error is not None else (None if r.vector is not None else "no vector returned")
                  for r in results]
        columns: dict[str, pa.Array] = {
            "utt_id": batch.column("utt_id"),
            "corpus": batch.column("corpus"),
            "path": batch.column("path"),
            FEATURES_COLUMN: pa.array(vectors, type=pa.binary()),
            "error": pa.array(errors, type=pa.string()),
            "started": pa.array(np.full(len(records), started)),
        }
        extra_keys = sorted({k for r in results for k in r.extras})
        clash = set(extra_keys) & set(RESULT_COLUMNS)
        if clash:
            raise RuntimeError(f"extractor extras {sorted(clash)} clash with reserved columns {RESULT_COLUMNS}")
        for key in extra_keys:
            columns[key] = pa.array([r.extras.get(key) for r in results], type=pa.string())
        return pa.table(columns)


def actor_resources(ray: Any, workers: int | None, device: str) -> tuple[int, dict[str, float]]:
    """Actor count and per-actor resources. Default workers: the cluster's CPUs minus one (for the driver).

    Each actor asks for min(1, CPUs / workers) CPUs, so more workers than CPUs share them (fractional CPUs)
    instead of waiting forever for a free CPU; with ``device="cuda"`` likewise min(1, GPUs / workers) GPUs: a whole
    GPU each while there are enough, otherwise the actors share the GPUs (e.g. 4 workers on 1 GPU: 0.25 each,
    all four models on that GPU's memory).
    """
    if device not in DEVICES:
        raise ValueError(f"device {device!r}; valid: {', '.join(DEVICES)}")
    resources = ray.cluster_resources()
    cpus = float(resources.get("CPU", 1.0))
    if workers is None:
        workers = max(1, int(cpus) - 1)
    if workers < 1:
        raise ValueError(f"workers={workers}; give at least 1")
    request: dict[str, float] = {"num_cpus": min(1.0, cpus / workers)}
    if workers > cpus:
        log.warning("%d workers on %g CPUs: each actor gets %.2f CPU", workers, cpus, request["num_cpus"])
    if device == "cuda":
        gpus = float(resources.get("GPU", 0.0))
        if gpus <= 0:
            raise ValueError("device 'cuda' but the Ray cluster has no GPU; use --device cpu, or --address of a "
                             "cluster with GPUs")
        request["num_gpus"] = min(1.0, gpus / workers)
    return workers, request
