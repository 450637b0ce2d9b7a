"""Where extraction actors run and how many: the device of each extractor and what its actors ask Ray for, sized
from the size the cluster may reach.

openSMILE IS10 has no model and runs on CPU whatever the device says, so its actors ask only for CPUs and land on
CPU nodes; extractors with a model (wav2vec, BERT/Whisper, Hugging Face encoders) ask for a GPU when the device is
``cuda``. On an autoscaling cluster the pool is sized from the nodes the autoscaler may launch
(:mod:`rdlr.cluster.capacity`), so its pending actors are the demand that starts them.
"""

from __future__ import annotations

import logging
from typing import Any

from rdlr.cluster.capacity import ClusterCapacity
from rdlr.features.base import Extractor

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")
AUTO = "auto"


def extraction_device(requested: str, ray: Any, capacity: ClusterCapacity | None) -> str:
    """The device of extractors with a model: ``requested``, or for ``auto`` cuda when the connected cluster has a
    GPU or its autoscaler can start a GPU node. Extractors without a model (IS10) run on CPU whatever this says
    (:func:`extractor_device`)."""
    if requested != AUTO:
        return requested
    possible = capacity.total("GPU") if capacity is not None else 0.0
    return "cuda" if max(possible, float(ray.cluster_resources().get("GPU", 0.0))) > 0 else "cpu"


def extractor_device(extractor: Extractor, requested: str) -> str:
    """The device an extractor's actors run on: ``requested``, except for extractors without a model
    (``gpu_capable = False``, e.g. openSMILE IS10), which run on CPU and so never ask Ray for a GPU."""
    if requested not in DEVICES:
        raise ValueError(f"device {requested!r}; valid: {', '.join(DEVICES)}")
    return requested if extractor.gpu_capable else "cpu"


def actor_resources(
    ray: Any, workers: int | None, device: str, capacity: ClusterCapacity | None = None, batches: int | None = None
) -> tuple[int, dict[str, float]]:
    """Actor count and per-actor resources for extractors running on ``device``.

    The cluster's size is the one it may reach: with ``capacity`` (an autoscaling cluster) the CPUs of every
    CPU-only node it may launch (for ``cuda``: its GPUs), so that the pending actors make the autoscaler start
    those nodes; without, the resources present now, minus one CPU for the driver. Default workers: one per CPU
    (``cuda``: one per GPU), at most one per batch (``batches``). An explicit ``workers`` is kept.

    Each actor asks for min(1, CPUs / workers) CPUs, so more workers than CPUs share them (fractional CPUs)
    instead of waiting forever for a free CPU; with ``device="cuda"`` likewise min(1, GPUs / workers) GPUs: a whole
    GPU each while there are enough, otherwise the actors share the GPUs (e.g. 4 workers on 1 GPU: 0.25 each,
    all four models on that GPU's memory).
    """
    if device not in DEVICES:
        raise ValueError(f"device {device!r}; valid: {', '.join(DEVICES)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers={workers}; give at least 1")
    if capacity is not None:
        cpus = capacity.total("CPU", without=("GPU",)) if device == "cpu" else capacity.total("CPU")
        cpus = cpus or capacity.total("CPU")  # a cluster of GPU nodes only: their CPUs
        gpus = capacity.total("GPU")
    else:
        present = ray.cluster_resources()
        cpus = float(present.get("CPU", 1.0))
        gpus = float(present.get("GPU", 0.0))
    if device == "cuda" and gpus <= 0:
        raise ValueError(
            "device 'cuda' but the Ray cluster has no GPU and can start none; use --device cpu, or "
            "--address of a cluster with GPUs"
        )
    if workers is None:
        units = gpus if device == "cuda" else cpus - (0 if capacity is not None else 1)
        workers = max(1, min(int(units), batches or int(units)))
    request: dict[str, float] = {"num_cpus": min(1.0, cpus / workers) if cpus > 0 else 1.0}
    if workers > cpus > 0:
        log.warning("%d workers on %g CPUs: each actor gets %.2f CPU", workers, cpus, request["num_cpus"])
    if device == "cuda":
        request["num_gpus"] = min(1.0, gpus / workers)
    return workers, request
