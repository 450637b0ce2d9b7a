"""One resolved run: a spec and the command line's options turned, once and before Ray starts, into everything a
sweep needs (storage, data root, feature store, corpora, model paths, cluster capacity, tracking).

``rdlr reproduce``, ``rdlr sweep`` and ``rdlr export`` each call :func:`resolve_run` and read the frozen
:class:`ResolvedRun` it returns; every check that can fail on bad input (an unknown spec, an unwritable storage
path, a manifest without a held-out corpus, a missing model file, a bad autoscaler config) fails here, in one line.
The stages themselves (prepare, load the feature tables) are in :mod:`rdlr.sweep.inputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdlr.cluster.capacity import ClusterCapacity, find_capacity
from rdlr.cluster.session import cluster_address
from rdlr.io.storage import check_writable
from rdlr.io.tracking import prepare_mlflow
from rdlr.spec import SpecError, SweepSpec, load_spec
from rdlr.spec.files import resolve_spec_path
from rdlr.spec.model_paths import check_model_paths
from rdlr.spec.sections import TrackingSpec
from rdlr.sweep.inputs import (
    demo_data_root,
    feature_store_uri,
    resolve_data_root,
    resolve_storage,
    resolved_models,
    spec_corpora,
)

DEMO_SPEC = "demo"


@dataclass(frozen=True)
class RunOptions:
    """What the command line says about a run (the options of :func:`rdlr.commands.options.add_run_location`)."""

    storage: str
    data_root: Path | None = None
    address: str | None = None
    autoscaler_config: str | None = None
    mlflow: str | None = None
    demo: bool = False


@dataclass(frozen=True)
class ResolvedRun:
    """A spec resolved for one run. ``address`` is the cluster joined (None: a private local Ray); ``capacity`` the
    node types an autoscaler may launch (None: a fixed cluster, or a run that starts no Ray)."""

    spec: SweepSpec
    storage: str
    data_root: Path | None
    store: str
    corpora: tuple[str, ...]
    models: Mapping[str, str] = field(default_factory=dict)
    capacity: ClusterCapacity | None = None
    address: str | None = None

    @property
    def tracking(self) -> TrackingSpec | None:
        """The spec's tracking section (with ``--mlflow``'s URI in place of its own)."""
        return self.spec.tracking

    def info(self, labels: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What this run resolved the spec's paths to, and (``labels``, :func:`rdlr.sweep.inputs.class_summary`)
        what its class set found when it is not the paper's four on four-class data; saved beside the results in
        ``spec.yaml``."""
        info: dict[str, Any] = {
            "data_root": str(self.data_root) if self.data_root else None,
            "feature_store": self.store,
            "models": dict(self.models),
        }
        if labels and (
            not self.spec.label_set().is_default or any(entry["left_out"] for entry in labels["corpora"].values())
        ):
            info["labels"] = dict(labels)
        return info

    def storage_note(self) -> str | None:
        """A warning when a cluster is joined but the storage is a local path (every node must see it)."""
        if self.address and "://" not in self.storage:
            return (
                f"note: {self.storage} is a local path; on a multi-node cluster every node must see it (NFS), "
                "else use --storage s3://..."
            )
        return None


def with_tracking(spec: SweepSpec, mlflow: str | None) -> SweepSpec:
    """``spec`` with ``--mlflow``'s URI in place of its ``tracking.mlflow``; MLflow checked usable when set."""
    if mlflow is not None:
        spec = dataclasses.replace(spec, tracking=TrackingSpec(mlflow=mlflow))
    if spec.tracking is not None and spec.tracking.mlflow:
        prepare_mlflow(spec.tracking.mlflow)
    return spec


def _spec(spec: str | SweepSpec | None, demo: bool) -> tuple[SweepSpec, str | None]:
    """The spec asked for (``--demo`` alone: the demo spec) and its file, when it has one."""
    if isinstance(spec, SweepSpec):
        return spec, None
    name = spec or (DEMO_SPEC if demo else None)
    if name is None:
        raise SpecError("give a sweep spec (e.g. sweeps/table2.yaml) or --demo")
    loaded = load_spec(name)
    if demo and loaded.data.source != "demo":
        raise SpecError(f"--demo runs a spec with data.source 'demo'; {name!r} has {loaded.data.source!r}")
    return loaded, str(resolve_spec_path(name))


def resolve_run(
    spec: str | SweepSpec | None,
    options: RunOptions,
    *,
    writes_store: bool = False,
    store: str | None = None,
    starts_ray: bool = True,
) -> ResolvedRun:
    """Resolve ``spec`` (a packaged name, a YAML file, or a spec already read, e.g. from a finished sweep) with the
    command line's ``options``.

    ``writes_store``: the run extracts into the feature store, which must then be writable (the storage path
    always must). ``store``: the feature store a finished sweep resolved (default: the spec's ``data.store``
    under the storage path). ``starts_ray``: find the cluster's capacity (``rdlr export`` retrains in this
    process and needs none). Raises :class:`SpecError`, ``ValueError`` or ``OSError`` with one line on bad input.
    """
    spec_object, spec_file = _spec(spec, options.demo)
    spec_object = with_tracking(spec_object, options.mlflow)
    storage = resolve_storage(options.storage)
    if spec_object.data.source == "demo":
        data_root: Path | None = demo_data_root(options.data_root, storage)
    else:
        data_root = resolve_data_root(options.data_root)
    store = store or feature_store_uri(spec_object, storage)
    check_writable(storage, what="storage path")
    if writes_store:
        check_writable(store, what="feature store")
    corpora = spec_corpora(spec_object, data_root)  # a manifests spec: its corpora checked before Ray starts
    if spec_file is not None:
        check_model_paths(spec_object, data_root, spec_file, store)
    address = cluster_address(options.address)
    capacity = find_capacity(options.autoscaler_config, joined=address is not None) if starts_ray else None
    return ResolvedRun(
        spec_object,
        storage,
        data_root,
        store,
        tuple(corpora),
        resolved_models(spec_object, data_root),
        capacity,
        address,
    )
