"""How large the Ray cluster may grow: the node types of its autoscaler config and how many of each may run.

Work is sized from this, not only from the nodes alive now, so that an autoscaling cluster sees the demand that
makes it start nodes: the extraction actor pool asks for the CPUs of every CPU node the autoscaler may launch,
and trials ask for the spec's resources as long as some node type can hold them (a GPU node starts on demand).

Where the config comes from, in order: an explicit path (``--autoscaler-config``), the ``RDLR_AUTOSCALER_CONFIG``
environment variable, and, when joining a running cluster, ``~/ray_bootstrap_config.yaml`` (the file ``ray up``
writes on the head node, with the node types' CPUs and GPUs filled in, and hands to the autoscaler). Without any
of them the cluster is taken as fixed: the nodes alive now.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdlr.io.safe_text import read_yaml

CONFIG_ENV = "RDLR_AUTOSCALER_CONFIG"
BOOTSTRAP_CONFIG = "~/ray_bootstrap_config.yaml"
NOT_SHOWN = ("memory", "object_store_memory")  # per-node amounts that say nothing about where work lands


@dataclass(frozen=True)
class NodeType:
    """One kind of node the autoscaler launches: its Ray resources and how many may run at once."""

    name: str
    resources: Mapping[str, float]
    max_workers: int
    head: bool = False


@dataclass(frozen=True)
class ClusterCapacity:
    """The node types of an autoscaling cluster and the cap on worker nodes (``max_workers``)."""

    node_types: tuple[NodeType, ...]
    max_workers: int
    source: str

    def possible_nodes(self) -> list[dict[str, float]]:
        """Resources of every node that may run at once: the head, then each worker type up to its
        ``max_workers`` (an upper bound when the types' maxima add up to more than the cluster's cap)."""
        nodes = [dict(t.resources) for t in self.node_types if t.head]
        for node_type in self.node_types:
            if not node_type.head:
                nodes += [dict(node_type.resources)] * min(node_type.max_workers, self.max_workers)
        return nodes

    def total(self, resource: str, without: tuple[str, ...] = ()) -> float:
        """The most of ``resource`` the cluster can hold at once, counting only nodes that have none of
        ``without`` (e.g. the CPUs of CPU-only nodes: ``total("CPU", without=("GPU",))``)."""
        heads = [t for t in self.node_types if t.head and self._keeps(t, without)]
        workers = sorted((float(node.get(resource, 0.0)) for node in self._worker_nodes(without)), reverse=True)
        return sum(float(t.resources.get(resource, 0.0)) for t in heads) + sum(workers[: self.max_workers])

    def _worker_nodes(self, without: tuple[str, ...]) -> list[Mapping[str, float]]:
        return [
            t.resources
            for t in self.node_types
            if not t.head and self._keeps(t, without)
            for _ in range(min(t.max_workers, self.max_workers))
        ]

    @staticmethod
    def _keeps(node_type: NodeType, without: tuple[str, ...]) -> bool:
        return all(float(node_type.resources.get(name, 0.0)) <= 0 for name in without)

    def describe(self) -> str:
        """One line: each type's resources and maximum count."""
        parts = []
        for t in self.node_types:
            shown = ", ".join(f"{k} {v:g}" for k, v in sorted(t.resources.items()) if k not in NOT_SHOWN)
            parts.append(f"{t.name} ({shown or 'no resources'}) {'head' if t.head else f'× ≤{t.max_workers}'}")
        return f"{'; '.join(parts)}; at most {self.max_workers} workers (from {self.source})"


def capacity_from_config(config: Mapping[str, Any], source: str) -> ClusterCapacity:
    """The capacity described by a Ray autoscaler config (``available_node_types``, ``head_node_type``,
    ``max_workers``; a type without ``max_workers`` is bounded by the cluster's, as in Ray). Node types without
    ``CPU`` in ``resources`` (cloud types whose resources ``ray up`` detects) count as 0 CPUs: the bootstrap
    config on the head has them filled in; elsewhere list them in ``resources`` to have them counted."""
    types = config.get("available_node_types")
    if not isinstance(types, Mapping) or not types:
        raise ValueError(f"{source}: no 'available_node_types' mapping; is this a Ray autoscaler config?")
    head = config.get("head_node_type")
    if head not in types:
        raise ValueError(f"{source}: head_node_type {head!r} is not one of the node types {sorted(types)}")
    cluster_max = config.get("max_workers")
    node_types = []
    for name, entry in types.items():
        where = f"{source}: available_node_types.{name}"
        resources = (entry or {}).get("resources") or {}
        if not isinstance(resources, Mapping):
            raise ValueError(f"{where}.resources must be a mapping, got {resources!r}")
        amounts = {str(k): _amount(v, f"{where}.resources.{k}") for k, v in resources.items()}
        limit = 0 if name == head else (entry or {}).get("max_workers", cluster_max)
        if limit is None:
            raise ValueError(f"{where} has no max_workers, nor has the config; set one of them")
        node_types.append(NodeType(str(name), amounts, int(_amount(limit, f"{where}.max_workers")), head=name == head))
    if cluster_max is None:
        cluster_max = sum(t.max_workers for t in node_types)
    return ClusterCapacity(tuple(node_types), int(_amount(cluster_max, f"{source}: max_workers")), source)


def _amount(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
        raise ValueError(f"{where} must be a number >= 0, got {value!r}")
    return float(value)


def read_autoscaler_config(path: str | os.PathLike[str]) -> ClusterCapacity:
    """:func:`capacity_from_config` of a YAML (or JSON) autoscaler config file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"autoscaler config {file} not found; give the cluster.yaml the cluster was started with")
    config = read_yaml(file)  # a file beyond rdlr.io.safe_text's bounds: a DocumentError (ValueError) naming it
    if not isinstance(config, Mapping):
        raise ValueError(f"{file}: an autoscaler config is a mapping, got {type(config).__name__}")
    return capacity_from_config(config, str(file))


def find_capacity(config_path: str | None, joined: bool) -> ClusterCapacity | None:
    """The capacity of the cluster this process uses (see the module docstring for the order), or None for a
    fixed cluster. ``joined``: the process joins a running cluster (``--address``) rather than starting one."""
    explicit = config_path or os.environ.get(CONFIG_ENV)
    if explicit:
        return read_autoscaler_config(explicit)
    bootstrap = Path(BOOTSTRAP_CONFIG).expanduser()
    return read_autoscaler_config(bootstrap) if joined and bootstrap.is_file() else None


def alive_nodes() -> list[dict[str, float]]:
    """Resources of the alive nodes of the connected Ray cluster."""
    import ray

    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


def planning_nodes(capacity: ClusterCapacity | None) -> list[dict[str, float]]:
    """The nodes to size work for: every node the autoscaler may run, else the nodes alive now."""
    return capacity.possible_nodes() if capacity is not None else alive_nodes()
