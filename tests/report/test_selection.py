"""Hyperparameter selection: validation (default) vs the paper's test-set protocol, ties, and malformed tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rdlr.report.selection import check_selection, config_scores, select_configs, selected_trials
from rdlr.results import REQUIRED_COLUMNS, read_results, validate_results


def trial(config: str, seed: int, val: float, test: float, method: str = "ce", held_out: str = "CRE") -> dict:
    return {
        "features": "is10",
        "protocol": "out_of_corpus",
        "method": method,
        "held_out": held_out,
        "seed": seed,
        "config_id": config,
        "val_ua": val,
        "test_ua": test,
    }


@pytest.fixture
def disagreeing() -> pd.DataFrame:
    """Config "a" wins on validation UA, config "b" on test UA (3 seeds each); a second corpus agrees."""
    rows = [
        trial("a", 0, 0.60, 0.40),
        trial("a", 1, 0.62, 0.42),
        trial("a", 2, 0.61, 0.41),
        trial("b", 0, 0.50, 0.50),
        trial("b", 1, 0.52, 0.52),
        trial("b", 2, 0.51, 0.51),
        trial("a", 0, 0.70, 0.70, held_out="IEM"),
        trial("a", 1, 0.70, 0.70, held_out="IEM"),
        trial("b", 0, 0.40, 0.40, held_out="IEM"),
        trial("b", 1, 0.40, 0.40, held_out="IEM"),
    ]
    return pd.DataFrame(rows)


def test_validation_selection_picks_best_mean_val_ua(disagreeing: pd.DataFrame) -> None:
    chosen = select_configs(disagreeing, "validation").set_index("held_out")
    assert chosen.loc["CRE", "config_id"] == "a"
    assert chosen.loc["CRE", "val_ua_mean"] == pytest.approx(0.61)
    assert chosen.loc["CRE", "test_ua_mean"] == pytest.approx(0.41)
    assert chosen.loc["CRE", "n_configs"] == 2
    assert set(chosen["selection"]) == {"validation"}


def test_paper_selection_picks_best_mean_test_ua(disagreeing: pd.DataFrame) -> None:
    chosen = select_configs(disagreeing, "paper").set_index("held_out")
    assert chosen.loc["CRE", "config_id"] == "b"
    assert chosen.loc["CRE", "test_ua_mean"] == pytest.approx(0.51)
    assert chosen.loc["IEM", "config_id"] == "a"  # both protocols agree here


def test_selected_trials_are_the_seeds_of_the_chosen_config(disagreeing: pd.DataFrame) -> None:
    val = selected_trials(disagreeing, "validation")
    cre = val[val["held_out"] == "CRE"]
    assert list(cre["config_id"]) == ["a", "a", "a"]
    assert list(cre["seed"]) == [0, 1, 2]
    assert list(cre["test_ua"]) == pytest.approx([0.40, 0.42, 0.41])
    paper = selected_trials(disagreeing, "paper")
    assert list(paper.loc[paper["held_out"] == "CRE", "test_ua"]) == pytest.approx([0.50, 0.52, 0.51])
    assert len(val) == len(paper) == 5


def test_ties_prefer_more_seeds_then_smaller_config_id() -> None:
    rows = [trial("z", 0, 0.5, 0.5), trial("z", 1, 0.5, 0.5), trial("m", 0, 0.5, 0.5), trial("b", 0, 0.5, 0.5)]
    assert select_configs(pd.DataFrame(rows))["config_id"].item() == "z"
    rows = [trial("z", 0, 0.5, 0.5), trial("m", 0, 0.5, 0.5)]
    assert select_configs(pd.DataFrame(rows))["config_id"].item() == "m"


def test_config_scores_mean_std_and_seed_count(disagreeing: pd.DataFrame) -> None:
    scores = config_scores(disagreeing).set_index(["held_out", "config_id"])
    assert scores.loc[("CRE", "b"), "n_seeds"] == 3
    assert scores.loc[("CRE", "b"), "test_ua_mean"] == pytest.approx(0.51)
    assert scores.loc[("CRE", "b"), "test_ua_std"] == pytest.approx(0.01)
    assert scores.loc[("IEM", "a"), "n_seeds"] == 2


def test_groups_are_separate_per_method_and_features(disagreeing: pd.DataFrame) -> None:
    other = disagreeing.assign(method="rd", val_ua=1 - disagreeing["val_ua"])
    chosen = select_configs(pd.concat([disagreeing, other])).set_index(["method", "held_out"])
    assert chosen.loc[("ce", "CRE"), "config_id"] == "a"
    assert chosen.loc[("rd", "CRE"), "config_id"] == "b"


def test_missing_columns_are_named(disagreeing: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"missing required column\(s\) config_id, val_ua"):
        validate_results(disagreeing.drop(columns=["val_ua", "config_id"]))
    with pytest.raises(ValueError, match="missing required column"):
        select_configs(disagreeing.drop(columns=["held_out"]))
    assert "held_out" in REQUIRED_COLUMNS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test_ua": 56.4}, r"'test_ua' must hold UA as a fraction in \[0, 1\]"),
        ({"val_ua": "abc"}, r"'val_ua' must be a number"),
        ({"val_ua": float("nan")}, r"'val_ua' must be a number .* row\(s\) 0"),
        ({"protocol": "loso"}, r"unknown protocol\(s\) 'loso'; valid: out_of_corpus, within_corpus"),
        ({"seed": 1.5}, r"'seed' must hold integers"),
        ({"method": ""}, r"column 'method' is empty"),
    ],
)
def test_malformed_values_are_rejected(disagreeing: pd.DataFrame, change: dict, message: str) -> None:
    bad = disagreeing.astype(object)
    for column, value in change.items():
        bad.loc[0, column] = value
    with pytest.raises(ValueError, match=message):
        validate_results(bad, source="my.csv")


def test_duplicate_trials_and_empty_tables_are_rejected(disagreeing: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="trial listed more than once .*config_id=a, seed=0"):
        validate_results(pd.concat([disagreeing, disagreeing.iloc[:1]], ignore_index=True))
    with pytest.raises(ValueError, match="no trials"):
        validate_results(disagreeing.iloc[:0])


def test_unknown_selection_lists_the_valid_ones(disagreeing: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown selection 'test'; valid: validation, paper"):
        select_configs(disagreeing, "test")
    assert check_selection("paper") == "paper"


def test_read_results_from_file_or_spec_folder(tmp_path: Path, disagreeing: pd.DataFrame) -> None:
    folder = tmp_path / "spec1"
    folder.mkdir()
    frame = disagreeing.assign(config_id=disagreeing["config_id"].map({"a": "0012", "b": "1e5"}))  # stay strings
    frame.to_csv(folder / "results.csv", index=False)
    for path in (folder, folder / "results.csv"):
        loaded = read_results(path)
        assert list(loaded["config_id"].unique()) == ["0012", "1e5"]
        assert loaded["seed"].dtype.kind == "i"
    with pytest.raises(FileNotFoundError, match="results table not found"):
        read_results(tmp_path / "nope")
    frame.drop(columns=["test_ua"]).to_csv(folder / "results.csv", index=False)
    with pytest.raises(ValueError, match=r"results.csv: missing required column\(s\) test_ua"):
        read_results(folder)
