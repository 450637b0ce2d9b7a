"""Shared fixtures: one small Ray instance for the whole session, paths to offline data; the ``slow`` marker on
every test that uses that Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EMODB_ROOT = REPO_ROOT.parent / "shared" / "corpora" / "emodb"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Idle OpenMP threads (torch's) sleep instead of spinning: on a machine shared with other jobs, spinning threads made
# tests that train 3x slower in CPU and wall time (tests/test_methods.py at load 20: 30 s of CPU against 10 s). No
# result depends on it; set here, before anything imports torch, it reaches Ray workers and subprocesses too.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

RAY_FIXTURE = "ray_session"  # the fixture below


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that needs the session's Ray, directly or through another fixture, so that the fast
    lane (``pytest -m "not slow"``) never starts Ray. Tests that start a subprocess, a Ray of their own or train for
    more than a few seconds carry the marker in their module (``pytestmark``) or on the test."""
    for item in items:
        if RAY_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ray_session():
    """One Ray instance for the whole test session: 2 CPUs, small object store, no dashboard. Always a new local
    instance (``address="local"``): never a cluster found through RAY_ADDRESS or a running ``ray start``."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=2,
            object_store_memory=256 * 1024**2,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def emodb_root() -> Path:
    """The real EmoDB recordings in ../shared/corpora/emodb; skips when they are absent."""
    if not (EMODB_ROOT / "wav").is_dir():
        pytest.skip(f"EmoDB not found at {EMODB_ROOT} (only present on the project's machines)")
    return EMODB_ROOT
