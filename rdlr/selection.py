"""Hyperparameter selection over a sweep's results table.

The paper (Section 3.2) reports, for every method and held-out corpus, the hyperparameter setting that gave the best
UA *on the unseen test corpus*. That is test-set selection; it flatters every method. This module offers two protocols:

* ``"validation"`` (default): per (features, protocol, method, held_out) the ``config_id`` with the best mean
  ``val_ua`` over seeds (the validation UA of the training corpora; no test data is looked at);
* ``"paper"``: the ``config_id`` with the best mean ``test_ua`` over seeds (the paper's protocol, labelled as such).

Ties are broken by the number of seeds (more first) and then by ``config_id`` (ascending), so the choice is stable.
The UA of a selected configuration is reported as mean ± sample std (ddof=1) over its seeds.
"""

from __future__ import annotations

from os import PathLike
from typing import IO
from pathlib import Path

import pandas as pd

GROUP_KEYS: tuple[str, ...] = ("features", "protocol", "method", "held_out")
REQUIRED_COLUMNS: tuple[str, ...] = (*GROUP_KEYS, "seed", "config_id", "val_ua", "test_ua")
TEXT_COLUMNS: tuple[str, ...] = (*GROUP_KEYS, "config_id", "spec_id", "hparams", "confusion", "trial_id")
PROTOCOLS: tuple[str, ...] = ("out_of_corpus", "within_corpus")

SELECTIONS: dict[str, str] = {"validation": "val_ua", "paper": "test_ua"}
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


def validate_results(results: pd.DataFrame, source: str = "results") -> pd.DataFrame:
    """Check a results table (one row per finished trial) and return a cleaned copy.

    Raises ``ValueError`` naming ``source`` and what is wrong: missing columns, non-numeric or out-of-range UA
    (UA must be a fraction in [0, 1]), unknown protocols, non-integer seeds, or a trial listed twice.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(
            f"{source}: missing required column(s) {', '.join(missing)}; a results table needs "
            f"{', '.join(REQUIRED_COLUMNS)} (written by rdlr sweep)"
        )
    if results.empty:
        raise ValueError(f"{source}: no trials (the results table is empty); run the sweep first")
    df = results.copy()
    for column in TEXT_COLUMNS:
        if column in df.columns:
            df[column] = df[column].map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    for column in GROUP_KEYS + ("config_id",):
        empty = df.index[df[column].isna() | (df[column].astype(str).str.strip() == "")]
        if len(empty):
            raise ValueError(f"{source}: column {column!r} is empty in row(s) {_rows(empty)}")
    bad_protocol = sorted(set(df["protocol"]) - set(PROTOCOLS))
    if bad_protocol:
        shown = ", ".join(map(repr, bad_protocol))
        raise ValueError(f"{source}: unknown protocol(s) {shown}; valid: {', '.join(PROTOCOLS)}")
    seeds = pd.to_numeric(df["seed"], errors="coerce")
    bad_seed = df.index[seeds.isna() | (seeds != seeds.round())]
    if len(bad_seed):
        raise ValueError(f"{source}: column 'seed' must hold integers; bad value(s) in row(s) {_rows(bad_seed)}")
    df["seed"] = seeds.astype(int)
    for column in ("val_ua", "test_ua"):
        values = pd.to_numeric(df[column], errors="coerce")
        bad = df.index[values.isna()]
        if len(bad):
            raise ValueError(
                f"{source}: column {column!r} must be a number for every finished trial; "
                f"missing or non-numeric in row(s) {_rows(bad)}"
            )
        out_of_range = df.index[(values < 0) | (values > 1)]
        if len(out_of_range):
            raise ValueError(
                f"{source}: column {column!r} must hold UA as a fraction in [0, 1] (not percent); "
                f"out of range in row(s) {_rows(out_of_range)}, e.g. {values[out_of_range[0]]!r}"
            )
        df[column] = values.astype(float)
    duplicated = df.duplicated(subset=[*GROUP_KEYS, "config_id", "seed"], keep=False)
    if duplicated.any():
        first = df[duplicated].iloc[0]
        key = ", ".join(f"{k}={first[k]}" for k in (*GROUP_KEYS, "config_id", "seed"))
        raise ValueError(
            f"{source}: trial listed more than once ({key}; row(s) {_rows(df.index[duplicated])}); "
            "each (features, protocol, method, held_out, config_id, seed) must appear once"
        )
    return df


def parse_results_csv(csv: "str | PathLike[str] | IO[bytes]") -> pd.DataFrame:
    """Parse a results table as the sweep writes it: id-like columns stay text, only empty cells are missing."""
    return pd.read_csv(csv, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""])


def read_results(path: str | PathLike[str]) -> pd.DataFrame:
    """Read and validate ``results.csv`` (``path`` may also be the spec folder that holds it)."""
    target = Path(path)
    if target.is_dir():
        target = target / "results.csv"
    if not target.is_file():
        raise FileNotFoundError(f"results table not found: {target} (expected <storage>/<spec_id>/results.csv)")
    return validate_results(parse_results_csv(target), source=str(target))


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
    """The per-seed trial rows of the configurations chosen by :func:`select_configs`."""
    df = validate_results(results)
    chosen = select_configs(df, selection)[[*GROUP_KEYS, "config_id"]]
    return df.merge(chosen, on=[*GROUP_KEYS, "config_id"], how="inner").sort_values([*GROUP_KEYS, "seed"]).reset_index(
        drop=True
    )


def _rows(index: pd.Index, limit: int = 5) -> str:
    """Comma-separated row numbers (at most ``limit``, then an ellipsis) for error messages."""
    shown = ", ".join(str(i) for i in list(index)[:limit])
    return shown + (", ..." if len(index) > limit else "")
