"""Read and validate a manifest CSV — any corpus, described by the schema of :mod:`rdlr.corpora.manifest`.

Every problem raises :class:`ManifestError` naming the file, the column, the offending values (first few,
with their line numbers) and what to do. Relative ``path`` cells resolve against the CSV's folder.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.corpora.audio_files import DIRECTORY, EMPTY, MISSING, NOT_REGULAR, TRUNCATED, audio_file_problem
from rdlr.corpora.manifest import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ManifestError,
    check_unique_ids,
    conform,
    format_list,
    value_report,
)
from rdlr.corpora.text_files import read_csv_text
from rdlr.features.store import check_name
from rdlr.labels import VOCABULARY, VOTE_PREFIX

LABEL_ALIASES: dict[str, str] = {
    **{name: name for name in VOCABULARY},
    "neu": "neutral", "hap": "happy", "happiness": "happy", "sadness": "sad", "ang": "angry", "anger": "angry",
    "fearful": "fear", "fea": "fear", "disgusted": "disgust", "dis": "disgust", "surprised": "surprise",
    "sur": "surprise", "bored": "boredom", "boredom": "boredom", "exc": "excited", "excitement": "excited",
    "fru": "frustrated", "frustration": "frustrated", "oth": "other",
}  # fmt: skip
GENDER_ALIASES: dict[str, str] = {"f": "F", "female": "F", "m": "M", "male": "M"}
PARTITION_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "development": "val",
    "test": "test",
}
OTHER_LABEL_POLICIES = ("keep", "error", "exclude")  # labels outside rdlr.labels.VOCABULARY
TEXT_CELLS = ("utt_id", "path", "corpus", "speaker", "label", "session", "partition", "gender")
FIRST_ROW_LINE = 2  # the CSV line of the first row, under the header
# Cells that spreadsheets and pandas write for a missing value: as a speaker ID each would be one "speaker".
MISSING_VALUE_MARKERS = frozenset({"nan", "-nan", "na", "n/a", "#n/a", "#na", "<na>", "nat", "null", "none"})
# How _resolve_paths describes each kind of unusable audio path (after "N audio file(s) listed in column 'path'").
_PATH_PROBLEMS = {
    MISSING: "do not exist",
    DIRECTORY: "are directories, not audio files",
    NOT_REGULAR: "are not regular files",
    EMPTY: "are empty (0 bytes, or a WAV header without samples)",
    TRUNCATED: "are truncated (the WAV header claims more sample frames than the file holds)",
}


def _lines(mask: pd.Series) -> list[int]:
    """CSV line numbers (header = line 1) of the rows where ``mask`` holds."""
    return [int(i) + FIRST_ROW_LINE for i in np.flatnonzero(mask.to_numpy())]


def _value_report(values: pd.Series, bad: pd.Series) -> str:
    """``'fear' (12 rows, first at line 5), 'x' (1 row, first at line 9)`` for the bad cells of a column."""
    return value_report(values, bad, FIRST_ROW_LINE)


def _normalise(df: pd.DataFrame, column: str, aliases: dict[str, str], source: Path, valid: str) -> None:
    """Map ``column`` through ``aliases`` (case-insensitive; empty stays empty) or fail naming the bad values."""
    if column not in df.columns:
        return
    lowered = df[column].str.lower()
    bad = (lowered != "") & ~lowered.isin(list(aliases))
    if bad.any():
        raise ManifestError(
            f"{source}: column {column!r} has value(s) {_value_report(df[column], bad)}; "
            f"use one of {valid} or leave the cell empty"
        )
    df[column] = lowered.map(lambda value: aliases.get(value, ""))


def _check_votes(df: pd.DataFrame, source: Path) -> None:
    for column in [name for name in df.columns if name.startswith(VOTE_PREFIX)]:
        numbers = pd.to_numeric(df[column].replace("", np.nan), errors="coerce")
        bad = (df[column] != "") & (numbers.isna() | (numbers < 0))
        if bad.any():
            raise ManifestError(
                f"{source}: column {column!r} must hold non-negative vote counts (or be empty); "
                f"found {_value_report(df[column], bad)}"
            )
        df[column] = numbers.astype(float)


def _resolve_paths(df: pd.DataFrame, source: Path, check_files: bool) -> None:
    base = source.parent
    df["path"] = [str(path) if Path(path).is_absolute() else str((base / path).resolve()) for path in df["path"]]
    if not check_files:
        return
    unusable: dict[str, list[str]] = {}
    for path in df["path"]:
        problem = audio_file_problem(path)
        if problem is not None:
            unusable.setdefault(problem.kind, []).append(f"{path} ({problem.detail})" if problem.detail else path)
    if unusable:
        listed = "; ".join(
            f"{len(paths)} audio file(s) listed in column 'path' {_PATH_PROBLEMS[kind]}: {format_list(paths)}"
            for kind, paths in unusable.items()
        )
        raise ManifestError(
            f"{source}: {listed}; fix the paths (relative paths resolve against {base}) or regenerate the manifest"
        )


def _check_corpus_names(df: pd.DataFrame, source: Path) -> None:
    """Corpus names must be usable as feature-store folders: the rule of ``rdlr extract`` (``check_name``)."""
    refusals: dict[str, str] = {}
    for name in df["corpus"].unique():
        try:
            check_name("corpus", name)
        except ValueError as error:
            refusals[name] = str(error)
    if refusals:
        bad = df["corpus"].isin(list(refusals))
        raise ManifestError(
            f"{source}: column 'corpus' has value(s) {_value_report(df['corpus'], bad)}: "
            f"{next(iter(refusals.values()))}"
        )


def _check_speakers(df: pd.DataFrame, source: Path) -> None:
    markers = df["speaker"].str.lower().isin(MISSING_VALUE_MARKERS)
    if markers.any():
        raise ManifestError(
            f"{source}: column 'speaker' has missing-value marker(s) {_value_report(df['speaker'], markers)}, "
            "each of which would count as one speaker; give every utterance its speaker ID (when it is unknown, "
            "one that no other utterance shares, such as the utt_id)"
        )


def _numeric_extras(df: pd.DataFrame) -> pd.DataFrame:
    """Extra (non-schema) columns whose non-empty cells are all numbers become float (e.g. ``reliability``)."""
    for column in df.columns[len(COLUMNS) :]:
        cells = df[column].astype(str).str.strip()
        numbers = pd.to_numeric(cells.replace("", np.nan), errors="coerce")
        if (cells != "").any() and not (numbers.isna() & (cells != "")).any():
            df[column] = numbers.astype(float)
    return df


def validate_manifest(
    df: pd.DataFrame, source: str | Path, check_files: bool = True, other_labels: str = "keep"
) -> pd.DataFrame:
    """A validated, normalised copy of a raw manifest table (all cells strings) read from ``source``.

    Labels are lower-cased, common spellings becoming the vocabulary's names (``Anger`` → angry, ``fearful`` →
    fear: :data:`LABEL_ALIASES`); any other label is kept as it is (``other_labels="keep"``, the default: an
    experiment's ``labels`` / ``label_map`` decide what it is), raises (``"error"``) or is dropped and counted in
    ``attrs["excluded"]`` (``"exclude"``).
    """
    source = Path(source)
    if other_labels not in OTHER_LABEL_POLICIES:
        raise ManifestError(f"unknown other_labels {other_labels!r}; valid: {', '.join(OTHER_LABEL_POLICIES)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in df.columns]
    if missing:
        raise ManifestError(
            f"{source}: missing required column(s) {missing}; found {list(df.columns)}. "
            f"A manifest needs {', '.join(REQUIRED_COLUMNS)} (label empty for unlabeled utterances)"
        )
    if df.empty:
        raise ManifestError(f"{source}: no rows, only a header; a manifest lists one utterance per row")
    df = df.copy()
    for column in TEXT_CELLS:
        if column in df.columns:
            df[column] = df[column].astype(str).str.strip()
    for column in ("utt_id", "path", "corpus", "speaker"):
        empty = df[column] == ""
        if empty.any():
            raise ManifestError(f"{source}: empty {column!r} at line(s) {format_list(_lines(empty))}; fill every cell")
    _check_corpus_names(df, source)
    _check_speakers(df, source)
    check_unique_ids(df, source, FIRST_ROW_LINE)
    lowered = df["label"].str.lower()
    other = (lowered != "") & ~lowered.isin(list(LABEL_ALIASES))
    excluded: dict[str, int] = {}
    if other.any() and other_labels == "error":
        raise ManifestError(
            f"{source}: column 'label' has value(s) outside the vocabulary {', '.join(VOCABULARY)}: "
            f"{_value_report(df['label'], other)}. Use one of those emotions, or an empty cell for unlabeled "
            "utterances; to leave out the rows of other labels instead, pass other_labels='exclude' (rdlr prepare "
            "csv --exclude-other-labels), or keep them (the default)"
        )
    if other.any() and other_labels == "exclude":
        excluded = dict(sorted(Counter(df.loc[other, "label"]).items()))
        df = df[~other].reset_index(drop=True)
        lowered = df["label"].str.lower()
    df["label"] = lowered.map(lambda value: LABEL_ALIASES.get(value, value))
    _normalise(df, "gender", GENDER_ALIASES, source, "F, M")
    _normalise(df, "partition", PARTITION_ALIASES, source, "train, val, test")
    _check_votes(df, source)
    _resolve_paths(df, source, check_files)
    out = _numeric_extras(conform(df))
    out.attrs["excluded"] = excluded
    out.attrs["dropped"] = {}
    return out


def read_manifest(path: str | Path, check_files: bool = True, other_labels: str = "keep") -> pd.DataFrame:
    """Read and validate the manifest CSV at ``path`` (see :func:`validate_manifest`)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    try:
        raw = read_csv_text(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: not a readable CSV manifest ({error})") from None
    df = validate_manifest(raw, path, check_files=check_files, other_labels=other_labels)
    df.attrs["source"] = str(path)
    return df


def load(root: str | Path, check_files: bool = True, other_labels: str = "keep") -> pd.DataFrame:
    """``load_corpus("csv", root)``: ``root`` is the manifest CSV itself."""
    return read_manifest(root, check_files=check_files, other_labels=other_labels)
