"""Running a benchmark's own child process against a checkout of rdlr (``--checkout``: before/after side by side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def checkout_env(checkout: Path) -> dict[str, str]:
    """This environment with ``checkout`` first on the import path, and Ray's repeated log lines kept."""
    return {**os.environ, "PYTHONPATH": str(checkout), "RAY_DEDUP_LOGS": "0"}


def child_figures(script: str, checkout: Path, argv: list[str], what: str) -> dict[str, Any]:
    """Run ``script --child ARGV`` in ``checkout``; the JSON object its last stdout line prints."""
    done = subprocess.run(
        [sys.executable, str(Path(script).resolve()), "--child", *argv],
        env=checkout_env(checkout),
        cwd=checkout,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} of {checkout} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
