"""What of Ray reaches the console. By default only rdlr's own lines and Ray's errors: workers' output, Ray's
INFO/WARNING records (its start-up lines, Ray Data's execution plans, "progress bars disabled", ...) and Ray's own
FutureWarning/DeprecationWarning lines stay off it, while Ray's log files in its session folder
(``/tmp/ray/session_*/logs``, ``ray-data.log`` included) keep everything. ``--verbose`` shows Ray's lines as Ray
prints them.

One line of Ray's reaches stderr from C++, where no logging setting reaches it: the driver's core worker notes at
ERROR level that Ray Data's actors (restarted when they die, as Ray Data asks: ``max_restarts=-1``) get their
constructor arguments from the object store. :func:`without_ray_notes` drops the lines of
:data:`HARMLESS_CORE_NOTES` from the driver's stderr; the driver's log file in the session folder keeps them.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# loggers whose console handlers Ray configures itself ("ray" through ray.init, "ray.data" on import)
RAY_CONSOLE_LOGGERS = ("ray", "ray.data")
RAY_MODULES = r"ray(\..*)?$"
HARMLESS_CORE_NOTES = (b"has constructor arguments in the object store and max_restarts > 0",)
LINE_END = re.compile(rb"(?<=[\r\n])")  # splits after each newline and carriage return, keeping them
LOG_LINE_START = b"["  # Ray's C++ log lines: "[2026-12-03 11:46:27,989 E 8299 8299] core_worker.cc:..."


def init_options(verbose: bool) -> dict[str, Any]:
    """The ``ray.init`` arguments of a quiet (default) or verbose driver."""
    return {"log_to_driver": verbose, "logging_level": logging.INFO if verbose else logging.ERROR}


def quiet_ray_console() -> None:
    """Let Ray's console handlers show errors only (its file handlers keep every record), stop Ray Data
    printing each dataset's execution plan, and ignore the FutureWarning and DeprecationWarning lines that Ray's
    own modules raise. Call after ``ray.init`` (which installs the "ray" logger's handler)."""
    import ray.data  # configures the "ray.data" logger's console and file handlers

    for name in RAY_CONSOLE_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.ERROR)
    ray.data.DataContext.get_current().print_on_execution_start = False
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=RAY_MODULES)


@contextmanager
def without_ray_notes(notes: tuple[bytes, ...] = HARMLESS_CORE_NOTES) -> Iterator[None]:
    """Run with file descriptor 2 (what C++ writes to) passed through a pipe that drops the lines containing one of
    ``notes`` and forwards everything else as it arrives (progress bars' carriage returns included)."""
    sys.stderr.flush()
    console = os.dup(2)
    reader, writer = os.pipe()
    os.dup2(writer, 2)
    os.close(writer)
    forwarding = threading.Thread(target=_forward, args=(reader, console, notes), daemon=True)
    forwarding.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(console, 2)  # the pipe's last writer closes: the thread reads its end and stops
        forwarding.join(timeout=2.0)
        os.close(console)


def _forward(reader: int, console: int, notes: tuple[bytes, ...]) -> None:
    """Copy ``reader`` to ``console`` but the lines that contain one of ``notes``; a line ends at a newline or a
    carriage return (a progress bar's redraw), and an unfinished one is held back only while it could be the start
    of a Ray log line."""
    pending = b""
    with os.fdopen(reader, "rb", buffering=0) as source:
        while chunk := source.read(65536):
            *lines, pending = LINE_END.split(pending + chunk)
            shown = b"".join(line for line in lines if not any(note in line for note in notes))
            if not pending.startswith(LOG_LINE_START):
                shown, pending = shown + pending, b""
            if shown:
                os.write(console, shown)
    if pending:
        os.write(console, pending)
