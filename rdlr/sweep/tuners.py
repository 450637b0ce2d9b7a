"""The Tuners of a sweep: the trainables they run (:func:`register_trainables`), a job's own (its searcher,
restored from its saved state when there is a whole one) and a grid group's (:mod:`rdlr.sweep.groups`), with the
callbacks every Tuner carries (the results sink, the storage-fault stop, MLflow)."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import pandas as pd
from ray import tune
from ray.tune.registry import register_trainable

from rdlr.spec.core import SweepSpec
from rdlr.spec.jobs import Job
from rdlr.sweep.collector import FaultStopper, Log, ResultSink, SinkCallback
from rdlr.sweep.files import SweepFiles
from rdlr.sweep.groups import GridGroup
from rdlr.sweep.recovery import TUNER_STATE, finished_configs, set_aside, torn_state
from rdlr.sweep.resources import TrialResources, trials_per_job
from rdlr.sweep.sampling import make_sampler, optuna_space
from rdlr.sweep.trial import GROUP_POINT, TrialContext, job_constants, trainable_for

METRIC = "val_ua"


def _trial_dirname(trial: Any) -> str:
    return f"trial_{trial.trial_id}"


class Tuners:
    """Builds the Tuners of one sweep (``trainables``: the registered trainable of each (feature set,
    normalisation); ``sink``: the results gathered so far, also where the Tuners' trials report)."""

    def __init__(
        self,
        spec: SweepSpec,
        trainables: Mapping[tuple[str, str], str],
        files: SweepFiles,
        sink_key: str,
        sink: ResultSink,
    ) -> None:
        self.spec, self.trainables, self.files = spec, trainables, files
        self.sink_key, self.sink = sink_key, sink
        self.log: Log = sink.log
        self.mlflow_uri = spec.tracking.mlflow if spec.tracking is not None else None

    def for_job(self, job: Job) -> tuple[tune.Tuner, bool]:
        """The job's Tuner, restored from its saved state when there is a whole one (then ``True``); a torn one
        (:func:`rdlr.sweep.recovery.torn_state`) is set aside and the job starts afresh."""
        trainable = self.trainables[(job.features, job.normalization)]
        constants = job_constants(job)
        path = f"{self.files.tune_root}/{job.name}"
        torn = torn_state(self.files.storage.fs, path)
        if torn is None and tune.Tuner.can_restore(path):
            try:
                return tune.Tuner.restore(path, trainable=trainable, resume_errored=True, param_space=constants), True
            except (EOFError, pickle.UnpicklingError) as error:  # cut short in a way the byte checks missed
                torn = f"{path}/{TUNER_STATE} cannot be read ({type(error).__name__}: {error})"
        if torn is not None:
            aside = set_aside(self.files.storage.fs, path, "torn")
            self.log(
                f"job {job.name}: Tune's saved state is torn ({torn}); moved it to {aside} and started the job "
                "afresh from the rows in results.csv"
            )
        return self.new_for_job(job), False

    def new_for_job(self, job: Job) -> tune.Tuner:
        """A fresh Tuner for ``job``. Configurations that already have rows (a Tune state set aside or deleted) are
        evaluated first, so the search continues from them instead of spending the budget on new ones; the grid
        sampler repeats its seeded order by itself, and is not given them (Optuna's grid would count them twice)."""
        tried = [] if job.sampler == "grid" else finished_configs(self.sink.rows.values(), job)
        from ray.tune.search.optuna import OptunaSearch

        searcher = OptunaSearch(
            space=optuna_space(job.space),
            metric=METRIC,
            mode="max",
            points_to_evaluate=tried,
            sampler=make_sampler(job.sampler, self.spec.search.sampler_seed, job.space),
        )
        tune_config = tune.TuneConfig(
            search_alg=searcher,
            num_samples=job.configs,
            max_concurrent_trials=trials_per_job(job),
            reuse_actors=True,  # the next trial of the Tuner finds the worker's prepared rows (worker_rows)
            trial_dirname_creator=_trial_dirname,
        )
        trainable = self.trainables[(job.features, job.normalization)]
        run_config = self._run_config(job.name, {"job": job.name, "features": job.features})
        return tune.Tuner(trainable, param_space=job_constants(job), tune_config=tune_config, run_config=run_config)

    def afresh(self, job: Job) -> tune.Tuner:
        """A fresh Tuner for a job whose restored Tune state ended short of its rows: a trial suggested just before
        the driver was killed can be counted in the restored search's samples without ever having run. The state
        is set aside; the fresh Tuner evaluates the finished configurations first (their seeds with rows are not
        trained again) and then searches on."""
        aside = set_aside(self.files.storage.fs, f"{self.files.tune_root}/{job.name}", "short")
        self.log(
            f"job {job.name}: its restored Tune state ended without every trial; moved it to {aside} and ran "
            "the missing trials afresh"
        )
        return self.new_for_job(job)

    def for_group(self, group: GridGroup, slots: int) -> tune.Tuner:
        """A fresh Tuner running ``group``'s points in their order, ``group.concurrency(slots)`` at once on reused
        workers; the state of an earlier run of the group is set aside first."""
        path = f"{self.files.tune_root}/{group.name}"
        if tune.Tuner.can_restore(path) or torn_state(self.files.storage.fs, path) is not None:
            set_aside(self.files.storage.fs, path, "earlier")
        tune_config = tune.TuneConfig(
            num_samples=1,  # once through the grid of points
            max_concurrent_trials=group.concurrency(slots),
            reuse_actors=True,
            trial_dirname_creator=_trial_dirname,
        )
        trainable = self.trainables[(group.features, group.normalization)]
        run_config = self._run_config(group.name, {"features": group.features})
        space = {GROUP_POINT: tune.grid_search(list(group.points))}
        return tune.Tuner(trainable, param_space=space, tune_config=tune_config, run_config=run_config)

    def _run_config(self, name: str, mlflow_tags: Mapping[str, str]) -> tune.RunConfig:
        """Where the Tuner ``name`` writes (``<storage>/<spec_id>/tune/<name>``), its retries and callbacks."""
        callbacks: list[Any] = [SinkCallback(self.sink_key, name)]
        if self.mlflow_uri:
            from rdlr.sweep.mlflow_logger import sweep_mlflow_logger

            callbacks.append(sweep_mlflow_logger(self.mlflow_uri, self.spec.id, mlflow_tags))
        return tune.RunConfig(
            name=name,
            storage_path=self.files.tune_root,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=self.spec.resources.max_failures),
            callbacks=callbacks,
            stop=FaultStopper(self.sink_key),
        )


def register_trainables(
    spec: SweepSpec, tables: Mapping[str, tuple[Any, pd.DataFrame]], files: SweepFiles, resources: TrialResources
) -> dict[tuple[str, str], str]:
    """Register one trainable per (feature set, normalisation), each feature set's features in the object store
    once (``tune.with_parameters`` takes an ``ObjectRef`` as is, so a matrix already there is not copied again,
    and the normalisations of a feature set share it); returns ``{(feature set, normalisation): name}``."""
    import ray

    names = {}
    for features in spec.features:
        x, meta = tables[features]
        x = x if isinstance(x, ray.ObjectRef) else ray.put(x)
        for normalization in spec.normalization:
            context = TrialContext(
                spec.id,
                features,
                tuple(spec.seeds),
                spec.data.split_seed,
                dict(spec.training),
                resources.device,
                resources.cpus,
                files.storage.uri,
                table_id=x.hex(),
                labels=spec.label_set(),
                normalization=normalization,
            )
            function = trainable_for(features, spec.id, normalization)
            trainable = tune.with_resources(
                tune.with_parameters(function, x=x, meta=meta, context=context), resources.as_tune()
            )
            # Registered once, here: Tuners started in threads get the name, because Tune's registry is not
            # thread-safe (concurrent registrations fail with "dictionary changed size during iteration").
            register_trainable(function.__name__, trainable)
            names[(features, normalization)] = function.__name__
    return names
