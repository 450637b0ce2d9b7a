"""``rdlr train``'s experiment tracking (rdlr.io.tracking): TensorBoard events in the model folder, one MLflow run in a
local ``file:`` store, and a one-line error where MLflow is not installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rdlr.cli import main
from rdlr.io.tracking import TENSORBOARD_DIR
from tests.helpers.model_training import train_args, train_quietly


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of the TensorBoard events in ``folder``: tag -> [(step, value), ...]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_train_writes_every_epoch_to_tensorboard(demo_model):
    series = scalars(demo_model.folder / TENSORBOARD_DIR)
    history = demo_model.outcome.card.history
    assert {"loss/total", "loss/ce", "val_ua", "lr", "val_ua/IEM-demo"} <= set(series)
    assert [step for step, _ in series["val_ua"]] == [record["epoch"] for record in history]
    assert [value for _, value in series["val_ua"]] == pytest.approx([record["val_ua"] for record in history])
    assert series["lr"][0][1] == pytest.approx(history[0]["lr"])


def test_train_logs_one_mlflow_run_to_a_file_store(demo_model, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")  # rdlr opts in for the file store it is given (restored after)
    uri = f"file:{tmp_path / 'mlruns'}"
    outcome = train_quietly(
        [demo_model.manifest],
        "lr",
        tmp_path / "model",
        demo_model.store,
        hparams={"batch_size": 32, "gamma": 0.2},
        seed=3,
        training={"max_epochs": 2},
        mlflow=uri,
    )
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("rdlr-train").experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "model"
    params = run.data.params
    assert params["method"] == "lr" and params["seed"] == "3" and params["batch_size"] == "32"
    assert set(outcome.card.hparams) <= set(params) and params["gamma"] == "0.2"
    assert params["corpora.train"] == "CRE-demo,IEM-demo,IMP-demo,POD-demo" and params["training.max_epochs"] == "2"
    metrics = run.data.metrics  # MLflow names write TensorBoard's / as .
    assert metrics["final.val_ua.IEM-demo"] == pytest.approx(outcome.card.metrics["val_ua/IEM-demo"])
    assert metrics["final.val_ua"] == pytest.approx(outcome.card.metrics["val_ua"])
    history = client.get_metric_history(run.info.run_id, "val_ua")  # stage 2, one point per epoch
    assert [m.step for m in history] == [record["epoch"] for record in outcome.card.history]
    assert client.get_metric_history(run.info.run_id, "stage1.loss.total")
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"model.json", "README.md"} <= artifacts
    tensorboard = tmp_path / "model" / TENSORBOARD_DIR
    assert "loss/total" in scalars(tensorboard / "stage1") and "val_ua" in scalars(tensorboard / "stage2")


def test_mlflow_missing_is_one_line_saying_what_to_install(demo_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    args = [*train_args(demo_model.manifest, demo_model.store), "--out", str(tmp_path / "m")]
    code = main([*args, "--mlflow", f"file:{tmp_path}", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0 and "pip install 'rdlr[tracking]'" in err
    assert not (tmp_path / "m").exists()  # nothing trained, nothing written
