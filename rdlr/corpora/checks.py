"""Compare what a loader found with the counts a corpus documents (the paper's Table 1, corpus papers).

A mismatch is not an error — a partial download, a different corpus release or a small test tree all
differ — but it is reported with :func:`warnings.warn` (:class:`CorpusCountWarning`) and kept in
``df.attrs["count_warnings"]`` so ``rdlr prepare`` can print it.
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
    """Documented counts of a corpus: speakers, labeled utterances per class, total utterances.

    ``None`` means "not documented"; ``classes`` may name only some of the four classes.
    """

    source: str
    speakers: int | None = None
    classes: dict[str, int] = field(default_factory=dict)
    total: int | None = None


def _difference(what: str, found: int, documented: int) -> str:
    return f"{what} {found} (documented {documented}, {found - documented:+d})"


def count_mismatches(df: pd.DataFrame, expected: ExpectedCounts) -> list[str]:
    """One message per count of ``df`` that differs from ``expected``; empty when all match."""
    messages: list[str] = []
    if expected.total is not None and len(df) != expected.total:
        messages.append(_difference("utterances", len(df), expected.total))
    if expected.speakers is not None:
        speakers = int(df["speaker"].nunique())
        if speakers != expected.speakers:
            messages.append(_difference("speakers", speakers, expected.speakers))
    found = class_counts(df[df["label"] != ""])
    for name, documented in expected.classes.items():
        if found[name] != documented:
            messages.append(_difference(name, found[name], documented))
    return messages


def report_mismatches(df: pd.DataFrame, messages: list[str]) -> None:
    """One warning listing ``messages``; each is appended to ``df.attrs["count_warnings"]``."""
    if not messages:
        return
    warnings.warn("; ".join(messages), CorpusCountWarning, stacklevel=4)
    df.attrs["count_warnings"] = list(df.attrs.get("count_warnings", [])) + messages


def check_counts(df: pd.DataFrame, corpus: str, expected: ExpectedCounts) -> pd.DataFrame:
    """Warn (once) about the counts of ``df`` that differ from ``expected``; records them in ``df.attrs``."""
    report_mismatches(df, [f"{corpus}: {message} [{expected.source}]" for message in count_mismatches(df, expected)])
    return df
