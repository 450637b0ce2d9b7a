"""cluster.yaml starts as is: a valid Ray autoscaler config (checked offline with Ray's own validator, no
credentials) whose image carries the installed Ray version, whose commands hold no placeholder, whose GPU nodes
scale from zero and whose head trains nothing; the EFS alternative is inactive until uncommented."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import tomllib
import yaml
from packaging.requirements import Requirement
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_YAML = ROOT / "cluster.yaml"
COMMAND_KEYS = (
    "initialization_commands",
    "setup_commands",
    "head_setup_commands",
    "worker_setup_commands",
    "head_start_ray_commands",
    "worker_start_ray_commands",
)
# what a value left for the user to fill in looks like: an EFS id, <angle brackets>, YOUR_..., my-bucket, XXXX
PLACEHOLDER = re.compile(r"fs-[0-9a-f]{8,}|<[^>]*>|\byour[_-]?|\bmy-[a-z]|xxxx|change[_-]?me|\bTODO\b", re.IGNORECASE)
EFS_PREFIX = "#efs "
EFS_REPLACED = "#efs-replaces"


def load(text: str | None = None) -> dict[str, Any]:
    return yaml.safe_load(CLUSTER_YAML.read_text() if text is None else text)


def commands(config: dict[str, Any]) -> list[str]:
    return [command for key in COMMAND_KEYS for command in config.get(key) or []]


def test_cluster_yaml_passes_rays_validator() -> None:
    prepared = prepare_config(load())
    validate_config(prepared)
    assert prepared["head_node_type"] == "head"


def test_validator_rejects_a_broken_config() -> None:
    broken = copy.deepcopy(load())
    broken["available_node_types"]["gpu_worker"]["min_wokers"] = 1
    with pytest.raises(jsonschema.ValidationError, match="min_wokers"):
        validate_config(prepare_config(broken))


def test_one_image_with_the_installed_ray_and_python_on_every_node() -> None:
    docker = load()["docker"]
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    assert docker["image"] == f"rayproject/ray:{ray.__version__}-{python}-gpu"
    assert not {"head_image", "worker_image"} & set(docker)
    assert not any("docker" in entry for entry in load()["available_node_types"].values())  # no per-type image


def test_cluster_extra_pins_the_images_ray_and_adds_jobs_api_and_s3() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["cluster"]
    requirements = {Requirement(text).name: Requirement(text) for text in extras}
    image_version = load()["docker"]["image"].split(":")[1].split("-")[0]
    assert "default" in requirements["ray"].extras
    assert requirements["ray"].specifier.contains(image_version)
    assert not requirements["ray"].specifier.contains("2.61.0") and not requirements["ray"].specifier.contains("2.59.0")
    assert {"boto3", "awscli"} <= set(requirements)


def test_gpu_workers_scale_from_zero_and_the_head_trains_nothing() -> None:
    config = load()
    types = config["available_node_types"]
    assert set(types) == {"head", "cpu_worker", "gpu_worker"}
    gpu_types = [t for t in types.values() if t["node_config"]["InstanceType"].startswith(("g", "p"))]  # AWS GPU
    assert gpu_types and all(t["min_workers"] == 0 for t in gpu_types)
    assert types["cpu_worker"]["min_workers"] == 0 and types["cpu_worker"]["max_workers"] > 0
    assert types["head"]["resources"] == {"CPU": 0}
    assert any("--num-cpus=0" in c and "--head" in c for c in config["head_start_ray_commands"])
    assert "IamInstanceProfile" not in types["head"]["node_config"]  # `ray up` creates and attaches the head's


def test_setup_installs_the_synced_checkout_and_runs_no_placeholder() -> None:
    config = load()
    assert config["file_mounts"] == {"~/rdlr": "."}
    assert {".venv", ".git", "rdlr_runs"} <= set(config["rsync_exclude"])
    assert "cluster.env" not in config["rsync_exclude"]  # the one setting travels with the checkout
    setup = " ".join(config["setup_commands"])
    assert 'cd ~/rdlr && python -m pip install --quiet -e ".[cluster]"' in setup
    assert '"s3://$RDLR_BUCKET/ser"' in setup and ". ~/rdlr/cluster.env" in setup and '-n "${RDLR_BUCKET:-}"' in setup
    for command in commands(config):
        assert not PLACEHOLDER.search(command), command
    assert not any("mount" in c or "nfs" in c for c in commands(config))  # EFS is opt-in
    assert any("--autoscaling-config=~/ray_bootstrap_config.yaml" in c for c in config["head_start_ray_commands"])
    assert any("$RAY_HEAD_IP" in c for c in config["worker_start_ray_commands"])
    for node_type in ("cpu_worker", "gpu_worker"):  # workers reach S3 with the head's instance profile
        assert config["available_node_types"][node_type]["node_config"]["IamInstanceProfile"] == {
            "Name": "ray-autoscaler-v1"
        }


def efs_variant() -> str:
    """cluster.yaml with the EFS opt-in switched on, as its comment tells the user to do."""
    lines = [line for line in CLUSTER_YAML.read_text().splitlines() if EFS_REPLACED not in line]
    return "\n".join(line[len(EFS_PREFIX) :] if line.startswith(EFS_PREFIX) else line for line in lines)


def test_efs_opt_in_is_inactive_until_uncommented_and_then_valid() -> None:
    text = CLUSTER_YAML.read_text()
    assert text.count(EFS_REPLACED) == 2  # the marked line and the instruction naming it
    config = load(efs_variant())
    validate_config(prepare_config(config))
    mount = " ".join(config["initialization_commands"])
    assert "mount -t nfs4" in mount and "/shared" in mount
    assert PLACEHOLDER.search(mount)  # the user's file system id goes there: why it stays commented out
    assert "-v /shared:/shared" in config["docker"]["run_options"]
    assert config["setup_commands"] == load()["setup_commands"]


def test_docs_cluster_page_matches_the_config() -> None:
    config = load()
    section = (ROOT / "docs" / "cluster.md").read_text()
    assert config["docker"]["image"].split("/", 1)[1] in section
    for name in config["available_node_types"]:
        assert f"`{name}`" in section
    for step in (
        "ray up cluster.yaml -y",
        "ray dashboard cluster.yaml",
        "ray job submit",
        "ray down cluster.yaml -y",
        "echo RDLR_BUCKET=",
        '--storage "s3://$RDLR_BUCKET/rdlr"',
        "--data-root /home/ray/ser",
    ):
        assert step in section
