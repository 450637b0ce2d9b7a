"""The results table: one row per finished trial, written by ``rdlr sweep`` as ``<storage>/<spec_id>/results.csv`` and
read by the report, the sweep's resume logic and ``rdlr export``. This module is its one contract: the file name,
the column order and types, the trial key, and parsing/validation.

A trial is identified by :data:`TRIAL_KEY` within a spec: (features, protocol, method, held_out) name the job (the
cell of a table), ``config_id`` the searched hyperparameters, ``seed`` the repetition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import IO, Any

import pandas as pd

from rdlr.corpora.splits import PROTOCOLS
from rdlr.labels import CLASSES
from rdlr.normalization import DEFAULT_NORMALIZATION, NORMALIZATIONS

RESULTS_FILE = "results.csv"
GIVEN_SPEC_FILE = "spec.given.yaml"  # beside results.csv: the spec file's text as the user wrote it
SPEC_FILE = "spec.yaml"  # beside results.csv: the spec as run
RESOLVED_KEY = "resolved"  # spec.yaml = the spec's keys + what this run resolved (paths, resources, versions)
NORMALIZATION = "normalization"  # the inputs' z-normalisation (rdlr.normalization); "train" where a table lacks it
CELL_KEYS: tuple[str, ...] = ("features", "protocol", "method", "held_out")  # a table cell
GROUP_KEYS: tuple[str, ...] = ("features", NORMALIZATION, "protocol", "method", "held_out")  # one job
TRIAL_KEY: tuple[str, ...] = (*GROUP_KEYS, "config_id", "seed")  # one trial within a spec
REQUIRED_COLUMNS: tuple[str, ...] = (*CELL_KEYS, "seed", "config_id", "val_ua", "test_ua")
SPEAKER_COUNT_COLUMNS: tuple[str, ...] = (
    "norm_speakers",  # speakers with statistics of their own under per-speaker normalisation
    "norm_fallback_speakers",  # speakers below rdlr.normalization.MIN_SPEAKER_UTTERANCES: their corpus' statistics
    "norm_fallback_rows",  # utterances normalised with their corpus' statistics (small speakers, no speaker)
)
TEXT_COLUMNS: tuple[str, ...] = (
    *GROUP_KEYS,
    "config_id",
    "spec_id",
    "hparams",
    "confusion",
    "trial_id",
    "node",
    "host",
)
BASE_COLUMNS: tuple[str, ...] = (
    "spec_id",
    "protocol",
    "features",
    NORMALIZATION,
    "method",
    "held_out",
    "seed",
    "config_id",
    "hparams",
    "val_ua",
)
TAIL_COLUMNS: tuple[str, ...] = (
    "test_wa",
    "confusion",
    "epochs",
    "best_epoch",
    "stage1_epochs",  # a two-stage method's stage-1 model (trained or cached); the plan's epochs (rdlr.sweep.epochs)
    "train_rows",
    "wall_time_s",
    "cpu_time_s",
    *SPEAKER_COUNT_COLUMNS,
    "trial_id",
    "node",
    "host",  # where the trial ran: the Ray node id and the machine's host name
)


def config_id(hparams: Mapping[str, Any]) -> str:
    """Short hash of the searched hyperparameters (the results table's ``config_id``)."""
    text = json.dumps(dict(hparams), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def trial_key(row: Mapping[str, Any]) -> str:
    """Identity of one result row: ``spec_id`` plus the :data:`TRIAL_KEY` columns of ``row``, hashed. The
    normalisation enters the hash only when it is not the paper's ``train``, so the rows of sweeps written before
    it existed keep their keys (and resume)."""
    values = [str(row["spec_id"]), *(str(row[k]) for k in (*CELL_KEYS, "config_id")), int(row["seed"])]
    normalization = normalization_of(row)
    if normalization != DEFAULT_NORMALIZATION:
        values.append(normalization)
    return hashlib.sha1(json.dumps(values).encode()).hexdigest()[:20]


def normalization_of(row: Mapping[str, Any]) -> str:
    """A row's normalisation: ``train`` where it has none (rows written before the column existed)."""
    value = row.get(NORMALIZATION)
    return DEFAULT_NORMALIZATION if value is None or pd.isna(value) or str(value).strip() == "" else str(value)


def results_frame(rows: list[Mapping[str, Any]], classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """The results table: fixed columns first, then ``val_ua/<corpus>``, ``test_ua``, ``test_ua/<corpus>``, macro-F1
    (``val_f1``, ``test_f1``) and per-class recall (``val_recall/<class>``, ``test_recall/<class>``, in the order of
    ``classes``, the sweep's class set)."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=[*BASE_COLUMNS, "test_ua", *TAIL_COLUMNS])
    frame[NORMALIZATION] = [normalization_of(row) for row in frame.to_dict(orient="records")]
    val = sorted(c for c in frame.columns if c.startswith("val_ua/"))
    test = sorted(c for c in frame.columns if c.startswith("test_ua/"))
    recall = [f"{role}_recall/{name}" for role in ("val", "test") for name in classes]
    order = [*BASE_COLUMNS, *val, "test_ua", *test, "val_f1", "test_f1", *recall, *TAIL_COLUMNS]
    columns = [c for c in order if c in frame.columns] + sorted(c for c in frame.columns if c not in order)
    frame = frame[columns]
    return frame.sort_values(
        ["features", NORMALIZATION, "protocol", "method", "held_out", "config_id", "seed"], kind="mergesort"
    )


def result_classes(frame: pd.DataFrame) -> tuple[str, ...]:
    """The class set of a results table, in output order: the classes of its ``val_recall/<class>`` columns in the
    order the trials wrote them (:data:`rdlr.labels.CLASSES` for results without them, written before)."""
    names = [column.split("/", 1)[1] for column in frame.columns if column.startswith("val_recall/")]
    return tuple(dict.fromkeys(names)) or CLASSES


def parse_results_csv(csv: str | PathLike[str] | IO[bytes]) -> pd.DataFrame:
    """Parse a results table as the sweep writes it: id-like columns stay text, only empty cells are missing."""
    return pd.read_csv(csv, dtype=dict.fromkeys(TEXT_COLUMNS, str), keep_default_na=False, na_values=[""])


def read_results(path: str | PathLike[str]) -> pd.DataFrame:
    """Read and validate ``results.csv`` (``path`` may also be the spec folder that holds it)."""
    target = Path(path)
    if target.is_dir():
        target = target / RESULTS_FILE
    if not target.is_file():
        raise FileNotFoundError(f"results table not found: {target} (expected <storage>/<spec_id>/{RESULTS_FILE})")
    return validate_results(parse_results_csv(target), source=str(target))


def validate_results(results: pd.DataFrame, source: str = "results") -> pd.DataFrame:
    """Check a results table (one row per finished trial) and return a cleaned copy.

    Raises ``ValueError`` naming ``source`` and what is wrong: missing columns, non-numeric or out-of-range UA
    (UA must be a fraction in [0, 1]), unknown protocols or normalisations, non-integer seeds, or a trial listed
    twice. A table without a ``normalization`` column (written before it existed), or an empty cell, reads as
    ``train``.
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
    df[NORMALIZATION] = [normalization_of(row) for row in df.to_dict(orient="records")]
    bad_normalization = sorted(set(df[NORMALIZATION]) - set(NORMALIZATIONS))
    if bad_normalization:
        shown = ", ".join(map(repr, bad_normalization))
        raise ValueError(f"{source}: unknown normalization(s) {shown}; valid: {', '.join(NORMALIZATIONS)}")
    for column in TEXT_COLUMNS:
        if column in df.columns:
            df[column] = df[column].map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    for column in (*GROUP_KEYS, "config_id"):
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
        df[column] = _fractions(df[column], column, source)
    duplicated = df.duplicated(subset=list(TRIAL_KEY), keep=False)
    if duplicated.any():
        first = df[duplicated].iloc[0]
        key = ", ".join(f"{k}={first[k]}" for k in TRIAL_KEY)
        raise ValueError(
            f"{source}: trial listed more than once ({key}; row(s) {_rows(df.index[duplicated])}); "
            f"each ({', '.join(TRIAL_KEY)}) must appear once"
        )
    return df


def _fractions(column: pd.Series, name: str, source: str) -> pd.Series:
    """A UA column as floats in [0, 1], or a ``ValueError`` naming the bad rows."""
    values = pd.to_numeric(column, errors="coerce")
    bad = column.index[values.isna()]
    if len(bad):
        raise ValueError(
            f"{source}: column {name!r} must be a number for every finished trial; "
            f"missing or non-numeric in row(s) {_rows(bad)}"
        )
    out_of_range = column.index[(values < 0) | (values > 1)]
    if len(out_of_range):
        raise ValueError(
            f"{source}: column {name!r} must hold UA as a fraction in [0, 1] (not percent); "
            f"out of range in row(s) {_rows(out_of_range)}, e.g. {values[out_of_range[0]]!r}"
        )
    return values.astype(float)


def _rows(index: pd.Index, limit: int = 5) -> str:
    """Comma-separated row numbers (at most ``limit``, then an ellipsis) for error messages."""
    shown = ", ".join(str(i) for i in list(index)[:limit])
    return shown + (", ..." if len(index) > limit else "")
