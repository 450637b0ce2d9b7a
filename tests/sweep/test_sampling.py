"""A job's sampler (rdlr.sweep.sampling) suggests distinct configurations: exactly min(configs, grid size) of them,
for every sampler kind, with trials told in order or several running at once (as under Ray Tune)."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import optuna
import pytest

from rdlr.sweep.files import SweepError
from rdlr.sweep.sampling import DistinctSampler, make_sampler, optuna_space

SPACE: dict[str, list[Any]] = {"batch_size": [64, 128], "gamma": [0.2, 0.5, 0.8], "lambda_w": [1]}  # grid of 6


def score(params: dict[str, Any]) -> float:
    """A landscape with one clear optimum, so TPE keeps proposing it once it has seen it."""
    return 1.0 - abs(params.get("gamma", 0.8) - 0.8) - (params["batch_size"] == 128) * 0.3


def run_study(
    sampler: optuna.samplers.BaseSampler, configs: int, concurrent: int = 1, space: dict[str, list[Any]] = SPACE
) -> list[tuple]:
    """Ask ``configs`` configurations as Ray's OptunaSearch does (``ask`` with the whole space), keeping up to
    ``concurrent`` of them running before telling the oldest; returns the configurations in order."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    running, asked = [], []
    for _ in range(configs):
        trial = study.ask(fixed_distributions=optuna_space(space))
        asked.append(tuple(sorted(trial.params.items())))
        running.append(trial)
        if len(running) >= concurrent:
            tell(study, running.pop(0))
    for done in running:
        tell(study, done)
    return asked


def tell(study: optuna.Study, trial: optuna.Trial) -> None:
    """Finish a trial; GridSampler then calls ``Study.stop`` once the grid is done, which raises outside
    ``Study.optimize`` after the trial is recorded (Ray's OptunaSearch meets the same)."""
    try:
        study.tell(trial, score(trial.params))
    except RuntimeError as error:
        if "Study.stop" not in str(error):
            raise


def test_plain_tpe_repeats_configurations_in_a_small_grid() -> None:
    """Why the wrapper exists: TPE alone proposes the optimum again and again."""
    asked = run_study(optuna.samplers.TPESampler(seed=0, n_startup_trials=2), configs=6)
    assert len(set(asked)) < len(asked)


@pytest.mark.parametrize("kind", ["tpe", "random", "grid"])
@pytest.mark.parametrize("configs", [1, 4, 6])
@pytest.mark.parametrize("concurrent", [1, 3])
def test_a_job_gets_exactly_its_budget_of_distinct_configurations(kind: str, configs: int, concurrent: int) -> None:
    asked = run_study(make_sampler(kind, seed=3, space=SPACE), configs, concurrent)
    assert len(asked) == configs and len(set(asked)) == configs
    assert all(dict(config)["lambda_w"] == 1 for config in asked)


def test_tpe_past_its_startup_is_resampled_and_falls_back_to_untried_points() -> None:
    sampler = DistinctSampler(optuna.samplers.TPESampler(seed=0, n_startup_trials=2), SPACE, seed=0)
    asked = run_study(sampler, configs=6)
    assert len(set(asked)) == 6 and sampler.resampled > 0 and sampler.fallbacks > 0


def test_the_same_seed_gives_the_same_configurations() -> None:
    sampler = make_sampler("tpe", seed=7, space=SPACE)
    first = run_study(sampler, configs=5, concurrent=2)
    assert run_study(make_sampler("tpe", seed=7, space=SPACE), configs=5, concurrent=2) == first
    assert isinstance(pickle.loads(pickle.dumps(sampler)), DistinctSampler)  # Tune saves the searcher by pickling


def test_an_exhausted_grid_repeats_with_a_warning() -> None:
    sampler = make_sampler("random", seed=0, space=SPACE)
    with pytest.warns(RuntimeWarning, match="every one of the 6 configurations"):
        asked = run_study(sampler, configs=7)
    assert len(set(asked)) == 6


def test_a_single_point_space_is_not_sampled() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "exhausted" warning: nothing is drawn
        single = {"batch_size": [64]}
        asked = run_study(make_sampler("tpe", seed=0, space=single), configs=1, space=single)
    assert asked == [(("batch_size", 64),)]


def test_unknown_sampler_names_the_valid_ones() -> None:
    with pytest.raises(SweepError, match="unknown sampler 'bayes'; valid: grid, random, tpe"):
        make_sampler("bayes", seed=0, space=SPACE)
