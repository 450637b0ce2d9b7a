"""Hyperparameter selection over a sweep's results table.

The paper (Section 3.2) reports, for every method and held-out corpus, the hyperparameter setting that gave the best
UA *on the unseen test corpus*. That is test-set selection; it flatters every method. This module offers two protocols:

* ``"validation"`` (default): per (features, protocol, method, held_out) the ``config_id`` with the best mean
  ``val_ua`` over seeds (the validation UA of the training corpora; no test data is looked at);
* ``"paper"``: the ``config_id`` with the best mean ``test_ua`` over seeds (the paper's protocol, labelled as such).

Ties are broken by the number of seeds (more first) and then by ``config_id`` (ascending), so the choice is stable.
The UA of a selected configuration is reported as mean ± sample std (ddof=1) over its seeds.

Both selections and why validation is the default: ``docs/decisions.md#selection``.
"""

from __future__ import annotations

import pandas as pd

from rdlr.results import GROUP_KEYS, validate_results

SELECTIONS: dict[str, str] = {"validation": "val_ua", "paper": "test_ua"}
DEFAULT_SELECTION = "validation"  # a report's headline where the spec names none (`headline`)
SELECTION_DESCRIPTIONS: dict[str, str] = {
    "validation": (
        "validation selection: for each (features, protocol, method, held-out corpus) the hyperparameter "
        "configuration with the best mean validation UA over seeds (validation splits of the training corpora; "
        "the test corpus is not looked at)"
    ),
    "paper": (
        "paper's protocol (test-set selection): for each (features, protocol, method, held-out corpus) the "
        "hyperparameter configuration with the best mean UA on the test corpus itself, as the paper reports; "
        "optimistic by construction"
    ),
}


def check_selection(selection: str) -> str:
    """Return ``selection`` if it names a protocol in :data:`SELECTIONS`, else raise naming the valid ones."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; valid: {', '.join(SELECTIONS)}")
    return selection


def config_scores(results: pd.DataFrame) -> pd.DataFrame:
    """Per (features, protocol, method, held_out, config_id): n_seeds and mean/std of val_ua and test_ua."""
    df = validate_results(results)
    grouped = df.groupby([*GROUP_KEYS, "config_id"], sort=True)
    scores = grouped.agg(
        n_seeds=("seed", "nunique"),
        val_ua_mean=("val_ua", "mean"),
        val_ua_std=("val_ua", "std"),
        test_ua_mean=("test_ua", "mean"),
        test_ua_std=("test_ua", "std"),
    )
    return scores.reset_index()


def select_configs(results: pd.DataFrame, selection: str = "validation") -> pd.DataFrame:
    """One row per (features, protocol, method, held_out): the selected ``config_id`` and its scores.

    ``selection="validation"`` maximises the mean ``val_ua`` over seeds; ``selection="paper"`` maximises the mean
    ``test_ua`` (the paper's protocol). Ties: more seeds first, then the smaller ``config_id``. The returned frame
    has the columns of :func:`config_scores` plus ``selection`` and ``n_configs`` (configurations compared).
    """
    check_selection(selection)
    scores = config_scores(results)
    score_column = f"{SELECTIONS[selection]}_mean"
    ranked = scores.sort_values(
        [*GROUP_KEYS, score_column, "n_seeds", "config_id"],
        ascending=[True] * len(GROUP_KEYS) + [False, False, True],
        kind="mergesort",
    )
    chosen = ranked.groupby(list(GROUP_KEYS), sort=True).head(1).copy()
    counts = scores.groupby(list(GROUP_KEYS), sort=True)["config_id"].nunique().rename("n_configs")
    chosen = chosen.merge(counts.reset_index(), on=list(GROUP_KEYS), how="left")
    chosen.insert(len(GROUP_KEYS) + 1, "selection", selection)
    return chosen.reset_index(drop=True)


def selected_trials(results: pd.DataFrame, selection: str = "validation") -> pd.DataFrame:
    """The per-seed trial rows of the configurations chosen by :func:`select_configs`, each with ``n_configs``
    (the configurations its (features, protocol, method, held_out) compared)."""
    df = validate_results(results)
    chosen = select_configs(df, selection)[[*GROUP_KEYS, "config_id", "n_configs"]]
    return (
        df.merge(chosen, on=[*GROUP_KEYS, "config_id"], how="inner")
        .sort_values([*GROUP_KEYS, "seed"])
        .reset_index(drop=True)
    )
