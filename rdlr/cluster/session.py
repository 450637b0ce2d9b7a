"""The one way rdlr connects to Ray: reuse the instance this process already initialised, else join ``address``
(``auto``, ``ray://host:10001``, ...), else let ``ray.init()`` decide: it joins the cluster named by ``RAY_ADDRESS``
or one already running on this machine, and otherwise starts a local instance. Whatever this function started or
joined it also leaves again on exit.

Before joining ``address`` it warns when the cluster runs another Ray version than this machine: Ray refuses such a
driver with an error that names neither the image nor the fix. The cluster of ``cluster.yaml`` runs the Ray version
of its container image, and ``pip install -e ".[cluster]"`` pins the same version here.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PROBE_TIMEOUT_S = 2.0


@contextmanager
def ray_session(address: str | None = None, log_to_driver: bool = True) -> Iterator[Any]:
    """Yield the ``ray`` module connected as described above; ``log_to_driver=False`` keeps workers' output off
    the driver's terminal (sweeps print their own progress lines)."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    if address:
        warn_on_version_mismatch(address)
        ray.init(address=address, log_to_driver=log_to_driver)
    else:
        ray.init(include_dashboard=False, log_to_driver=log_to_driver)
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
    return (f"warning: this machine has Ray {local} but the cluster at {address} runs Ray {cluster}; Ray will refuse "
            f"to connect. Install the cluster's version here (pip install \"ray[default]=={cluster}\"), or run rdlr "
            f"on the cluster (ray job submit), or start the cluster from an image of Ray {local}.")


def warn_on_version_mismatch(address: str) -> None:
    """Print :func:`version_mismatch` to stderr before joining the cluster at ``address``."""
    import ray

    message = version_mismatch(ray.__version__, cluster_ray_version(address), address)
    if message:
        print(message, file=sys.stderr, flush=True)
