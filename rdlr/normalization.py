"""Input z-normalisation strategies: which utterances share statistics.

Section 3.2 z-normalises every input with the mean and std of the training rows (``train``, the paper's and the
default). Two classic strategies of cross-corpus SER (Schuller et al., IEEE TAC 2010) use other statistics:

* ``corpus``: every corpus, the held-out one included, with the mean and std of its own utterances. Transductive:
  it reads the test corpus' features (never its labels) before predicting it.
* ``speaker``: every speaker with the statistics of their own utterances, where the manifest names speakers. A
  speaker with fewer than :data:`MIN_SPEAKER_UTTERANCES` utterances (too few for a stable std of every dimension),
  and every utterance without a speaker, uses its corpus' statistics instead; those are counted
  (:class:`StatisticsGroups`) and the report states them. Transductive, and it needs speaker labels at test time.

This module says which rows form a group and which rows its statistics are fitted on (numpy only); the statistics
are computed where a trial's rows are prepared (:func:`rdlr.train.data.prepare`) and where a model predicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NORMALIZATIONS: tuple[str, ...] = ("train", "corpus", "speaker")
DEFAULT_NORMALIZATION = "train"
MIN_SPEAKER_UTTERANCES = 20  # below it a speaker uses their corpus' statistics (std of 1582 dims from < 20 rows)
MIN_FILES = MIN_SPEAKER_UTTERANCES  # rdlr predict: files predicted together, for statistics of their own
TITLES: dict[str, str] = {
    "train": "training statistics (the paper's)",
    "corpus": "per corpus (transductive)",
    "speaker": "per speaker (transductive, speaker labels)",
}
DESCRIPTIONS: dict[str, str] = {
    "train": "inputs z-normalised with the mean and std of the training rows (Section 3.2, the paper's)",
    "corpus": (
        "every corpus, the held-out one included, z-normalised with the mean and std of its own utterances "
        "(transductive: the test corpus' features are read, never its labels)"
    ),
    "speaker": (
        f"every speaker z-normalised with the mean and std of their own utterances; speakers with fewer than "
        f"{MIN_SPEAKER_UTTERANCES} utterances and utterances without a speaker use their corpus' statistics "
        "(transductive, and speaker labels are needed at test time)"
    ),
}


def check_normalization(name: str, where: str = "normalization") -> str:
    """``name`` if it is one of :data:`NORMALIZATIONS`, else a ``ValueError`` naming the valid ones."""
    if name not in NORMALIZATIONS:
        raise ValueError(f"{where}: unknown normalisation {name!r}; valid: {', '.join(NORMALIZATIONS)}")
    return name


@dataclass(frozen=True)
class StatisticsGroups:
    """Rows that share z-normalisation statistics: row ``i`` is normalised with group ``member[i]``'s statistics,
    which are fitted on the rows ``fit[g]`` (a corpus' fallback group fits on every row of the corpus).

    ``speakers``: speakers with statistics of their own; ``fallback_speakers``: speakers below the minimum;
    ``fallback_rows``: rows normalised with their corpus' statistics under ``speaker`` (below the minimum, or
    without a speaker)."""

    names: tuple[str, ...]
    member: np.ndarray
    fit: tuple[np.ndarray, ...]
    speakers: int = 0
    fallback_speakers: int = 0
    fallback_rows: int = 0


def statistics_groups(
    strategy: str,
    corpus: np.ndarray,
    speaker: np.ndarray | None = None,
    fit_train: np.ndarray | None = None,
    min_utterances: int = MIN_SPEAKER_UTTERANCES,
) -> StatisticsGroups:
    """The groups of ``strategy`` over rows with the given ``corpus`` (and ``speaker``; ``""`` = none) names.

    ``train``: one group of every row, fitted on the rows where ``fit_train`` holds. ``corpus``: one group per
    corpus. ``speaker``: one group per (corpus, speaker) with at least ``min_utterances`` rows; the other rows
    use their corpus' group, fitted on all of the corpus' rows. No label is read: only names.
    """
    check_normalization(strategy, "normalization")
    corpus = np.asarray(corpus).astype(str)
    n = len(corpus)
    if strategy == "train":
        if fit_train is None:
            raise ValueError("the 'train' normalisation needs the training rows")
        return StatisticsGroups(("train",), np.zeros(n, dtype=np.int64), (np.flatnonzero(fit_train),))
    corpus_names, corpus_of = np.unique(corpus, return_inverse=True)
    if strategy == "corpus":
        fit = tuple(_rows_by_group(corpus_of, len(corpus_names)))
        return StatisticsGroups(tuple(corpus_names.tolist()), corpus_of.astype(np.int64), fit)
    if speaker is None:
        speaker = np.full(n, "", dtype=object)
    speaker = np.asarray(speaker).astype(str)
    if min_utterances < 2:
        raise ValueError(f"min_utterances={min_utterances}: a std needs at least 2 utterances")
    speaker_names, speaker_of = np.unique(speaker, return_inverse=True)
    pairs, key_of = np.unique(corpus_of * len(speaker_names) + speaker_of, return_inverse=True)
    names = [f"{corpus_names[k // len(speaker_names)]}/{speaker_names[k % len(speaker_names)]}" for k in pairs]
    rows_of = _rows_by_group(key_of, len(names))
    member = np.full(n, -1, dtype=np.int64)
    groups: list[str] = []
    fit: list[np.ndarray] = []
    fallback_speakers = 0
    for name, rows in zip(names, rows_of, strict=True):
        if speaker[rows[0]] == "":
            continue
        if len(rows) < min_utterances:
            fallback_speakers += 1
            continue
        member[rows] = len(groups)
        groups.append(name)
        fit.append(rows)
    speakers = len(groups)
    fallback = member < 0
    corpus_rows = _rows_by_group(corpus_of, len(corpus_names))
    for c in np.unique(corpus_of[fallback]).tolist():
        member[fallback & (corpus_of == c)] = len(groups)
        groups.append(str(corpus_names[c]))
        fit.append(corpus_rows[c])
    return StatisticsGroups(
        tuple(groups),
        member,
        tuple(fit),
        speakers=speakers,
        fallback_speakers=fallback_speakers,
        fallback_rows=int(fallback.sum()),
    )


def _rows_by_group(group_of: np.ndarray, groups: int) -> list[np.ndarray]:
    """Row indices of each group ``0 .. groups - 1`` (ascending within a group)."""
    if groups == 0:
        return []
    order = np.argsort(group_of, kind="stable")
    counts = np.bincount(group_of, minlength=groups)
    return np.split(order, np.cumsum(counts)[:-1])
