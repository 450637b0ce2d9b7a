"""MLflow for sweeps: the spec's ``tracking: {mlflow: URI}`` (validated, overridden by ``--mlflow``, not a change of
the spec on resume) and one MLflow run per trial, written by Ray Tune's callback to a local ``file:`` store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from rdlr.cli import main
from rdlr.spec.core import SpecError, SweepSpec
from rdlr.spec.sections import TrackingSpec
from rdlr.sweep.driver import run_sweep
from rdlr.sweep.files import SweepFiles
from rdlr.sweep.resolved import with_tracking
from tests.helpers.specs import demo_raw
from tests.helpers.synthetic import demo_table

SPEC_RAW = demo_raw(
    "mlflow-demo", search={"configs": 2, "space": {"batch_size": [32, 64]}}, training={"max_epochs": 2, "patience": 2}
)


def test_tracking_key_is_validated_and_left_out_while_unset() -> None:
    assert "tracking" not in SweepSpec.from_dict(SPEC_RAW).to_dict()  # saved specs of earlier sweeps read as before
    spec = SweepSpec.from_dict({**SPEC_RAW, "tracking": {"mlflow": "file:./mlruns"}})
    assert spec.tracking == TrackingSpec(mlflow="file:./mlruns")
    with pytest.raises(SpecError, match=r"unknown key 'tracking.mlfow'; valid keys of tracking: mlflow"):
        SweepSpec.from_dict({**SPEC_RAW, "tracking": {"mlfow": "file:./mlruns"}})
    with pytest.raises(SpecError, match=r"tracking.mlflow must be a non-empty string"):
        SweepSpec.from_dict({**SPEC_RAW, "tracking": {"mlflow": ""}})


def test_the_flag_overrides_the_spec_and_a_changed_uri_is_the_same_spec(tmp_path: Path) -> None:
    spec = SweepSpec.from_dict({**SPEC_RAW, "tracking": {"mlflow": "file:./a"}})
    assert with_tracking(spec, "file:./b").tracking == TrackingSpec(mlflow="file:./b")
    assert with_tracking(spec, None) == spec
    files = SweepFiles(tmp_path, spec.id)
    files.check_and_save_spec(spec, {})
    files.check_and_save_spec(with_tracking(spec, "file:./b"), {})  # resumed with another URI: no error
    files.check_and_save_spec(SweepSpec.from_dict(SPEC_RAW), {})


def test_sweep_without_mlflow_installed_is_one_error_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    assert main(["sweep", "demo", "--storage", str(tmp_path), "--mlflow", f"file:{tmp_path / 'mlruns'}"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "pip install 'rdlr[tracking]'" in err


def test_one_mlflow_run_per_trial_in_a_file_store(ray_session: Any, tmp_path: Path, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # restored after the test (rdlr sets it for file stores)
    uri = f"file:{tmp_path / 'mlruns'}"
    spec = SweepSpec.from_dict({**SPEC_RAW, "tracking": {"mlflow": uri}})
    outcome = run_sweep(
        spec, {"is10": demo_table(32, unlabeled=8, speakers=4)}, tmp_path / "runs", log=lambda line: None
    )
    assert outcome.ok and outcome.rows == 2, outcome.errors
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name(spec.id).experiment_id])
    assert len(runs) == 2 and {run.info.status for run in runs} == {"FINISHED"}
    assert {run.data.params["batch_size"] for run in runs} == {"32", "64"}
    for run in runs:
        params, tags = run.data.params, run.data.tags
        assert params["method"] == "ce" and params["held_out"] == "CRE-demo" and params["protocol"] == "out_of_corpus"
        assert tags["spec_id"] == spec.id and tags["job"] == "is10__out_of_corpus__ce__CRE-demo"
        per_epoch = client.get_metric_history(run.info.run_id, "loss.total")
        assert len(per_epoch) >= 1 and "val_ua.IEM-demo" in run.data.metrics  # Tune's val_ua/IEM-demo
        assert 0.0 <= run.data.metrics["val_ua"] <= 1.0  # the last report: the mean over the trial's seeds
