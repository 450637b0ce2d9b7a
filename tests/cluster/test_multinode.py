"""Distributed for real, on one machine: Ray's own autoscaler (the fake multi-node provider) launches worker
"nodes" on demand, and ``rdlr reproduce --address auto`` runs prepare, extraction, a tiny sweep and the report on
them as it would on the cluster of cluster.yaml.

The cluster: a head with no CPUs (as cluster.yaml's), a ``cpu_worker`` type (2 CPUs) and a ``gpu_worker`` type that
stands in for GPU nodes (one fake GPU, so the autoscaler keeps CPU-only work off it as it does off real GPU nodes,
and a ``trainer`` resource that the tiny spec's trials ask for, since they cannot train on a fake GPU). Both
worker types start at zero. The driver finds the autoscaler config where ``ray up`` puts it,
``~/ray_bootstrap_config.yaml``. The head is isolated from every other Ray on the machine: its own temp dir,
ports and address (never RAY_ADDRESS or the default temp dir), and it is stopped by killing its own process group
(never ``ray stop``, which would stop every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.helpers.reproduce_cli import tone_run
from tests.helpers.tone_corpus import tone_raw

ROOT = Path(__file__).resolve().parents[2]
RAY_CLI = Path(sys.executable).with_name("ray")
HEAD_TYPE = "ray.head.default"  # the fake provider tags its head with this type
OBJECT_STORE = 150 * 1024**2
START_TIMEOUT_S = 90
RUN_TIMEOUT_S = 400

pytestmark = [
    pytest.mark.slow,  # every test uses the fake cluster: `ray start` and the autoscaler's processes
    pytest.mark.skipif(
        not RAY_CLI.is_file() or sys.platform == "win32",
        reason="needs the `ray` CLI beside the interpreter and a POSIX process model",
    ),
]

SPEC = tone_raw(
    "multinode", seeds=[0, 1], resources={"cpus_per_trial": 1, "gpus_per_trial": 0, "custom": {"trainer": 1}}
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def autoscaler_config(gcs_port: int) -> dict[str, Any]:
    """The fake multi-node twin of cluster.yaml: no-CPU head, CPU workers and stand-in GPU workers from zero."""
    store = {"object_store_memory": OBJECT_STORE}
    return {
        "cluster_name": "rdlr-multinode-test",
        "max_workers": 2,
        "upscaling_speed": 1.0,
        "idle_timeout_minutes": 5,
        "provider": {
            "type": "fake_multinode",
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
            "gcs_address": f"127.0.0.1:{gcs_port}",
        },
        "auth": {"ssh_user": "ray"},
        "available_node_types": {
            HEAD_TYPE: {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0},
            "cpu_worker": {"resources": {"CPU": 2, **store}, "node_config": {}, "min_workers": 0, "max_workers": 1},
            "gpu_worker": {
                "resources": {"CPU": 2, "GPU": 1, "trainer": 2, **store},
                "node_config": {},
                "min_workers": 0,
                "max_workers": 1,
            },
        },
        "head_node_type": HEAD_TYPE,
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "rsync_exclude": [],
        "rsync_filter": [],
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


def isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment without any pointer to another Ray cluster, with the checkout under test first
    on the path of every Ray worker (they start from the head's environment, not the driver's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RDLR_AUTOSCALER_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["RAY_AUTH_MODE"] = "disabled"  # a throwaway local cluster; a token from ~/.ray would not reach its nodes
    return {**env, **extra}


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the head and everything it started (GCS, raylets, the autoscaler and its fake nodes): one group."""
    for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            process.poll()  # reap the head itself, else its zombie keeps the group alive
            try:
                os.killpg(process.pid, 0)  # signal 0: does any process of the group remain?
            except ProcessLookupError:
                return
            time.sleep(0.5)


@pytest.fixture(scope="module")
def fake_cluster() -> Iterator[dict[str, Any]]:
    root = Path(tempfile.mkdtemp(prefix="rdlr-mn-", dir="/tmp"))  # short: Ray's socket paths live under it
    port = free_port()
    config = root / "home" / "ray_bootstrap_config.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(autoscaler_config(port)))
    command = [
        str(RAY_CLI),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--num-cpus=0",
        "--num-gpus=0",
        f"--object-store-memory={OBJECT_STORE}",
        f"--temp-dir={root / 'ray'}",
        "--include-dashboard=false",
        f"--dashboard-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        "--disable-usage-stats",
        f"--autoscaling-config={config}",
    ]
    log = (root / "head.log").open("wb")
    env = isolated_env(RAY_FAKE_CLUSTER="1", AUTOSCALER_UPDATE_INTERVAL_S="1")
    head = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        address_file = root / "ray" / "ray_current_cluster"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not address_file.is_file() and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if not address_file.is_file():
            pytest.fail(f"the fake cluster's head did not start: {(root / 'head.log').read_text()[-3000:]}")
        yield {"root": root, "address": address_file.read_text().strip(), "config": config}
    finally:
        stop_group(head)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def cluster_state(address: str) -> dict[str, Any]:
    """From a separate client of the fake cluster: the Ray version read before joining (as rdlr does), this
    client's version, and every node the cluster has seen (id and resources)."""
    script = f"""import json, ray
from rdlr.cluster.session import cluster_ray_version
version = cluster_ray_version({address!r})
ray.init(address={address!r}, log_to_driver=False)
print(json.dumps({{"cluster": version, "client": ray.__version__,
                  "nodes": {{n["NodeID"]: n["Resources"] for n in ray.nodes()}}}}))"""
    done = subprocess.run(
        [sys.executable, "-c", script], env=isolated_env(), capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reproduced(fake_cluster: dict[str, Any]) -> dict[str, Any]:
    root = fake_cluster["root"]
    env = isolated_env(RAY_ADDRESS=fake_cluster["address"], HOME=str(fake_cluster["config"].parent))
    command = [sys.executable, "-m", "rdlr.cli", "reproduce", *tone_run(root, SPEC), "--address", "auto"]
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return {"root": root, "output": output, "seconds": seconds, **cluster_state(fake_cluster["address"])}


def test_the_client_reads_the_clusters_ray_version(reproduced: dict[str, Any]) -> None:
    assert reproduced["cluster"] == reproduced["client"]  # what warn_on_version_mismatch compares before joining
    assert "warning: this machine has Ray" not in reproduced["output"]


def node_type(resources: dict[str, float]) -> str:
    if "trainer" in resources:
        return "gpu_worker"
    return "cpu_worker" if resources.get("CPU", 0) > 0 else HEAD_TYPE


def test_autoscaler_launches_both_worker_types(reproduced: dict[str, Any]) -> None:
    types = [node_type(resources) for resources in reproduced["nodes"].values()]
    assert types.count(HEAD_TYPE) == 1 and {"cpu_worker", "gpu_worker"} <= set(types), reproduced["nodes"]


def test_extraction_runs_on_cpu_workers_and_trials_on_the_other_type(reproduced: dict[str, Any]) -> None:
    line = re.search(r"^is10: (\d+) utterances with (\d+) workers .* on cpu; nodes: (.+)$", reproduced["output"], re.M)
    assert line, reproduced["output"][-4000:]
    extracted = {node: int(n) for node, n in re.findall(r"([0-9a-f]{56}) ×(\d+)", line.group(3))}
    assert sum(extracted.values()) == int(line.group(1)) == 44 and int(line.group(2)) == 2  # 2 CPUs of cpu_worker
    assert {node_type(reproduced["nodes"][node]) for node in extracted} == {"cpu_worker"}
    results = pd.read_csv(reproduced["root"] / "runs" / "multinode" / "results.csv", dtype={"node": str})
    assert {node_type(reproduced["nodes"][node]) for node in results["node"]} == {"gpu_worker"}
    assert set(results["host"]) == {socket.gethostname()}
    print(
        f"\nextraction ran on {', '.join(f'{n} (cpu_worker): {k} utterances' for n, k in extracted.items())}; "
        f"trials on {', '.join(sorted(set(results['node'])))} (gpu_worker); whole run {reproduced['seconds']:.0f} s"
    )


def test_every_trial_row_once_and_the_report_renders(reproduced: dict[str, Any]) -> None:
    results = pd.read_csv(reproduced["root"] / "runs" / "multinode" / "results.csv", dtype={"config_id": str})
    assert len(results) == 2 and sorted(results["seed"]) == [0, 1]
    assert not results.duplicated(["features", "protocol", "method", "held_out", "config_id", "seed"]).any()
    assert "autoscaling cluster: trials planned for" in reproduced["output"]
    report = reproduced["root"] / "reports" / "multinode" / "README.md"
    assert report.is_file() and "Out-of-corpus (CE)" in "\n".join(p.read_text() for p in report.parent.glob("*.md"))
