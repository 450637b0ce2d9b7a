"""Experiment tracking: TensorBoard event files and an MLflow run for ``rdlr train``; MLflow for sweeps.

``rdlr train`` writes every number of each epoch's history record (loss terms, validation UA and F1, per-corpus
UA, learning rate, CWW's corpus weights (6)) as TensorBoard scalars at step = epoch, into ``<model folder>/
tensorboard`` (``stage1/`` and ``stage2/`` beside each other for LR (10) and self-KD), as a sweep's trials do
through Ray Tune's TensorBoard logger (``<storage>/<spec id>/tune/<job>/trial_*``). The writer is tensorboardX,
which ``ray[tune]`` installs; the ``tensorboard`` viewer comes with the ``tracking`` extra.

With an MLflow tracking URI, ``rdlr train`` also logs one MLflow run (params: method, every resolved
hyperparameter, seed, corpora, training protocol; metrics per epoch and the final validation/test ones), and a
sweep one run per Tune trial through Ray Tune's ``MLflowLoggerCallback`` (:mod:`rdlr.sweep.mlflow_logger`), in an
experiment named after the spec id. MLflow names write ``/`` as ``.`` (:func:`mlflow_key`).
MLflow 3 refuses file stores (``file:`` URIs, plain paths) unless ``MLFLOW_ALLOW_FILE_STORE`` is set: naming one
is taken as that choice.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

TENSORBOARD_DIR = "tensorboard"
TRACKING_EXTRA = "pip install 'rdlr[tracking]'"
TRAIN_EXPERIMENT = "rdlr-train"  # MLFLOW_EXPERIMENT_NAME, where set, names it instead
_MLFLOW_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")  # characters MLflow accepts in metric and param names

EpochCallback = Callable[[dict[str, Any]], None]


class TrackingError(ValueError):
    """Tracking asked for but not possible (MLflow not installed, a bad URI); the message says what to do."""


def import_mlflow() -> Any:
    """The ``mlflow`` module, or :class:`TrackingError` saying how to install it."""
    try:
        import mlflow
    except ImportError:
        raise TrackingError(f"MLflow tracking needs the mlflow package: {TRACKING_EXTRA}") from None
    return mlflow


def prepare_mlflow(uri: str) -> Any:
    """Check that MLflow can be used with ``uri`` and return the module; a file store is allowed explicitly."""
    if not uri.strip():
        raise TrackingError("MLflow tracking URI is empty; give one such as file:./mlruns or http://HOST:5000")
    mlflow = import_mlflow()
    if urlparse(uri).scheme in ("", "file"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return mlflow


def mlflow_experiment(uri: str, name: str) -> str:
    """The id of experiment ``name`` in the store at ``uri``, created when missing."""
    client = prepare_mlflow(uri).tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment is not None else client.create_experiment(name)


def numbers(record: Mapping[str, Any]) -> dict[str, float]:
    """The numeric entries of a history record or metrics mapping (no confusion matrix, no nested stage-1 dict)."""
    return {
        key: float(value)
        for key, value in record.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def mlflow_key(name: str) -> str:
    """``name`` as an MLflow metric or param name: ``/`` written ``.`` (MLflow's file store keeps each metric in a
    file named by it, so ``val_ua`` and ``val_ua/CRE`` could not both exist), characters MLflow rejects as ``_``."""
    return _MLFLOW_KEY.sub("_", name).replace("/", ".")


def each(*callbacks: EpochCallback | None) -> EpochCallback | None:
    """One epoch callback calling every given one in order (``None`` when none is given)."""
    given = [callback for callback in callbacks if callback is not None]
    if not given:
        return None

    def call(record: dict[str, Any]) -> None:
        for callback in given:
            callback(record)

    return call


class TensorBoardEpochs:
    """Epoch callback writing a history record's numbers as TensorBoard scalars at step = epoch."""

    def __init__(self, folder: Path) -> None:
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(str(folder))

    def __call__(self, record: dict[str, Any]) -> None:
        step = int(record["epoch"])
        for key, value in numbers(record).items():
            if key != "epoch":
                self.writer.add_scalar(key, value, step)
        self.writer.flush()  # visible in a running TensorBoard as each epoch ends

    def close(self) -> None:
        self.writer.close()


class MLflowTrainRun:
    """The MLflow run of one ``rdlr train``: params at the start, metrics per epoch (stage 1 as ``stage1.*``),
    final metrics as ``final.*`` and the model card as an artifact at the end (names by :func:`mlflow_key`)."""

    def __init__(self, uri: str, run_name: str, params: Mapping[str, Any]) -> None:
        experiment = mlflow_experiment(uri, os.environ.get("MLFLOW_EXPERIMENT_NAME", TRAIN_EXPERIMENT))
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        self.run_id = self.client.create_run(experiment, run_name=run_name, tags={"rdlr.command": "train"}).info.run_id
        self.client.log_batch(self.run_id, params=[Param(mlflow_key(k), str(v)) for k, v in params.items()])

    def log(self, values: Mapping[str, float], step: int, prefix: str = "") -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(mlflow_key(prefix + key), value, now, step) for key, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def epochs(self, prefix: str = "") -> EpochCallback:
        """Epoch callback logging a history record's numbers at step = epoch, names prefixed with ``prefix``."""

        def log_epoch(record: dict[str, Any]) -> None:
            self.log({k: v for k, v in numbers(record).items() if k != "epoch"}, int(record["epoch"]), prefix)

        return log_epoch

    def finish(self, final: Mapping[str, Any], artifacts: Sequence[Path]) -> None:
        self.log(numbers(final), 0, "final.")
        for path in artifacts:
            self.client.log_artifact(self.run_id, str(path))

    def end(self, failed: bool) -> None:
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")


class TrainTracking:
    """TensorBoard events (always) and an MLflow run (given a URI) of one ``rdlr train``; a context manager that
    closes both, marking the MLflow run FAILED when training raises."""

    def __init__(
        self, folder: Path, two_stage: bool, mlflow_uri: str | None, run_name: str, params: Mapping[str, Any]
    ) -> None:
        self.two_stage = two_stage
        stages = ("stage1", "stage2") if two_stage else ("",)
        self.tensorboard = {stage: TensorBoardEpochs(folder / stage if stage else folder) for stage in stages}
        self.mlflow = MLflowTrainRun(mlflow_uri, run_name, params) if mlflow_uri else None

    def epochs(self, stage: int) -> EpochCallback | None:
        """The tracking callback of stage 1 or 2 (2 for a one-stage method)."""
        name = f"stage{stage}" if self.two_stage else ""
        mlflow = self.mlflow.epochs("stage1." if stage == 1 and self.two_stage else "") if self.mlflow else None
        return each(self.tensorboard[name], mlflow)

    def finish(self, final: Mapping[str, Any], artifacts: Sequence[Path]) -> None:
        """Final metrics and artifacts to MLflow (nothing to do for TensorBoard)."""
        if self.mlflow is not None:
            self.mlflow.finish(final, artifacts)

    def __enter__(self) -> TrainTracking:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for writer in self.tensorboard.values():
            writer.close()
        if self.mlflow is not None:
            self.mlflow.end(failed=kind is not None)
