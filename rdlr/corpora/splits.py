"""Roles of the utterances for the two protocols of the paper (Section 3.1).

``assign_roles(meta, protocol, held_out, seed)`` returns one role per row, in
{"train", "val", "test", "unlabeled", "unused"}:

* unlabeled rows (``label == ""``, e.g. LibriSpeech) → "unlabeled", in both protocols;
* **out_of_corpus** (leave-one-corpus-out): every labeled row of the held-out corpus → "test"; every other
  labeled corpus is split into train/val;
* **within_corpus**: the held-out corpus is split into train/val/test; the other labeled corpora → "unused".

Rules (``rules={corpus: "paper" | "generic"}``; the paper's rule is the default for its four corpora):

========  ===========================================  ============================================
corpus    out_of_corpus (training corpus)              within_corpus
========  ===========================================  ============================================
CRE       58 / 33 speakers train / val (seeded draw)   72 / 9 / 10 speakers train / val / test (seeded)
IEM       sessions 1–4 train, session 5 val            sessions 1–4 train; of session 5 one speaker val,
                                                       the other test (seeded choice)
IMP       sessions 1–5 train, session 6 val            sessions 1–5 train; session 6 as IEM
POD       partitions train → train, val → val,         partitions train / val / test
          test → unused
generic   speakers 0.8 / 0.2 train / val               speakers 0.7 / 0.15 / 0.15 train / val / test
========  ===========================================  ============================================

With a number of speakers other than 91, CRE's counts are scaled in proportion; "the last session" is the
highest session number present. The generic rule (every other corpus: CSV manifests, demo corpora, EmoDB)
draws whole speakers with the given ``proportions`` (a role mapping applied to every generic corpus, or a
mapping per corpus, which also switches a paper corpus to the generic rule); every role gets at least one
speaker and too few speakers raise :class:`SplitError`. No speaker ever has two of train/val/test.
Draws depend on ``seed`` and the corpus name only, so adding a corpus does not change another's split.
"""

from __future__ import annotations

import math
import re
import warnings
import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

ROLES: tuple[str, ...] = ("train", "val", "test", "unlabeled", "unused")
OUT_OF_CORPUS = "out_of_corpus"  # leave-one-corpus-out: train + val on the others, test on the held-out corpus
WITHIN_CORPUS = "within_corpus"  # train, val and test speakers of one corpus (Section 3.1)
PROTOCOLS: tuple[str, ...] = (OUT_OF_CORPUS, WITHIN_CORPUS)  # the one list of protocol names
RULES: tuple[str, ...] = ("paper", "generic")
PAPER_CORPORA: tuple[str, ...] = ("CRE", "IEM", "IMP", "POD")
SPLIT_ROLES: dict[str, tuple[str, ...]] = {OUT_OF_CORPUS: ("train", "val"), WITHIN_CORPUS: ("train", "val", "test")}
DEFAULT_PROPORTIONS: dict[str, dict[str, float]] = {
    OUT_OF_CORPUS: {"train": 0.8, "val": 0.2},
    WITHIN_CORPUS: {"train": 0.7, "val": 0.15, "test": 0.15},
}
CRE_SPEAKERS: dict[str, dict[str, int]] = {
    OUT_OF_CORPUS: {"train": 58, "val": 33},
    WITHIN_CORPUS: {"train": 72, "val": 9, "test": 10},
}
POD_PARTITIONS: dict[str, dict[str, str]] = {
    OUT_OF_CORPUS: {"train": "train", "val": "val", "test": "unused"},
    WITHIN_CORPUS: {"train": "train", "val": "val", "test": "test"},
}
POD_TEST_CHOICES: tuple[str, ...] = ("all", "test_partition")  # held-out POD: every labeled row, or its test set
EPSILON = 1e-9

Proportions = Mapping[str, float]


class SplitError(ValueError):
    """A split that cannot be made (unknown corpus, too few speakers, missing sessions or partitions)."""


def default_rule(corpus: str) -> str:
    """The rule used for ``corpus`` unless overridden: the paper's for CRE/IEM/IMP/POD, else generic."""
    return "paper" if corpus in PAPER_CORPORA else "generic"


def allocate(n: int, weights: Proportions) -> dict[str, int]:
    """Split ``n`` items into counts proportional to ``weights`` (largest remainder), at least 1 each."""
    roles = [role for role, weight in weights.items() if weight > 0]
    if n < len(roles):
        raise SplitError(f"{n} speaker(s) cannot fill the {len(roles)} roles {roles}; need at least {len(roles)}")
    total = float(sum(weights[role] for role in roles))
    raw = {role: n * weights[role] / total for role in roles}
    counts = {role: max(1, math.floor(raw[role] + EPSILON)) for role in roles}
    order = {role: index for index, role in enumerate(roles)}
    while sum(counts.values()) > n:
        role = max((r for r in roles if counts[r] > 1), key=lambda r: (counts[r] - raw[r], -order[r]))
        counts[role] -= 1
    while sum(counts.values()) < n:
        role = max(roles, key=lambda r: (raw[r] - counts[r], -order[r]))
        counts[role] += 1
    return counts


def _rng(seed: int, corpus: str) -> np.random.Generator:
    if int(seed) < 0:
        raise SplitError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng([int(seed), zlib.crc32(corpus.encode("utf-8"))])


def _speaker_split(speakers: np.ndarray, weights: Proportions, rng: np.random.Generator, corpus: str) -> np.ndarray:
    """Roles for rows with the given speakers: whole speakers drawn at random in ``weights`` proportions."""
    unique = np.array(sorted(set(speakers.tolist())), dtype=object)
    try:
        counts = allocate(len(unique), weights)
    except SplitError as error:
        raise SplitError(f"{corpus}: {error}; add speakers or use fewer roles (proportions)") from None
    shuffled = unique[rng.permutation(len(unique))]
    role_of: dict[str, str] = {}
    start = 0
    for role, count in counts.items():
        for speaker in shuffled[start : start + count]:
            role_of[speaker] = role
        start += count
    return np.array([role_of[speaker] for speaker in speakers], dtype=object)


def _session_numbers(part: pd.DataFrame, corpus: str) -> np.ndarray:
    if "session" not in part.columns:
        raise SplitError(f"{corpus}: the paper's split needs a 'session' column; rerun rdlr prepare or use rules")
    numbers = []
    for value in part["session"].fillna("").astype(str):
        match = re.search(r"\d+", value)
        if match is None:
            raise SplitError(
                f"{corpus}: session {value!r} is not a session number; the paper's split needs sessions "
                f"(rerun rdlr prepare, or pass rules={{{corpus!r}: 'generic'}})"
            )
        numbers.append(int(match.group()))
    return np.array(numbers)


def _session_split(part: pd.DataFrame, protocol: str, rng: np.random.Generator, corpus: str) -> np.ndarray:
    """IEM/IMP (Section 3.1): earlier sessions train; the last session val (out_of_corpus) or val + test."""
    sessions = _session_numbers(part, corpus)
    last = int(sessions.max())
    if (sessions == last).all():
        raise SplitError(f"{corpus}: only session {last} present; the paper's split needs at least two sessions")
    roles = np.where(sessions == last, "val", "train").astype(object)
    if protocol == WITHIN_CORPUS:
        last_rows = sessions == last
        speakers = sorted(set(part["speaker"].to_numpy()[last_rows].tolist()))
        if len(speakers) < 2:
            raise SplitError(f"{corpus}: session {last} has {len(speakers)} speaker(s); need 2 (one val, one test)")
        val_speaker = speakers[int(rng.integers(len(speakers)))]
        is_val = part["speaker"].to_numpy() == val_speaker
        roles[last_rows] = np.where(is_val[last_rows], "val", "test")
    return roles


def _partition_split(part: pd.DataFrame, protocol: str, corpus: str) -> np.ndarray:
    """POD: its predefined partitions (test unused when POD is a training corpus)."""
    partitions = part["partition"].fillna("").astype(str) if "partition" in part.columns else None
    if partitions is None or not partitions.isin(list(POD_PARTITIONS[protocol])).all():
        bad = [] if partitions is None else sorted(set(partitions) - set(POD_PARTITIONS[protocol]))
        raise SplitError(
            f"{corpus}: the paper's split uses the corpus partitions (train/val/test); "
            f"found {bad or 'no partition column'}"
        )
    return partitions.map(POD_PARTITIONS[protocol]).to_numpy(dtype=object)


def _held_out_roles(part: pd.DataFrame, rule: str, pod_test: str, corpus: str) -> np.ndarray | str:
    """Out-of-corpus test rows: every labeled row, or only the test partition of POD under the paper's rule."""
    if pod_test == "all" or rule != "paper" or corpus != "POD":
        return "test"
    partitions = _partition_split(part, WITHIN_CORPUS, corpus)
    return np.where(partitions == "test", "test", "unused").astype(object)


def _check_proportions(corpus: str, weights: Proportions, protocol: str) -> dict[str, float]:
    allowed = SPLIT_ROLES[protocol]
    unknown = sorted(set(weights) - set(allowed))
    if unknown:
        raise SplitError(f"proportions for {corpus}: unknown role(s) {unknown} for {protocol}; valid: {list(allowed)}")
    clean = {role: float(weights.get(role, 0.0)) for role in allowed}
    if any(value < 0 or not math.isfinite(value) for value in clean.values()):
        raise SplitError(f"proportions for {corpus} must be finite and non-negative, got {dict(weights)}")
    needed = ("train", "test") if protocol == WITHIN_CORPUS else ("train",)
    missing = [role for role in needed if clean[role] <= 0]
    if missing:
        raise SplitError(f"proportions for {corpus} under {protocol} need a positive share for {missing}")
    return clean


def _per_corpus(proportions: Mapping[str, object] | None) -> tuple[dict[str, float] | None, dict[str, Proportions]]:
    """Split ``proportions`` into a global role mapping and a per-corpus mapping."""
    if not proportions:
        return None, {}
    values = list(proportions.values())
    if all(isinstance(value, Mapping) for value in values):
        return None, {str(key): value for key, value in proportions.items()}  # type: ignore[misc]
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return {str(key): float(value) for key, value in proportions.items()}, {}  # type: ignore[arg-type]
    raise SplitError(
        "proportions must map roles to shares ({'train': 0.8, 'val': 0.2}) or corpora to such mappings "
        f"({{'EMODB': {{'train': 0.7, 'val': 0.15, 'test': 0.15}}}}), got {dict(proportions)}"
    )


def _validate(meta: pd.DataFrame, protocol: str, held_out: str | None) -> tuple[np.ndarray, np.ndarray]:
    missing = [name for name in ("corpus", "speaker", "label") if name not in meta.columns]
    if missing:
        raise SplitError(f"meta lacks column(s) {missing}; pass the manifest columns")
    if protocol not in PROTOCOLS:
        raise SplitError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    corpora = meta["corpus"].astype(str).to_numpy(dtype=object)
    labeled = (meta["label"].fillna("").astype(str) != "").to_numpy()
    present = sorted(set(corpora.tolist()))
    if held_out is None:
        if protocol != "out_of_corpus":
            raise SplitError(f"{protocol} needs a held_out corpus (the one split into train/val/test)")
        if not labeled.any():
            raise SplitError(f"no labeled utterances in corpora {', '.join(present) or 'none'}; nothing to train on")
        return corpora, labeled
    if held_out not in present:
        raise SplitError(f"unknown held_out corpus {held_out!r}; corpora present: {', '.join(present) or 'none'}")
    if not labeled[corpora == held_out].any():
        raise SplitError(f"held_out corpus {held_out!r} has no labeled utterances; choose a labeled corpus")
    if protocol == OUT_OF_CORPUS and not (labeled & (corpora != held_out)).any():
        raise SplitError(f"out_of_corpus needs a labeled training corpus besides {held_out!r}; found none")
    return corpora, labeled


def _check_disjoint(meta: pd.DataFrame, roles: np.ndarray, corpora: np.ndarray, partition_rule: set[str]) -> None:
    """No speaker of a corpus in two of train/val/test; POD's own partitions only warn."""
    in_split = np.isin(roles, ["train", "val", "test"])
    frame = pd.DataFrame(
        {"corpus": corpora[in_split], "speaker": meta["speaker"].to_numpy()[in_split], "role": roles[in_split]}
    )
    spread = frame.groupby(["corpus", "speaker"])["role"].nunique()
    for (corpus, speaker), _count in spread[spread > 1].items():
        message = f"{corpus}: speaker {speaker!r} appears in several roles"
        if corpus in partition_rule:
            warnings.warn(f"{message} through the corpus's own partitions", UserWarning, stacklevel=3)
        else:
            raise SplitError(f"{message}; the session/speaker columns disagree, check the manifest")


def assign_roles(
    meta: pd.DataFrame,
    protocol: str,
    held_out: str | None,
    seed: int = 0,
    proportions: Mapping[str, object] | None = None,
    rules: Mapping[str, str] | None = None,
    pod_test: str = "all",
) -> pd.Series:
    """The role of every row of ``meta`` (a manifest) for ``protocol`` with ``held_out`` as the target corpus.

    ``held_out=None`` (out_of_corpus only): no test corpus, every labeled corpus is split into train/val (how
    ``rdlr train`` trains one model on all the corpora it is given).

    ``proportions``: shares per role for the generic rule, for every generic corpus (``{"train": .8,
    "val": .2}``) or per corpus (``{"EMODB": {...}}``, which also puts a paper corpus on the generic rule).
    ``rules``: ``{corpus: "paper" | "generic"}`` overrides (``"paper"`` only for CRE, IEM, IMP, POD).
    ``pod_test``: under out_of_corpus, a held-out corpus split by its own partitions (POD under the paper's rule)
    is tested on all its labeled rows (``"all"``) or only on its ``test`` partition (``"test_partition"``, the
    test set of the within-corpus row; its other rows are then "unused"). Other held-out corpora ignore it.
    Returns a Series aligned with ``meta.index`` named ``"role"``.
    """
    corpora, labeled = _validate(meta, protocol, held_out)
    if pod_test not in POD_TEST_CHOICES:
        raise SplitError(f"pod_test must be one of {', '.join(POD_TEST_CHOICES)}, got {pod_test!r}")
    global_weights, corpus_weights = _per_corpus(proportions)
    rules = dict(rules or {})
    for corpus, rule in rules.items():
        if rule not in RULES or (rule == "paper" and corpus not in PAPER_CORPORA):
            raise SplitError(f"rule {rule!r} for {corpus}: valid rules {RULES}; 'paper' exists for {PAPER_CORPORA}")
        if rule == "paper" and corpus in corpus_weights:
            raise SplitError(f"{corpus}: proportions given but rules says 'paper'; drop one of the two")
    roles = np.full(len(meta), "unlabeled", dtype=object)
    partition_rule: set[str] = set()
    for corpus in sorted(set(corpora[labeled].tolist())):
        rows = labeled & (corpora == corpus)
        rule = rules.get(corpus, "generic" if corpus in corpus_weights else default_rule(corpus))
        if protocol == OUT_OF_CORPUS and corpus == held_out:
            roles[rows] = _held_out_roles(meta.iloc[np.flatnonzero(rows)], rule, pod_test, corpus)
            continue
        if protocol == WITHIN_CORPUS and corpus != held_out:
            roles[rows] = "unused"
            continue
        part = meta.iloc[np.flatnonzero(rows)]
        rng = _rng(seed, corpus)
        if rule == "paper" and corpus == "CRE":
            roles[rows] = _speaker_split(part["speaker"].to_numpy(dtype=object), CRE_SPEAKERS[protocol], rng, corpus)
        elif rule == "paper" and corpus in ("IEM", "IMP"):
            roles[rows] = _session_split(part, protocol, rng, corpus)
        elif rule == "paper":
            roles[rows] = _partition_split(part, protocol, corpus)
            partition_rule.add(corpus)
        else:
            weights = corpus_weights.get(corpus, global_weights or DEFAULT_PROPORTIONS[protocol])
            weights = _check_proportions(corpus, weights, protocol)
            roles[rows] = _speaker_split(part["speaker"].astype(str).to_numpy(dtype=object), weights, rng, corpus)
    _check_disjoint(meta, roles, corpora, partition_rule)
    return pd.Series(roles.tolist(), index=meta.index, name="role")
