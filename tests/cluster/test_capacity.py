"""Sizing work for the cluster's possible size: node types from an autoscaler config, extraction actors that ask
for what their extractor needs, trials planned for the node types an autoscaler may launch, the version warning.
Pure functions on small configs; the real autoscaler runs in tests/cluster/test_multinode.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from rdlr.cluster.capacity import BOOTSTRAP_CONFIG, CONFIG_ENV, capacity_from_config, find_capacity, planning_nodes
from rdlr.cluster.session import version_mismatch
from rdlr.features.base import Extractor
from rdlr.features.is10 import IS10Extractor
from rdlr.features.placement import actor_resources, extraction_device, extractor_device
from rdlr.spec.core import ResourcesSpec, SpecError, SweepSpec
from rdlr.sweep.files import SweepError
from rdlr.sweep.resources import plan_resources
from tests.helpers.specs import demo_raw

AWS_LIKE = {  # the shape of cluster.yaml once `ray up` filled in the detected resources
    "max_workers": 12,
    "head_node_type": "head",
    "available_node_types": {
        "head": {"resources": {"CPU": 0}, "node_config": {}},
        "cpu_worker": {
            "min_workers": 0,
            "max_workers": 8,
            "resources": {"CPU": 16, "memory": 2.0e10},
            "node_config": {},
        },
        "gpu_worker": {"min_workers": 0, "max_workers": 4, "resources": {"CPU": 8, "GPU": 1}, "node_config": {}},
    },
}


class FakeRay:
    """The one call actor_resources makes on ``ray``: the resources present now."""

    def __init__(self, **resources: float) -> None:
        self.resources = resources

    def cluster_resources(self) -> dict[str, float]:
        return dict(self.resources)


class ModelExtractor(Extractor):
    name = "model"

    def extract(self, batch: list[dict[str, Any]]) -> list[Any]:
        raise NotImplementedError("never called here")


def test_capacity_counts_every_node_the_autoscaler_may_launch() -> None:
    capacity = capacity_from_config(AWS_LIKE, "aws-like")
    assert capacity.total("CPU") == 8 * 16 + 4 * 8 and capacity.total("GPU") == 4
    assert capacity.total("CPU", without=("GPU",)) == 128  # the CPU-only nodes: where IS10 goes
    nodes = capacity.possible_nodes()
    assert len(nodes) == 13 and nodes[0] == {"CPU": 0.0} and sum(n.get("GPU", 0) for n in nodes) == 4
    assert planning_nodes(capacity) == nodes
    capped = capacity_from_config({**AWS_LIKE, "max_workers": 2}, "capped")
    assert capped.total("CPU") == 32 and capped.total("GPU") == 2  # the two largest nodes for each resource
    assert "gpu_worker (CPU 8, GPU 1) × ≤4" in capacity.describe()


def test_bad_autoscaler_configs_name_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no 'available_node_types'"):
        capacity_from_config({"max_workers": 2}, "c.yaml")
    with pytest.raises(ValueError, match="head_node_type 'boss' is not one of"):
        capacity_from_config({**AWS_LIKE, "head_node_type": "boss"}, "c.yaml")
    broken = {
        **AWS_LIKE,
        "available_node_types": {
            **AWS_LIKE["available_node_types"],
            "cpu_worker": {"max_workers": 1, "resources": {"CPU": "many"}},
        },
    }
    with pytest.raises(ValueError, match=r"cpu_worker.resources.CPU must be a number >= 0, got 'many'"):
        capacity_from_config(broken, "c.yaml")
    unbounded = {k: copy.deepcopy(v) for k, v in AWS_LIKE.items() if k != "max_workers"}
    assert capacity_from_config(unbounded, "c.yaml").max_workers == 12  # the types' maxima add up
    del unbounded["available_node_types"]["cpu_worker"]["max_workers"]
    with pytest.raises(ValueError, match="cpu_worker has no max_workers, nor has the config"):
        capacity_from_config(unbounded, "c.yaml")
    assert capacity_from_config({**unbounded, "max_workers": 3}, "c.yaml").total("CPU", without=("GPU",)) == 48
    with pytest.raises(ValueError, match="autoscaler config .*missing.yaml not found"):
        find_capacity(str(tmp_path / "missing.yaml"), joined=False)


def test_capacity_is_found_from_the_flag_the_environment_or_the_heads_bootstrap_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(yaml.safe_dump(AWS_LIKE))
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert find_capacity(None, joined=True) is None  # no bootstrap file: a fixed cluster
    assert find_capacity(str(config), joined=False).source == str(config)
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert find_capacity(None, joined=False).total("GPU") == 4
    monkeypatch.delenv(CONFIG_ENV)
    bootstrap = Path(BOOTSTRAP_CONFIG).expanduser()
    bootstrap.parent.mkdir(parents=True)
    bootstrap.write_text(yaml.safe_dump(AWS_LIKE))
    assert find_capacity(None, joined=True).source == str(bootstrap)
    assert find_capacity(None, joined=False) is None  # a local Ray started by rdlr ignores the head's file


def test_is10_actors_ask_for_cpus_only_and_fill_the_cpu_nodes() -> None:
    capacity = capacity_from_config(AWS_LIKE, "aws-like")
    is10, model = IS10Extractor(), ModelExtractor()
    assert extractor_device(is10, "cuda") == "cpu" and extractor_device(model, "cuda") == "cuda"
    with pytest.raises(ValueError, match="device 'tpu'; valid: cpu, cuda"):
        extractor_device(model, "tpu")
    empty_cluster = FakeRay(CPU=0.0)  # only the head, which has no CPUs: the autoscaler has launched nothing yet
    assert actor_resources(empty_cluster, None, "cpu", capacity, batches=1000) == (128, {"num_cpus": 1.0})
    assert actor_resources(empty_cluster, None, "cpu", capacity, batches=3) == (3, {"num_cpus": 1.0})
    workers, request = actor_resources(empty_cluster, None, "cuda", capacity)
    assert workers == 4 and request == {"num_cpus": 1.0, "num_gpus": 1.0}
    fixed = FakeRay(CPU=4.0)  # no autoscaler: the CPUs present, one kept for the driver
    assert actor_resources(fixed, None, "cpu") == (3, {"num_cpus": 1.0})
    assert actor_resources(fixed, 8, "cpu") == (8, {"num_cpus": 0.5})
    with pytest.raises(ValueError, match="device 'cuda' but the Ray cluster has no GPU and can start none"):
        actor_resources(fixed, None, "cuda")
    cpu_only = capacity_from_config(
        {
            **AWS_LIKE,
            "available_node_types": {k: v for k, v in AWS_LIKE["available_node_types"].items() if k != "gpu_worker"},
        },
        "cpu-only",
    )
    assert extraction_device("auto", empty_cluster, capacity) == "cuda"
    assert extraction_device("auto", empty_cluster, cpu_only) == "cpu"
    assert extraction_device("cpu", empty_cluster, capacity) == "cpu"


def test_trials_ask_for_the_spec_under_an_autoscaler_and_adapt_on_a_fixed_cluster() -> None:
    spec = ResourcesSpec(cpus_per_trial=2, gpus_per_trial=0.25)
    autoscaled = plan_resources(spec, capacity_from_config(AWS_LIKE, "aws-like").possible_nodes())
    assert (autoscaled.cpus, autoscaled.gpus, autoscaled.notes) == (2.0, 0.25, ())  # GPU nodes start on demand
    assert autoscaled.slots == 4 * 4  # 4 GPU nodes × 4 trials; CPU nodes hold none
    fixed = plan_resources(spec, [{"CPU": 0.0}, {"CPU": 16.0}])  # no GPU node, none can start
    assert fixed.gpus == 0.0 and "no GPU" in fixed.notes[0]


def test_custom_resources_pin_trials_and_are_never_adapted_away() -> None:
    spec = ResourcesSpec(cpus_per_trial=1, custom={"trainer": 1})
    nodes = [{"CPU": 2.0}, {"CPU": 2.0, "trainer": 2.0}]
    planned = plan_resources(spec, nodes)
    assert planned.as_tune() == {"cpu": 1.0, "gpu": 0.0, "trainer": 1.0} and planned.slots == 2
    with pytest.raises(SweepError, match=r"custom.trainer: each trial asks for 1, but no node .* more than 0"):
        plan_resources(spec, [{"CPU": 8.0}])
    assert plan_resources(spec, [{"CPU": 8.0}], adapt=False).custom == {"trainer": 1.0}  # --no-adapt: as written
    for bad, message in (({"GPU": 1}, "set CPUs and GPUs with cpus_per_trial"), ({"trainer": 0}, "must be > 0")):
        with pytest.raises(SpecError, match=message):
            SweepSpec.from_dict({**SweepSpec.from_dict(demo_raw("t")).to_dict(), "resources": {"custom": bad}})


def test_version_warning_names_both_versions_and_the_fix() -> None:
    assert version_mismatch("2.60.0", "2.60.0", "auto") is None
    assert version_mismatch("2.60.0", None, "auto") is None  # unknown: Ray's own check decides
    message = version_mismatch("2.59.1", "2.60.0", "10.0.0.1:6379")
    assert "Ray 2.59.1" in message and "10.0.0.1:6379 runs Ray 2.60.0" in message
    assert 'pip install "ray[default]==2.60.0"' in message
