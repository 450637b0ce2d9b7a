"""The Optuna samplers of a job's search (Section 3.2's sets), each suggesting only configurations not yet tried.

A job runs ``configs`` configurations of its method's grid (:meth:`rdlr.spec.core.SweepSpec.jobs` caps ``configs``
at the grid's size). TPE and random sampling in such small discrete spaces suggest the same configuration again
(a 4-corpus run asked for 72 configurations and ran 64 distinct), and a repeated configuration adds no information
while it takes the place of a new one. So:

* ``grid``: Optuna's :class:`~optuna.samplers.GridSampler`, which hands trial *k* the *k*-th point of the grid
  shuffled by the seed, so its first ``grid size`` trials are distinct by construction (a job running its whole
  grid has no searcher at all: it runs in a grid group, :mod:`rdlr.sweep.groups`);
* ``tpe`` and ``random``: the sampler wrapped in :class:`DistinctSampler`, which asks it again (up to
  :data:`RESAMPLE_ATTEMPTS` times) while it proposes a configuration the study already holds, in any state, and then
  picks one of the untried grid points with its own seeded generator.

Either way a job that asks for ``n <= grid size`` configurations gets ``n`` distinct ones.
"""

from __future__ import annotations

import itertools
import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from rdlr.sweep.files import SweepError

SAMPLER_KINDS: tuple[str, ...] = ("grid", "random", "tpe")
RESAMPLE_ATTEMPTS = 32  # proposals asked of the wrapped sampler before an untried grid point is drawn

Config = tuple[tuple[str, Any], ...]


def optuna_space(space: Mapping[str, Sequence[Any]]) -> dict[str, CategoricalDistribution]:
    """A job's search space (hyperparameter -> its set of values) as Optuna distributions."""
    return {name: CategoricalDistribution(list(values)) for name, values in space.items()}


def make_sampler(kind: str, seed: int, space: Mapping[str, Sequence[Any]]) -> BaseSampler:
    """The seeded sampler of a job: ``grid`` visits the grid in a seeded random order; ``tpe`` and ``random`` are
    wrapped in :class:`DistinctSampler`, so no configuration is suggested twice while untried ones remain."""
    if kind == "grid":
        return optuna.samplers.GridSampler({k: list(v) for k, v in space.items()}, seed=seed)
    if kind == "random":
        return DistinctSampler(optuna.samplers.RandomSampler(seed=seed), space, seed)
    if kind == "tpe":
        return DistinctSampler(optuna.samplers.TPESampler(seed=seed), space, seed)
    raise SweepError(f"unknown sampler {kind!r}; valid: {', '.join(SAMPLER_KINDS)}")


class DistinctSampler(BaseSampler):
    """Wraps a sampler so that a study over the discrete ``space`` never gets a configuration twice.

    The whole configuration is drawn at once (Optuna's relative sampling): the wrapped sampler proposes every
    hyperparameter, the proposal is kept if no other trial of the study (running, finished or failed) has the same
    values, else the wrapped sampler is asked again; after :data:`RESAMPLE_ATTEMPTS` repeated proposals an untried
    grid point is drawn uniformly with the wrapper's generator (seeded by ``seed``, so runs repeat). When every grid
    point is taken (a study asked for more configurations than the grid holds), the wrapped sampler's proposal is
    used as is, with a warning.
    """

    def __init__(self, inner: BaseSampler, space: Mapping[str, Sequence[Any]], seed: int) -> None:
        self.inner = inner
        # Single-valued hyperparameters are fixed by Optuna before any sampler is asked: only the others are drawn.
        self.space = {name: list(values) for name, values in space.items() if len(values) > 1}
        self.distributions = optuna_space(self.space)
        self.rng = random.Random(seed)
        self.resampled = 0  # proposals rejected as already tried (counted for tests and diagnosis)
        self.fallbacks = 0  # configurations drawn from the untried grid points

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self.distributions)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        tried = self._tried(study, trial)
        proposal: dict[str, Any] = {}
        for _ in range(RESAMPLE_ATTEMPTS):
            proposal = self._propose(study, trial, search_space)
            if self._key(proposal) not in tried:
                return proposal
            self.resampled += 1
        untried = [point for point in self._grid() if self._key(point) not in tried]
        if not untried:
            warnings.warn(
                f"every one of the {len(self._grid())} configurations of the search space was already tried; "
                "repeating one",
                RuntimeWarning,
                stacklevel=2,
            )
            return proposal
        self.fallbacks += 1
        return self.rng.choice(untried)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()
        self.rng.seed()

    def _propose(
        self, study: Study, trial: FrozenTrial, search_space: Mapping[str, BaseDistribution]
    ) -> dict[str, Any]:
        """One configuration from the wrapped sampler: its relative proposal, completed by independent draws."""
        relative = self.inner.sample_relative(study, trial, self.inner.infer_relative_search_space(study, trial))
        return {
            name: relative[name] if name in relative else self.inner.sample_independent(study, trial, name, dist)
            for name, dist in search_space.items()
        }

    def _tried(self, study: Study, trial: FrozenTrial) -> set[Config]:
        """Configurations of the study's other trials (any state) that set every searched hyperparameter."""
        return {
            self._key(other.params)
            for other in study.get_trials(deepcopy=False)
            if other.number != trial.number and all(name in other.params for name in self.space)
        }

    def _key(self, params: Mapping[str, Any]) -> Config:
        return tuple((name, params[name]) for name in self.space)

    def _grid(self) -> list[dict[str, Any]]:
        names = list(self.space)
        return [dict(zip(names, values)) for values in itertools.product(*self.space.values())]
