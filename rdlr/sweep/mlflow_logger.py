"""MLflow for sweeps: Ray Tune's ``MLflowLoggerCallback`` (one MLflow run per trial, its config as params, every
reported number as a metric at step = training iteration), with metric names written as ``rdlr train`` writes them
(:func:`rdlr.io.tracking.mlflow_key`), in an experiment named after the spec id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback

from rdlr.io.tracking import mlflow_key
from rdlr.sweep.trial import job_of, point_of


class SweepMLflowLogger(MLflowLoggerCallback):
    """``MLflowLoggerCallback`` with MLflow-safe metric names (``val_ua/CRE`` -> ``val_ua.CRE``); a grid group's
    trial (:mod:`rdlr.sweep.groups`) is tagged with its own job and logs its point as the params."""

    def log_trial_start(self, trial: Any) -> None:
        job = job_of(trial.config)
        if job is None:
            super().log_trial_start(trial)
            return
        if trial not in self._trial_runs:
            tags = {**self.tags, "job": job, "trial_name": str(trial)}
            self._trial_runs[trial] = self.mlflow_util.start_run(tags=tags, run_name=str(trial)).info.run_id
        self.mlflow_util.log_params(run_id=self._trial_runs[trial], params_to_log=dict(point_of(trial.config)))

    def log_trial_result(self, iteration: int, trial: Any, result: dict[str, Any]) -> None:
        super().log_trial_result(iteration, trial, {mlflow_key(key): value for key, value in result.items()})


def sweep_mlflow_logger(uri: str, spec_id: str, tags: Mapping[str, str]) -> SweepMLflowLogger:
    """The callback of one Tuner (a job's, or a grid group's). The experiment ``spec_id`` must exist
    (:func:`rdlr.io.tracking.mlflow_experiment` before the Tuners start: they set their callbacks up concurrently
    and would race to create it)."""
    return SweepMLflowLogger(tracking_uri=uri, experiment_name=spec_id, tags={"spec_id": spec_id, **tags})
