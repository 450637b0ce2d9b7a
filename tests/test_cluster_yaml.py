"""cluster.yaml is a valid Ray autoscaler config (checked offline with Ray's own validator, no credentials)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[1] / "cluster.yaml"


def load() -> dict[str, Any]:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_cluster_yaml_passes_rays_validator() -> None:
    prepared = prepare_config(load())
    validate_config(prepared)
    assert prepared["head_node_type"] == "head"


def test_head_cpu_and_gpu_workers() -> None:
    types = load()["available_node_types"]
    assert set(types) == {"head", "cpu_worker", "gpu_worker"}
    assert types["cpu_worker"]["max_workers"] > 0 and types["gpu_worker"]["max_workers"] > 0
    assert types["gpu_worker"]["node_config"]["InstanceType"].startswith(("g", "p"))  # AWS GPU families
    assert not types["cpu_worker"]["node_config"]["InstanceType"].startswith(("g", "p"))


def test_setup_installs_this_package_and_mounts_shared_storage() -> None:
    config = load()
    assert config["file_mounts"] == {"~/rdlr": "."}
    commands = " ".join(config["setup_commands"])
    assert "pip install -e ." in commands and "cd ~/rdlr" in commands
    assert "/shared" in commands and "nfs4" in commands  # the shared storage path for results and corpora
    assert any("--autoscaling-config" in c for c in config["head_start_ray_commands"])
    assert any("$RAY_HEAD_IP" in c for c in config["worker_start_ray_commands"])
    assert {".venv", "rdlr_runs"} <= set(config["rsync_exclude"])


def test_validator_rejects_a_broken_config() -> None:
    broken = copy.deepcopy(load())
    broken["available_node_types"]["gpu_worker"]["min_wokers"] = 1
    with pytest.raises(jsonschema.ValidationError, match="min_wokers"):
        validate_config(prepare_config(broken))
