"""Manifests shaped like documented corpora, without any audio: the labeled utterances per class and the speaker,
session and partition structure that the splits of Section 3.1 read (:func:`rdlr.corpora.splits.assign_roles`).

They give every trial's role sizes before a corpus is downloaded: ``rdlr plan`` projects a sweep's cost from them,
and ``benchmarks/bench_scale.py`` draws feature tables of the paper's sizes on them. The counts are the ones each
loader documents (its ``EXPECTED``: Table 1 of the paper for CRE, IEM, IMP and POD; 28,539 LibriSpeech
utterances); the structure follows Section 3.1: CRE 91 speakers, IEM 5 and IMP 6 sessions of two speakers each,
POD's train / validation / test partitions of release 1.8 (28,602 / 4,772 / 12,787), whose speakers never cross a
partition here. Within a corpus the classes are spread evenly over speakers (a seeded shuffle).
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd

from rdlr.corpora.checks import ExpectedCounts
from rdlr.corpora.demo.config import CORPUS_STYLES, LIB_STYLE, DemoConfig
from rdlr.corpora.registry import MODULES
from rdlr.labels import CLASSES, DEFAULT, LabelSet

SESSIONS: dict[str, int] = {"iemocap": 5, "msp_improv": 6}  # two speakers (one dyad) per session
POD_PARTITIONS: dict[str, int] = {"train": 28_602, "val": 4_772, "test": 12_787}  # Section 3.1 (release 1.8)
POD_SPEAKERS = 1_285  # labeled speakers of POD (Section 3.1), shared out over the partitions by size
COLUMNS: tuple[str, ...] = ("utt_id", "corpus", "label", "speaker", "session", "partition")


class ShapeError(ValueError):
    """A corpus whose loader documents no counts to shape a manifest from."""


def documented_counts(loader: str) -> ExpectedCounts:
    """The counts the loader ``loader`` documents (its module's ``EXPECTED``); :class:`ShapeError` if none."""
    if loader not in MODULES:
        raise ShapeError(f"unknown loader {loader!r}; valid: {', '.join(MODULES)}")
    expected = getattr(importlib.import_module(MODULES[loader]), "EXPECTED", None)
    if expected is None or (not expected.classes and expected.total is None):
        raise ShapeError(
            f"the {loader} loader documents no utterance counts; read the corpus itself (give --data-root)"
        )
    return expected


def _labels(classes: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    labels = np.concatenate([np.full(count, name, dtype=object) for name, count in classes.items()])
    return labels[rng.permutation(len(labels))]


def _frame(
    corpus: str,
    labels: np.ndarray,
    speakers: np.ndarray,
    sessions: np.ndarray | None = None,
    partitions: np.ndarray | None = None,
) -> pd.DataFrame:
    count = len(labels)
    return pd.DataFrame(
        {
            "utt_id": [f"{corpus}-{i:06d}" for i in range(count)],
            "corpus": corpus,
            "label": labels,
            "speaker": speakers,
            "session": sessions if sessions is not None else "",
            "partition": partitions if partitions is not None else "",
        },
        columns=list(COLUMNS),
    )


def shaped_manifest(loader: str, corpus: str, seed: int = 0, labels: LabelSet = DEFAULT) -> pd.DataFrame:
    """A manifest of ``corpus`` with the counts and structure its ``loader`` documents (module docstring), of the
    emotions the class set ``labels`` keeps, already mapped onto its classes (IEMOCAP's happy and excited are the
    paper's happy: ``paper4`` shapes the manifests the plans were made from before manifests kept every
    emotion)."""
    expected = documented_counts(loader)
    rng = np.random.default_rng(seed)
    if not expected.classes:  # unlabeled speech (LibriSpeech)
        rows = np.full(int(expected.total or 0), "", dtype=object)
    else:
        counts: dict[str, int] = {}
        for emotion, count in expected.classes.items():
            target = labels.target(corpus, emotion)
            if target is not None:
                counts[target] = counts.get(target, 0) + count
        rows = _labels(counts, rng)
    if loader == "msp_podcast":
        return _podcast(corpus, rows)
    speakers = expected.speakers or 1
    index = np.arange(len(rows)) % speakers
    if loader in SESSIONS:
        session = index // 2 + 1
        names = np.array([f"{corpus}-S{s}{'FM'[i % 2]}" for i, s in zip(index, session)], dtype=object)
        return _frame(corpus, rows, names, sessions=np.array([f"Session{s}" for s in session], dtype=object))
    return _frame(corpus, rows, np.array([f"{corpus}-{1001 + i}" for i in index], dtype=object))


def _podcast(corpus: str, labels: np.ndarray) -> pd.DataFrame:
    """POD: rows in partition order, each partition with its own share of the speakers."""
    partitions = np.concatenate([np.full(n, name, dtype=object) for name, n in POD_PARTITIONS.items()])
    speakers = np.empty(len(labels), dtype=object)
    first, start = 0, 0
    for _name, count in POD_PARTITIONS.items():
        own = max(1, round(POD_SPEAKERS * count / len(labels)))
        speakers[start : start + count] = [f"{corpus}-{first + i % own}" for i in range(count)]
        first, start = first + own, start + count
    return _frame(corpus, labels, speakers, partitions=partitions)


def demo_manifest(config: DemoConfig | None = None) -> pd.DataFrame:
    """The demo corpora's manifest columns (``rdlr.corpora.demo``) without synthesising audio: same corpora, speakers
    and utterances per speaker, labels drawn with each corpus's class prior."""
    config = config or DemoConfig()
    rng = np.random.default_rng(0)
    frames = []
    for style in (*CORPUS_STYLES, LIB_STYLE):
        speakers = config.speakers_per_corpus if style.labeled else config.unlabeled_speakers
        per_speaker = config.utterances_per_speaker if style.labeled else config.unlabeled_utterances_per_speaker
        count = speakers * per_speaker
        if style.labeled:
            labels = rng.choice(np.array(CLASSES, dtype=object), size=count, p=style.class_prior)
        else:
            labels = np.full(count, "", dtype=object)
        names = np.array([f"{style.name}-spk{i % speakers}" for i in range(count)], dtype=object)
        frames.append(_frame(style.name, labels, names))
    return pd.concat(frames, ignore_index=True)
