"""The one way rdlr connects to Ray: reuse the instance this process already initialised, else join the cluster
named by ``address`` (a command's ``--address``: ``auto`` for the one running on this machine, as on a ``ray up``
head, ``HOST:6379``, ``ray://HOST:10001``) or by the ``RAY_ADDRESS`` environment variable, else start a private
local Ray for this command alone (``address="local"``, no dashboard). A Ray that someone else started on this
machine is never joined unless named. Whatever this function started or joined it also leaves again on exit.
Ray's console output is quiet unless ``verbose`` (:mod:`rdlr.cluster.console`).

Before joining ``address`` it warns when the cluster runs another Ray version than this machine: Ray refuses such a
driver with an error that names neither the image nor the fix. The cluster of ``cluster.yaml`` runs the Ray version
of its container image, and ``pip install -e ".[cluster]"`` pins the same version here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rdlr.cluster.console import init_options, quiet_ray_console, without_ray_notes

ADDRESS_ENV = "RAY_ADDRESS"
PRIVATE = "local"  # ray.init's address for a new local instance, whatever runs on the machine
PROBE_TIMEOUT_S = 2.0


def cluster_address(address: str | None) -> str | None:
    """The cluster a command joins: ``address`` (``--address``), else ``$RAY_ADDRESS``; None when it starts a
    private local Ray."""
    return address or os.environ.get(ADDRESS_ENV) or None


def start_ray(address: str | None = None, verbose: bool = False) -> None:
    """``ray.init`` for :func:`ray_session`: join :func:`cluster_address`, else start a private local Ray."""
    import ray

    joined = cluster_address(address)
    if joined:
        warn_on_version_mismatch(joined)
        ray.init(address=joined, **init_options(verbose))
    else:
        ray.init(address=PRIVATE, include_dashboard=False, **init_options(verbose))
    if not verbose:
        quiet_ray_console()


@contextmanager
def ray_session(address: str | None = None, verbose: bool = False) -> Iterator[Any]:
    """Yield the ``ray`` module connected as described above; ``verbose`` shows Ray's own console output
    (workers' output, Ray's INFO and WARNING lines), which by default stays in Ray's session folder."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    with contextlib.nullcontext() if verbose else without_ray_notes():
        start_ray(address, verbose)
        try:
            yield ray
        finally:
            ray.shutdown()


def cluster_ray_version(address: str) -> str | None:
    """The Ray version the cluster at ``address`` (``auto``, ``host:port``) was started with; None when it
    cannot be read (no cluster there, a Ray Client address, a GCS without the metadata)."""
    if address.startswith("ray://"):
        return None
    try:  # Ray's own reader of the metadata it checks on connect (a private API: any failure means "unknown")
        from ray._common.usage.usage_lib import get_cluster_metadata
        from ray._private.services import canonicalize_bootstrap_address
        from ray._raylet import GcsClient

        gcs_address = canonicalize_bootstrap_address(address)
        if gcs_address is None:
            return None
        host, port = gcs_address.rsplit(":", 1)
        # GcsClient waits 40 s for an address where nothing listens: probe the port first
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S).close()
        return str(get_cluster_metadata(GcsClient(address=gcs_address))["ray_version"])
    except Exception:
        return None


def version_mismatch(local: str, cluster: str | None, address: str) -> str | None:
    """The warning for a client Ray ``local`` and a cluster Ray ``cluster``, or None when they agree."""
    if cluster is None or cluster == local:
        return None
    return (
        f"warning: this machine has Ray {local} but the cluster at {address} runs Ray {cluster}; Ray will refuse "
        f'to connect. Install the cluster\'s version here (pip install "ray[default]=={cluster}"), or run rdlr '
        f"on the cluster (ray job submit), or start the cluster from an image of Ray {local}."
    )


def warn_on_version_mismatch(address: str) -> None:
    """Print :func:`version_mismatch` to stderr before joining the cluster at ``address``."""
    import ray

    message = version_mismatch(ray.__version__, cluster_ray_version(address), address)
    if message:
        print(message, file=sys.stderr, flush=True)
