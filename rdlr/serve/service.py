"""``rdlr serve``: load the model folders, start (or join) Ray, run the Serve application until Ctrl-C.

The models are read and checked in this process before Ray starts (an unusable folder is one error line, exit 2),
then travel to the replicas with the application: replicas never read a request-chosen path, and on a cluster they
need no copy of the folders. Without ``--address`` the service runs on a private local Ray, which Ctrl-C (or
SIGTERM) stops, and Serve with it; on a cluster (or a Ray this process had started already) Ctrl-C deletes the
application and leaves the cluster and its Serve running.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rdlr.io.safe_text import read_json
from rdlr.models.folder import CARD_FILE
from rdlr.models.predictor import TrainedModel, load_model

Log = Callable[[str], None]


class ServeError(ValueError):
    """Options the service cannot start with (clashing model names, a busy port, more replicas than CPUs)."""


@dataclass(frozen=True)
class Served:
    """The models of a service by name (their folders' names), with their ``model.json`` documents."""

    models: dict[str, TrainedModel]
    cards: dict[str, dict[str, Any]]


def load_served(folders: Sequence[str | os.PathLike[str]], engine: str) -> Served:
    """Every model folder loaded and checked, named by its folder's name (names must differ)."""
    models: dict[str, TrainedModel] = {}
    cards: dict[str, dict[str, Any]] = {}
    for folder in folders:
        model = load_model(folder, engine=engine)
        name = model.folder.name
        if name in models:
            raise ServeError(
                f"two model folders are named {name!r} ({models[name].folder} and {model.folder}); "
                "the service names models by their folder: rename one"
            )
        models[name], cards[name] = model, read_json(model.folder / CARD_FILE)
    return Served(models, cards)


def check_port(host: str, port: int) -> None:
    """Refuse a port something on this machine already listens on."""
    try:
        with socket.create_server((host, port), reuse_port=False):
            pass
    except OSError as error:
        raise ServeError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --port or --host"
        ) from None


def check_replicas(replicas: int, cpus: int | None) -> None:
    if replicas < 1:
        raise ServeError(f"--replicas {replicas}: give at least 1")
    if cpus is not None and replicas > cpus:
        raise ServeError(
            f"--replicas {replicas}: each replica extracts features on one CPU and this machine has "
            f"{cpus}; give at most {cpus}"
        )


def quiet_serve_console() -> None:
    """Serve's INFO lines (deployments starting, replicas ready) stay in Ray's log files."""
    logging.getLogger("ray.serve").setLevel(logging.WARNING)


def raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve_models(
    folders: Sequence[str | os.PathLike[str]],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    replicas: int = 1,
    address: str | None = None,
    engine: str = "torch",
    verbose: bool = False,
    log: Log = print,
) -> None:
    """Serve ``folders`` on ``host:port`` until SIGINT or SIGTERM (see the module docstring)."""
    import ray

    from rdlr.cluster.session import cluster_address, ray_session

    served = load_served(folders, engine)
    local = cluster_address(address) is None
    check_replicas(replicas, os.cpu_count() if local else None)
    if local:
        check_port(host, port)
    own_ray = local and not ray.is_initialized()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's `rdlr serve &` inherits SIGINT ignored
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        with ray_session(address, verbose):
            from ray import serve

            from rdlr.serve.app import APP_NAME, build_app

            if not verbose:
                quiet_serve_console()
            serve.start(http_options={"host": host, "port": port})
            try:
                log(f"starting {len(served.models)} model(s) with {replicas} replica(s) ...")
                serve.run(build_app(served.models, served.cards, replicas), name=APP_NAME, route_prefix="/")
                log(
                    f"serving {', '.join(served.models)} at http://{host}:{port}/ (POST /predict, GET /models, "
                    "GET /healthz); Ctrl-C stops"
                )
                while True:
                    time.sleep(3600)
            finally:
                log("stopping ...")
                if not own_ray:  # a Ray this command started goes with everything on it, Serve included
                    serve.delete(APP_NAME)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    log("stopped")
