"""The one way rdlr connects to Ray: reuse the instance this process already initialised, else join ``address``
(``auto``, ``ray://host:10001``, ...), else let ``ray.init()`` decide: it joins the cluster named by ``RAY_ADDRESS``
or one already running on this machine, and otherwise starts a local instance. Whatever this function started or
joined it also leaves again on exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def ray_session(address: str | None = None, log_to_driver: bool = True) -> Iterator[Any]:
    """Yield the ``ray`` module connected as described above; ``log_to_driver=False`` keeps workers' output off
    the driver's terminal (sweeps print their own progress lines)."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    if address:
        ray.init(address=address, log_to_driver=log_to_driver)
    else:
        ray.init(include_dashboard=False, log_to_driver=log_to_driver)
    try:
        yield ray
    finally:
        ray.shutdown()
