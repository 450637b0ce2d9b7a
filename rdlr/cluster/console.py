"""What of Ray reaches the console. By default only rdlr's own lines and Ray's errors: workers' output, Ray's
INFO/WARNING records (its start-up lines, Ray Data's execution plans, "progress bars disabled", ...) and Ray's own
FutureWarning/DeprecationWarning lines stay off it, while Ray's log files in its session folder
(``/tmp/ray/session_*/logs``, ``ray-data.log`` included) keep everything. ``--verbose`` shows Ray's lines as Ray
prints them.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

# loggers whose console handlers Ray configures itself ("ray" through ray.init, "ray.data" on import)
RAY_CONSOLE_LOGGERS = ("ray", "ray.data")
RAY_MODULES = r"ray(\..*)?$"


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
