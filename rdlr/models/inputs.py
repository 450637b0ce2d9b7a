"""What to predict: audio files, folders (searched recursively for audio) and manifest CSVs, as utterance records.

Each record is a dict with ``path``, ``utt_id`` (the manifest's, else the file name without its suffix) and, where
a manifest has one, ``transcript`` (used by the ``bert`` feature set when the model transcribes with no Whisper) and
``speaker`` (per-speaker normalisation; else from file names: :func:`speakers_from_names`). A manifest with a
``label`` column also gives ``emotion`` (the label in the vocabulary's spelling, :mod:`rdlr.corpora.csv_manifest`;
"" when empty; ``None`` for a record not from such a manifest), ``corpus`` (its ``corpus`` column, else the manifest
file's name) and ``manifest`` (the file), which :mod:`rdlr.models.scoring` scores predictions against.
A folder holding no audio becomes one record with an ``error``; missing or unreadable files are found when their
audio is read, so every input shows up in the predictions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import soundfile as sf

from rdlr.corpora import ManifestError
from rdlr.corpora.csv_manifest import LABEL_ALIASES

MANIFEST_SUFFIX = ".csv"
NO_AUDIO = "no audio files in folder"

Inputs = str | os.PathLike | pd.DataFrame | Iterable[str | os.PathLike]


def audio_suffixes() -> frozenset[str]:
    """File suffixes of the formats the installed libsndfile reads (what ``rdlr extract`` reads), e.g. ``.wav``."""
    names = {name.lower() for name in sf.available_formats()} - {"raw"}
    return frozenset({f".{name}" for name in names} | {".aif", ".oga", ".opus"})


def record(
    path: str | os.PathLike[str], utt_id: str = "", transcript: str | None = None, speaker: str = ""
) -> dict[str, Any]:
    """One utterance to predict; ``utt_id`` defaults to the file name without its suffix; ``speaker`` ("" when
    unknown) is used by per-speaker normalisation; no emotion (:func:`manifest_records` sets one)."""
    return {
        "path": str(path),
        "utt_id": utt_id or Path(path).stem,
        "transcript": transcript,
        "speaker": speaker,
        "error": "",
        "emotion": None,
        "corpus": "",
        "manifest": "",
    }


def speakers_from_names(records: list[dict[str, Any]], pattern: str) -> None:
    r"""Set each record's ``speaker`` from its file name: the first group of the regular expression ``pattern``
    (the whole match when it has no group; "" where it does not match), e.g. ``^(\d\d)`` for EmoDB's
    ``03a01Fa.wav``. A pattern that is not a regular expression is a ``ValueError`` naming it."""
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"--speaker-from {pattern!r}: not a regular expression ({error})") from None
    for item in records:
        found = regex.search(Path(item["path"]).name)
        item["speaker"] = "" if found is None else (found.group(1) if regex.groups else found.group(0)) or ""


def manifest_records(frame: pd.DataFrame, source: str | Path) -> list[dict[str, Any]]:
    """Records of a manifest table: needs ``path``; ``utt_id``, ``transcript``, ``speaker``, ``label`` and
    ``corpus`` are used when present.
    Relative paths resolve against the manifest's folder (``source``'s parent) as in :mod:`rdlr.corpora`."""
    if "path" not in frame.columns:
        raise ManifestError(f"{source}: a manifest to predict needs a 'path' column; it has {list(frame.columns)}")
    if frame.empty:
        raise ManifestError(f"{source}: the manifest has no rows; list one audio file per row under 'path'")
    base = Path(source).parent if isinstance(source, Path) else Path.cwd()
    labeled = "label" in frame.columns
    records = []
    for row in frame.to_dict("records"):
        path = str(row["path"]).strip()
        if not path:
            raise ManifestError(f"{source}: empty 'path' cell (utt_id {row.get('utt_id', '?')!r}); fill every path")
        full = Path(path).expanduser()
        text = row.get("transcript")
        item = record(
            full if full.is_absolute() else (base / full).resolve(),
            str(row.get("utt_id", "")),
            text if isinstance(text, str) and text.strip() else None,
            _text(row.get("speaker")),
        )
        if labeled:
            emotion = _text(row.get("label")).lower()
            corpus = _text(row.get("corpus")) or (Path(source).stem if isinstance(source, Path) else str(source))
            item.update(emotion=LABEL_ALIASES.get(emotion, emotion), corpus=corpus, manifest=str(source))
        records.append(item)
    return records


def _text(value: Any) -> str:
    """A manifest cell as stripped text ("" when empty or missing)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def read_manifest_records(path: Path) -> list[dict[str, Any]]:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: not a readable CSV manifest ({error})") from None
    return manifest_records(frame, path.resolve())


def folder_records(folder: Path) -> list[dict[str, Any]]:
    suffixes = audio_suffixes()
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    if not files:
        return [{**record(folder.resolve()), "error": f"{NO_AUDIO} ({', '.join(sorted(suffixes))})"}]
    return [record(p.resolve()) for p in files]


def collect(inputs: Inputs) -> list[dict[str, Any]]:
    """Records for ``inputs``: a path, a manifest DataFrame, or an iterable of paths (files, folders, CSVs)."""
    if isinstance(inputs, pd.DataFrame):
        return manifest_records(inputs, "manifest DataFrame")
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not items:
        raise ValueError("nothing to predict: give audio files, folders or manifest CSVs")
    records: list[dict[str, Any]] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            records.extend(folder_records(path))
        elif path.suffix.lower() == MANIFEST_SUFFIX and path.is_file():
            records.extend(read_manifest_records(path))
        else:
            records.append(record(path.resolve() if path.exists() else path))
    return records
