"""Compare what a loader found with the counts a corpus documents (the paper's Table 1, corpus papers).

A mismatch is not an error — a partial download, a different corpus release or a small test tree all
differ — but it is reported with :func:`warnings.warn` (:class:`CorpusCountWarning`) and kept in
``df.attrs["count_warnings"]`` so ``rdlr prepare`` can print it. The documented counts themselves are kept in
``df.attrs["documented"]`` so the summary shows what was found against what was expected.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from rdlr.corpora.manifest import class_counts


class CorpusCountWarning(UserWarning):
    """The utterance/speaker counts found differ from the documented ones."""


@dataclass(frozen=True)
class ExpectedCounts:
    """Documented counts of a corpus: speakers, labeled utterances per class, total utterances, audio files.

    ``None`` means "not documented"; ``classes`` (utterances per emotion of :data:`rdlr.labels.VOCABULARY`) may
    name only some of the corpus' emotions. ``total`` counts the
    manifest's rows; ``files`` counts every audio file the loader read, of any emotion (rows + excluded +
    dropped), so a missing file of an excluded emotion is noticed too.
    """

    source: str
    speakers: int | None = None
    classes: dict[str, int] = field(default_factory=dict)
    total: int | None = None
    files: int | None = None

    def describe(self) -> str:
        """``"24 speakers; neutral 96  happy 192 ...; 1440 audio files (every emotion) [source]"``: one line."""
        parts = []
        if self.speakers is not None:
            parts.append(f"{self.speakers} speakers")
        if self.classes:
            parts.append("  ".join(f"{name} {count}" for name, count in self.classes.items()))
        if self.total is not None:
            parts.append(f"{self.total} utterances")
        if self.files is not None:
            parts.append(f"{self.files} audio files (every emotion)")
        return "; ".join(parts) + f" [{self.source}]"


def _difference(what: str, found: int, documented: int) -> str:
    return f"{what} {found} (documented {documented}, {found - documented:+d})"


def files_read(df: pd.DataFrame) -> int:
    """Audio files a loader read: the manifest's rows plus the excluded and dropped utterances (``df.attrs``)."""
    excluded = sum(df.attrs.get("excluded", {}).values())
    dropped = sum(df.attrs.get("dropped", {}).values())
    return len(df) + int(excluded) + int(dropped)


def count_mismatches(df: pd.DataFrame, expected: ExpectedCounts) -> list[str]:
    """One message per count of ``df`` that differs from ``expected``; empty when all match."""
    messages: list[str] = []
    if expected.total is not None and len(df) != expected.total:
        messages.append(_difference("utterances", len(df), expected.total))
    if expected.files is not None and files_read(df) != expected.files:
        messages.append(_difference("audio files", files_read(df), expected.files))
    if expected.speakers is not None:
        speakers = int(df["speaker"].nunique())
        if speakers != expected.speakers:
            messages.append(_difference("speakers", speakers, expected.speakers))
    found = class_counts(df[df["label"] != ""])
    for name, documented in expected.classes.items():
        if found.get(name, 0) != documented:
            messages.append(_difference(name, found.get(name, 0), documented))
    return messages


def report_mismatches(df: pd.DataFrame, messages: list[str]) -> None:
    """One warning listing ``messages``; each is appended to ``df.attrs["count_warnings"]``."""
    if not messages:
        return
    warnings.warn("; ".join(messages), CorpusCountWarning, stacklevel=4)
    df.attrs["count_warnings"] = list(df.attrs.get("count_warnings", [])) + messages


def check_counts(df: pd.DataFrame, corpus: str, expected: ExpectedCounts) -> pd.DataFrame:
    """Warn (once) about the counts of ``df`` that differ from ``expected``; records them in ``df.attrs``."""
    df.attrs["documented"] = list(df.attrs.get("documented", [])) + [f"{corpus}: {expected.describe()}"]
    report_mismatches(df, [f"{corpus}: {message} [{expected.source}]" for message in count_mismatches(df, expected)])
    return df
