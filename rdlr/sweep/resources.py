"""What one trial of a sweep asks Ray for, how many trials and Tuners run at once on the current cluster, and
where feature extraction runs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rdlr.sweep.spec import Job, ResourcesSpec


@dataclass(frozen=True)
class TrialResources:
    """What one trial asks Ray for, and how many such trials fit the cluster at once."""

    cpus: float
    gpus: float
    slots: int
    notes: tuple[str, ...] = ()

    @property
    def device(self) -> str:
        return "cuda" if self.gpus > 0 else "cpu"

    def as_tune(self) -> dict[str, float]:
        return {"cpu": self.cpus, "gpu": self.gpus}


def plan_resources(spec: ResourcesSpec, nodes: list[Mapping[str, float]], adapt: bool = True) -> TrialResources:
    """Trial resources from the spec, adapted to the nodes' resources (``{"CPU": .., "GPU": ..}`` per node).

    A trial never asks for more than one node has (it would stay PENDING forever): no GPU where no node has one,
    at most the largest node's CPUs and GPUs. ``adapt=False`` keeps the spec's request (an autoscaler will add
    the nodes). ``slots`` counts the trials that fit at once on the current nodes (at least 1).
    """
    cpus, gpus, notes = float(spec.cpus_per_trial), float(spec.gpus_per_trial), []
    max_cpu = max((float(n.get("CPU", 0.0)) for n in nodes), default=0.0)
    max_gpu = max((float(n.get("GPU", 0.0)) for n in nodes), default=0.0)
    if adapt:
        if max_cpu > 0 and cpus > max_cpu:
            notes.append(f"cpus_per_trial {cpus:g} > the largest node's {max_cpu:g} CPUs: using {max_cpu:g}")
            cpus = max_cpu
        if gpus > 0 and max_gpu <= 0:
            notes.append("no GPU in the cluster: trials train on CPU")
            gpus = 0.0
        elif gpus > max_gpu:
            gpus = max_gpu if max_gpu < 1 else float(math.floor(max_gpu))
            notes.append(f"gpus_per_trial {spec.gpus_per_trial:g} > the largest node's {max_gpu:g} GPUs: using {gpus:g}")
    return TrialResources(cpus, gpus, trial_slots(nodes, cpus, gpus), tuple(notes))


def trial_slots(nodes: list[Mapping[str, float]], cpus: float, gpus: float) -> int:
    """Trials of ``cpus`` CPUs and ``gpus`` GPUs that fit on the nodes at once (at least 1)."""
    total = 0
    for node in nodes:
        fits = math.floor(float(node.get("CPU", 0.0)) / cpus + 1e-9) if cpus > 0 else 10**6
        if gpus > 0:
            fits = min(fits, math.floor(float(node.get("GPU", 0.0)) / gpus + 1e-9))
        total += max(0, fits)
    return max(1, total)


def cluster_nodes() -> list[dict[str, float]]:
    """Resources of the alive nodes of the connected Ray cluster."""
    import ray

    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


def trials_per_job(job: Job, seeds: int) -> int:
    """Concurrent trials of one Tuner: two configurations' seeds, so Optuna learns between suggestions."""
    return max(1, min(job.configs * seeds, 2 * seeds))


def jobs_at_once(slots: int, per_job: int, remaining: int, fixed: int = 0) -> int:
    """Tuners to run at once: ``fixed`` when set, else enough to fill every slot plus one in reserve."""
    wanted = fixed if fixed > 0 else math.ceil(slots / per_job) + 1
    return max(1, min(wanted, remaining))


def extraction_device() -> str:
    """Where neural feature extractors run: ``cuda`` when the connected cluster has a GPU, else ``cpu`` (IS10,
    openSMILE, runs on CPU regardless)."""
    import ray

    return "cuda" if float(ray.cluster_resources().get("GPU", 0.0)) > 0 else "cpu"
