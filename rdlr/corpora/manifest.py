"""The one manifest schema shared by every corpus, and the builder each loader fills.

A manifest is a :class:`pandas.DataFrame` with one row per utterance:

* required: ``utt_id`` (unique), ``path`` (absolute audio path), ``corpus``, ``speaker``, ``label``
  (the corpus' own emotion: a corpus loader writes a name of :data:`rdlr.labels.VOCABULARY`, a CSV manifest any
  label; ``""`` for unlabeled corpora such as LibriSpeech);
* optional (always present in loader output, empty when a corpus has no such information):
  ``session``, ``partition`` (train/val/test), ``gender`` (F/M), ``transcript`` and the vote counts
  ``votes_neutral``, ``votes_happy``, ``votes_sad``, ``votes_angry`` (float, NaN when absent); a corpus whose
  annotators chose among more emotions adds ``votes_<emotion>`` columns (e.g. IEMOCAP's ``votes_excited``).

Which emotions an experiment uses is decided later (:class:`rdlr.labels.LabelSet`), so a manifest keeps every
labeled utterance. Loaders never drop utterances silently: utterances without an emotion (IEMOCAP's ``xxx``, no
agreement) are counted per raw label in ``df.attrs["excluded"]``; utterances dropped for another reason (no audio
file, empty or truncated audio file, unparsable name) are counted in ``df.attrs["dropped"]`` and reported with
:func:`warnings.warn`.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.corpora.audio_files import DIRECTORY, EMPTY, MISSING, NOT_REGULAR, TRUNCATED, audio_file_problem
from rdlr.labels import VOCABULARY, VOTE_COLUMNS, VOTE_PREFIX

REQUIRED_COLUMNS: tuple[str, ...] = ("utt_id", "path", "corpus", "speaker", "label")
TEXT_COLUMNS: tuple[str, ...] = ("session", "partition", "gender", "transcript")
OPTIONAL_COLUMNS: tuple[str, ...] = TEXT_COLUMNS + VOTE_COLUMNS
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
PARTITIONS: tuple[str, ...] = ("train", "val", "test")
DROP_REASONS: dict[str, str] = {
    MISSING: "missing audio file",
    DIRECTORY: "audio path is a directory",
    NOT_REGULAR: "audio path is not a regular file",
    EMPTY: "empty audio file",
    TRUNCATED: "truncated audio file",
}
SHOW_FIRST = 5


class ManifestError(ValueError):
    """A manifest or corpus folder that cannot be turned into a valid manifest (the message says why)."""


class CorpusDataWarning(UserWarning):
    """Utterances dropped while reading a corpus (missing or empty audio, unparsable names)."""


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every standard column present (filled empty), in the standard order, extras last.

    Text columns become ``str`` with ``""`` for missing values; vote columns become float.
    """
    out = df.copy()
    for name in REQUIRED_COLUMNS + TEXT_COLUMNS:
        if name not in out.columns:
            out[name] = ""
        out[name] = out[name].fillna("").astype(str)
    for name in VOTE_COLUMNS:
        if name not in out.columns:
            out[name] = np.nan
    for name in [column for column in out.columns if column.startswith(VOTE_PREFIX)]:
        out[name] = pd.to_numeric(out[name], errors="raise").astype(float)
    extras = [name for name in out.columns if name not in COLUMNS]
    out = out[list(COLUMNS) + extras]
    out.attrs = dict(df.attrs)
    return out


def format_list(items: Iterable[object], limit: int = SHOW_FIRST) -> str:
    """``"a, b, c (and 7 more)"``: the first ``limit`` items of a list for an error message."""
    items = list(items)
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def value_report(values: pd.Series, bad: pd.Series, first_line: int | None = None) -> str:
    """``'fear' (12 rows, first at line 5), 'x' (1 row, first at line 9)``: the values of ``values`` where ``bad``
    holds, most frequent first; ``first_line`` (the file line of row 0, e.g. 2 under a CSV header) adds where
    each first occurs."""
    flags = bad.to_numpy(dtype=bool)
    cells = values.to_numpy(dtype=object)
    parts = []
    for value, count in Counter(cells[flags]).most_common():
        where = ""
        if first_line is not None:
            where = f", first at line {first_line + int(np.flatnonzero(flags & (cells == value))[0])}"
        parts.append(f"{value!r} ({count} row{'s' if count > 1 else ''}{where})")
    return format_list(parts)


def check_unique_ids(df: pd.DataFrame, source: object, first_line: int | None = None) -> None:
    """Raise :class:`ManifestError` naming ``source`` and the repeated values unless every ``utt_id`` of ``df`` is
    unique (the one check every reader of manifests uses; ``first_line`` as in :func:`value_report`)."""
    duplicated = df["utt_id"].duplicated(keep=False)
    if duplicated.any():
        repeated = value_report(df["utt_id"], duplicated, first_line)
        raise ManifestError(f"{source}: duplicate utt_id value(s) {repeated}; utt_id must be unique")


def _audio_problem(path: str) -> str | None:
    """Why the audio file at ``path`` cannot be used (a drop reason), or ``None`` when it looks usable."""
    problem = audio_file_problem(path)
    return DROP_REASONS[problem.kind] if problem is not None else None


class ManifestBuilder:
    """Collects the rows of one corpus, the excluded labels and the dropped utterances.

    Loaders call :meth:`add` for every labeled utterance (its emotion a name of :data:`rdlr.labels.VOCABULARY`) or
    unlabeled one, :meth:`exclude` for utterances without an emotion (no agreement) and :meth:`drop` for unusable
    ones, then :meth:`build`. ``other_emotions`` names the excluded codes in words (IEMOCAP ``xxx`` → no
    agreement), so that the summary says what was left out.
    """

    def __init__(self, corpus: str, other_emotions: Mapping[str, str] | None = None) -> None:
        self.corpus = corpus
        self.other_emotions = dict(other_emotions or {})
        self.rows: list[dict[str, object]] = []
        self.excluded: Counter[str] = Counter()
        self.dropped: dict[str, list[str]] = {}

    def add(self, *, utt_id: str, path: str | Path, speaker: str, label: str, **optional: object) -> None:
        """One utterance; ``label`` must be a name of :data:`rdlr.labels.VOCABULARY` or ``""``."""
        if label and label not in VOCABULARY:
            raise ManifestError(
                f"{self.corpus}: internal label {label!r} for {utt_id} is not in the vocabulary {', '.join(VOCABULARY)}"
            )
        row: dict[str, object] = {
            "utt_id": utt_id,
            "path": str(path),
            "corpus": self.corpus,
            "speaker": speaker,
            "label": label,
        }
        row.update(optional)
        self.rows.append(row)

    def exclude(self, raw_label: str) -> None:
        """Count one utterance without an emotion (e.g. no agreement among the annotators)."""
        self.excluded[str(raw_label)] += 1

    def drop(self, reason: str, name: str) -> None:
        """Record one utterance dropped for ``reason`` (named in the warning and ``attrs["dropped"]``)."""
        self.dropped.setdefault(reason, []).append(name)

    def parse_name(self, pattern: re.Pattern[str], stem: str, layout: str, shown: str) -> re.Match[str] | None:
        """``pattern.match(stem)``; when the name does not match, the file is dropped as not named ``layout``."""
        match = pattern.match(stem)
        if match is None:
            self.drop(f"file name not {layout}", shown)
        return match

    def label_of(self, code: str, emotions: Mapping[str, str], shown: str | None = None) -> str | None:
        """The vocabulary emotion ``code`` maps to in ``emotions``; an unmapped code is counted as excluded (under
        ``shown`` when given) and gives ``None``."""
        label = emotions.get(code)
        if label is None:
            self.exclude(code if shown is None else shown)
        return label

    def build(self, check_audio: bool = True) -> pd.DataFrame:
        """The manifest, sorted by ``utt_id``; warns once per drop reason.

        With ``check_audio`` every path is checked (:func:`rdlr.corpora.audio_files.audio_file_problem`):
        missing files, directories, empty files (0 bytes or a WAV header only) and truncated WAVs are dropped
        and reported.
        """
        rows = self.rows
        if check_audio:
            kept = []
            for row in rows:
                problem = _audio_problem(str(row["path"]))
                if problem is None:
                    kept.append(row)
                else:
                    self.drop(problem, str(row["path"]))
            rows = kept
        df = pd.DataFrame(rows) if rows else pd.DataFrame({name: [] for name in COLUMNS})
        df = conform(df).sort_values("utt_id", kind="stable").reset_index(drop=True)
        check_unique_ids(df, self.corpus)
        for reason, names in self.dropped.items():
            warnings.warn(
                f"{self.corpus}: dropped {len(names)} utterance(s), {reason}: {format_list(names)}",
                CorpusDataWarning,
                stacklevel=3,
            )
        df.attrs["excluded"] = dict(sorted(self.excluded.items()))
        df.attrs["excluded_emotions"] = {
            code: self.other_emotions[code] for code in sorted(self.excluded) if code in self.other_emotions
        }
        df.attrs["dropped"] = {reason: len(names) for reason, names in sorted(self.dropped.items())}
        df.attrs["count_warnings"] = []
        return df


def class_counts(df: pd.DataFrame) -> dict[str, int]:
    """Rows per emotion among labeled rows: the vocabulary's emotions present in its order, then any other label
    (CSV manifests) in order of name."""
    counts = df.loc[df["label"] != "", "label"].value_counts()
    names = [name for name in VOCABULARY if name in counts] + sorted(
        str(n) for n in counts.index if n not in VOCABULARY
    )
    return {name: int(counts[name]) for name in names}


def summarize(df: pd.DataFrame) -> str:
    """A human-readable summary: rows, speakers and classes per corpus, excluded labels, drops, the documented
    counts and every difference from them."""
    lines: list[str] = []
    for corpus, part in df.groupby("corpus", sort=True):
        labeled = part[part["label"] != ""]
        lines.append(f"{corpus}: {len(part)} utterances, {part['speaker'].nunique()} speakers")
        if len(labeled):
            lines.append("  " + "  ".join(f"{name} {count}" for name, count in class_counts(labeled).items()))
        if len(labeled) < len(part):
            lines.append(f"  unlabeled {len(part) - len(labeled)}")
        if "partition" in part.columns and (part["partition"] != "").any():
            counts = part["partition"].value_counts()
            lines.append("  partitions: " + ", ".join(f"{p} {int(counts.get(p, 0))}" for p in PARTITIONS))
    lines.append(excluded_line(df.attrs.get("excluded", {}), df.attrs.get("excluded_emotions", {})))
    dropped: Mapping[str, int] = df.attrs.get("dropped", {})
    if dropped:
        lines.append("dropped: " + ", ".join(f"{reason} {count}" for reason, count in dropped.items()))
    for line in df.attrs.get("documented", []):
        lines.append(f"documented: {line}")
    warnings_found = df.attrs.get("count_warnings", [])
    for message in warnings_found:
        lines.append(f"count check: {message}")
    if df.attrs.get("documented") and not warnings_found:
        lines.append("count check: every documented count matches")
    return "\n".join(lines)


def excluded_line(excluded: Mapping[str, int], emotions: Mapping[str, str]) -> str:
    """The summary's line of utterances left out without an emotion, each count with its meaning in words and the
    corpus's own code (``2,507 no agreement (xxx)``; a code without a name as it is)."""

    def item(code: str, count: int) -> str:
        name = emotions.get(code, code)
        return f"{count:,} {name}" + (f" ({code})" if name.lower() != code.lower() else "")

    items = ", ".join(item(code, count) for code, count in excluded.items())
    return f"left out (no emotion): {items or 'none'}"


def write_manifest(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as a manifest CSV (standard columns first, NaN votes as empty cells); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conform(df).to_csv(path, index=False)
    return path
