"""One resolved run (rdlr.sweep.resolved): spec + command-line options -> a frozen object, every check before Ray."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rdlr.spec import SpecError, SweepSpec
from rdlr.sweep.resolved import ResolvedRun, RunOptions, resolve_run
from tests.helpers.specs import demo_raw

BASE = demo_raw("resolved")


def test_the_demo_resolves_beside_the_storage_and_is_frozen(tmp_path: Path) -> None:
    run = resolve_run(None, RunOptions(str(tmp_path / "runs"), demo=True), writes_store=True, starts_ray=False)
    assert isinstance(run, ResolvedRun)
    assert run.spec.id == "demo"
    assert run.storage == str(tmp_path / "runs")
    assert run.data_root == tmp_path / "runs" / "demo_data"
    assert run.store == f"{tmp_path / 'runs'}/features"
    assert run.corpora == ("CRE-demo", "IEM-demo", "IMP-demo", "POD-demo", "LIB-demo")
    assert run.capacity is None and run.address is None and run.tracking is None
    assert run.info() == {"data_root": str(run.data_root), "feature_store": run.store, "models": {}}
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.storage = "elsewhere"  # type: ignore[misc]


def test_a_spec_object_and_a_finished_sweeps_store(tmp_path: Path) -> None:
    spec = SweepSpec.from_dict(BASE)
    run = resolve_run(spec, RunOptions(str(tmp_path)), store="/elsewhere/features", starts_ray=False)
    assert run.spec is spec and run.store == "/elsewhere/features"


def test_the_storage_note_only_for_a_local_path_on_a_cluster(tmp_path: Path) -> None:
    spec = SweepSpec.from_dict(BASE)
    local = ResolvedRun(spec, "/runs", None, "/runs/features", ("CRE-demo",), address="auto")
    assert "every node must see it" in (local.storage_note() or "")
    assert dataclasses.replace(local, address=None).storage_note() is None
    assert dataclasses.replace(local, storage="s3://bucket/runs").storage_note() is None


def test_bad_requests_fail_in_one_line_before_ray(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="give a sweep spec"):
        resolve_run(None, RunOptions(str(tmp_path)))
    with pytest.raises(SpecError, match="--demo runs a spec with data.source 'demo'"):
        resolve_run("table2", RunOptions(str(tmp_path), demo=True))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="storage path .* cannot be created"):
        resolve_run("demo", RunOptions(str(tmp_path / "file" / "runs")), starts_ray=False)


def test_mlflow_on_the_command_line_replaces_the_specs_tracking(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    uri = f"file:{tmp_path / 'mlruns'}"
    run = resolve_run("demo", RunOptions(str(tmp_path), mlflow=uri), starts_ray=False)
    assert run.tracking is not None and run.tracking.mlflow == uri
