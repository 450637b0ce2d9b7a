"""The Ray a command uses: a private local one by default, even where another Ray runs on the machine (one
started with ``ray start`` beside the test, in its own temp dir, is not joined), that cluster with ``--address``
or ``RAY_ADDRESS``; and a console with rdlr's lines only (Ray's stay in its session folder), one final bar line.

The commands run in subprocesses: this process may hold the suite's own Ray, which ``ray_session`` reuses."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rdlr.cluster import console, session

REPO_ROOT = Path(__file__).resolve().parents[2]
RAY_CLI = Path(sys.executable).with_name("ray")
RAY_LINE_MARKERS = (
    " INFO ",
    "\tINFO",
    " WARNING ",
    "\tWARNING",
    "Started a local Ray",
    "Starting execution of Dataset",
    "(raylet)",
    "pid=",
    "core_worker.cc",
    "max_restarts",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def processes_mentioning(text: str) -> list[int]:
    """Our processes whose command line contains ``text`` (the head's temp dir names every one of them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid == os.getuid() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start_head_beside(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``ray start --head --block`` on loopback with its ports chosen free, its output in ``log`` (no Ray Client port:
    that needs ``ray[client]``, which the install does not have)."""
    ports = {
        flag: free_port()
        for flag in (
            "--port",
            "--dashboard-port",
            "--dashboard-agent-listen-port",
            "--dashboard-agent-grpc-port",
            "--metrics-export-port",
            "--runtime-env-agent-port",
            "--node-manager-port",
            "--object-manager-port",
        )
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [
                str(RAY_CLI),
                "start",
                "--head",
                "--num-cpus=1",
                "--include-dashboard=false",
                "--node-ip-address=127.0.0.1",
                "--disable-usage-stats",
                "--block",
                *(f"{flag}={port}" for flag, port in ports.items()),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def ray_beside() -> Iterator[dict[str, Any]]:
    """A one-CPU Ray head started with ``ray start --head`` in a temp dir of its own (``RAY_TMPDIR``, which the
    commands get too, so that Ray's discovery would find it as it finds a colleague's ``ray start`` in /tmp/ray);
    stopped afterwards by its own processes, never with ``ray stop``."""
    base = Path(tempfile.mkdtemp(prefix="rdlr-beside-", dir="/tmp"))
    env = {key: value for key, value in os.environ.items() if key != session.ADDRESS_ENV}
    env.update(RAY_TMPDIR=str(base), RAY_AUTH_MODE="disabled", PYTHONPATH=str(REPO_ROOT))
    address_file = base / "ray" / "ray_current_cluster"
    start_log = base / "ray-start.log"
    for _attempt in range(2):  # a port picked free can be taken before the head binds it: try once more
        head = start_head_beside(env, start_log)
        deadline = time.monotonic() + 120
        while not address_file.is_file() and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if address_file.is_file():
            break
        if head.poll() is None:
            head.kill()
    try:
        assert address_file.is_file(), f"ray start --head did not come up; it printed:\n{start_log.read_text()[-3000:]}"
        logs = (base / "ray" / "session_latest").resolve() / "logs"
        yield {"env": env, "address": address_file.read_text().strip(), "logs": logs, "base": base}
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
        for pid in processes_mentioning(str(base)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def drivers_joined(logs: Path) -> list[str]:
    """The drivers that connected to the head: each writes its core-worker log into the head's session folder."""
    return sorted(path.name for path in logs.glob("python-core-driver-*"))


def rdlr(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rdlr", *argv], env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
    )


def on_a_terminal(stream: str) -> list[str]:
    """The lines a terminal shows for ``stream``: each carriage return redraws the line it is on."""
    return [line.rsplit("\r", 1)[-1] for line in stream.split("\n") if line.rsplit("\r", 1)[-1].strip()]


def write_manifest(folder: Path, n: int = 3) -> Path:
    rows = []
    for i in range(n):
        path = folder / f"tone{i}.wav"
        t = np.arange(8000) / 16_000
        sf.write(path, (0.3 * np.sin(2 * np.pi * (120 + 30 * i) * t)).astype(np.float32), 16_000)
        rows.append({"utt_id": f"T-{i}", "path": str(path), "corpus": "T", "speaker": "s1", "label": "neutral"})
    pd.DataFrame(rows).to_csv(folder / "tones.csv", index=False)
    return folder / "tones.csv"


@pytest.mark.slow
def test_a_command_starts_a_private_ray_and_prints_no_ray_lines(ray_beside: dict[str, Any], tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path)
    done = rdlr(
        ray_beside["env"],
        "extract",
        "--manifest",
        str(manifest),
        "--features",
        "is10",
        "--store",
        str(tmp_path / "store"),
        "--workers",
        "1",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "T-" not in done.stderr and "3          3" in done.stdout  # extracted, on a Ray of its own:
    assert drivers_joined(ray_beside["logs"]) == []
    shown = on_a_terminal(done.stderr)
    assert [line for line in shown if any(marker in line for marker in RAY_LINE_MARKERS)] == [], shown
    bars = [line for line in shown if line.startswith("is10:")]
    assert bars and "3/3" in bars[-1] and "errors=0" in bars[-1], shown
    drawn = [bar for bar in re.split(r"[\r\n]", done.stderr) if bar.startswith("is10:") and "3/3" in bar]
    assert len(drawn) == 1, drawn  # the final bar drawn once (not by the last update and again by close)


def test_ray_core_notes_are_dropped_from_stderr_and_the_rest_passes(capfd: pytest.CaptureFixture[str]) -> None:
    note = (
        b"[2026-12-03 11:46:27,989 E 8299 8299] core_worker.cc:2465: Actor with class name: 'MapWorker' has "
        b"constructor arguments in the object store and max_restarts > 0. If the arguments ...\n"
    )
    with console.without_ray_notes():
        os.write(2, b"is10:  50%|#   | 1/2\r")
        os.write(2, note[:40])  # C++ may write a line in pieces
        os.write(2, note[40:] + b"[2026-12-03 11:46:28,000 E 1 1] raylet.cc:1: a real error\n")
        os.write(2, b"is10: 100%|####| 2/2\n")
    assert capfd.readouterr().err == (
        "is10:  50%|#   | 1/2\r[2026-12-03 11:46:28,000 E 1 1] raylet.cc:1: a real error\nis10: 100%|####| 2/2\n"
    )


@pytest.mark.slow
def test_address_joins_the_cluster(ray_beside: dict[str, Any], tmp_path: Path) -> None:
    done = rdlr(ray_beside["env"], "sweep", "demo", "--storage", str(tmp_path), "--address", ray_beside["address"])
    assert done.returncode == 2 and "has no feature set 'is10'" in done.stderr, done.stderr[-3000:]
    assert len(drivers_joined(ray_beside["logs"])) == 1  # it connected, then found no features


def test_ray_address_in_the_environment_names_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(session.ADDRESS_ENV, raising=False)
    assert session.cluster_address(None) is None  # a private local Ray
    assert session.cluster_address("auto") == "auto"
    monkeypatch.setenv(session.ADDRESS_ENV, "10.0.0.1:6379")
    assert session.cluster_address(None) == "10.0.0.1:6379"
    assert session.cluster_address("auto") == "auto"  # --address wins


def test_verbose_lets_ray_print_as_it_does() -> None:
    assert console.init_options(verbose=True) == {"log_to_driver": True, "logging_level": 20}
    assert console.init_options(verbose=False) == {"log_to_driver": False, "logging_level": 40}
