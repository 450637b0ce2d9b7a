"""One Tune trial trains every seed of its configuration (a searched job's trial): the rows equal those of each seed
in a trial of its own (a grid group's last trials: rdlr.sweep.groups), and a trial stopped after some of its seeds
trains only the others when it runs again."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rdlr.results import read_results, trial_key
from rdlr.spec.core import SweepSpec
from rdlr.spec.sections import DEMO_UNLABELED
from rdlr.sweep.driver import run_sweep
from rdlr.sweep.files import ROWS_DIR, SweepFiles
from tests.helpers.specs import demo_raw
from tests.helpers.synthetic import demo_table

PER_RUN = ["wall_time_s", "cpu_time_s", "trial_id", "node", "host"]  # differ between any two runs
SEEDS = [0, 1, 2]


def spec(spec_id: str, seeds: list[int], sampler: str = "random") -> SweepSpec:
    """One job: LR (a stage-1 model, then stage 2) with CRE-demo held out, one configuration; searched (one trial
    for every seed) or, with the ``grid`` sampler, a whole grid (a grid group, which ends one seed per trial)."""
    return SweepSpec.from_dict(
        demo_raw(
            spec_id,
            unlabeled=DEMO_UNLABELED,
            protocols={"out_of_corpus": ["lr"]},
            seeds=seeds,
            search={"sampler": sampler, "configs": 1, "space": {"batch_size": [32], "gamma": [0.5]}},
            training={"max_epochs": 2, "patience": 2},
        )
    )


def tables() -> dict[str, Any]:
    return {"is10": demo_table(40, unlabeled=16, speakers=6)}


def comparable(results: pd.DataFrame) -> pd.DataFrame:
    """The rows without their per-run columns and spec id, in seed order."""
    return results.drop(columns=[*PER_RUN, "spec_id"]).sort_values("seed").reset_index(drop=True)


@pytest.fixture(scope="module")
def together(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    storage = tmp_path_factory.mktemp("together")
    outcome = run_sweep(spec("seeds", SEEDS), tables(), storage, log=lambda line: None)
    assert outcome.ok, outcome.errors
    return {"storage": storage, "results": read_results(outcome.results_uri), "outcome": outcome}


def test_one_trial_writes_one_row_per_seed(together: dict[str, Any]) -> None:
    results = together["results"]
    assert sorted(results["seed"]) == SEEDS and results["trial_id"].nunique() == 1
    assert together["outcome"].jobs[0].trials == 1


def test_seeds_in_one_trial_give_the_rows_of_seeds_in_trials_of_their_own(
    together: dict[str, Any], tmp_path: Path
) -> None:
    outcome = run_sweep(spec("split", SEEDS, sampler="grid"), tables(), tmp_path, log=lambda line: None)
    alone = read_results(outcome.results_uri)
    assert alone["trial_id"].nunique() == len(SEEDS)  # the group's only point, split one seed per trial
    pd.testing.assert_frame_equal(comparable(alone), comparable(together["results"]))


def test_a_trial_stopped_after_two_seeds_trains_only_the_third(together: dict[str, Any], tmp_path: Path) -> None:
    done = SweepFiles(together["storage"], "seeds")
    stopped = SweepFiles(tmp_path, "seeds")
    for seed in SEEDS[:2]:  # noqa: B007 (read by the query) what a trial killed while training its third seed leaves: the first two rows
        name = f"{trial_key(together['results'].query('seed == @seed').iloc[0].to_dict())}.json"
        target = tmp_path / "seeds" / ROWS_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(together["storage"]) / "seeds" / ROWS_DIR / name, target)
    outcome = run_sweep(spec("seeds", SEEDS), tables(), tmp_path, log=lambda line: None)
    assert outcome.ok and outcome.rows == 3 and outcome.new_rows == 1
    third = trial_key(together["results"].query("seed == 2").iloc[0].to_dict())
    assert stopped.attempts() == [third]  # seeds 0 and 1 were not trained again
    assert len(done.attempts()) == 3
    pd.testing.assert_frame_equal(comparable(read_results(outcome.results_uri)), comparable(together["results"]))
