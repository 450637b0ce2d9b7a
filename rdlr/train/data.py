"""The inputs of one trial: a feature matrix with each utterance's corpus, label and role (:class:`TrialData`), the
rows a trial uses on the training device, z-normalised in one float32 copy (:func:`prepare`), and those rows made
once and shared by every model trained on them (:class:`PreparedRows`).

The z-normalisation's floor: ``docs/decisions.md#z-normalisation``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from rdlr.corpora.splits import ROLES
from rdlr.labels import CLASSES, DEFAULT, UNLABELED, LabelSet
from rdlr.normalization import DEFAULT_NORMALIZATION, StatisticsGroups, check_normalization, statistics_groups
from rdlr.train.statistics import floored_std, normalise_in_groups


@dataclass(frozen=True)
class TrialData:
    """Features ``x`` (N × D, float32) and per-row ``labels`` (index into ``classes``, -1 when unlabeled),
    ``corpus``, ``roles`` (one of :data:`ROLES`) and optional annotator ``votes`` (N × K, NaN where a corpus has
    none); ``classes`` names the K classes in output order (the paper's four by default); optional ``speakers``
    ("" where unknown) and the input ``normalization`` (:data:`rdlr.normalization.NORMALIZATIONS`)."""

    x: np.ndarray
    labels: np.ndarray
    corpus: np.ndarray
    roles: np.ndarray
    votes: np.ndarray | None = None
    classes: tuple[str, ...] = CLASSES
    speakers: np.ndarray | None = None
    normalization: str = DEFAULT_NORMALIZATION

    def __post_init__(self) -> None:
        n = len(self.x)
        if self.x.ndim != 2:
            raise ValueError(f"features must be a 2-D matrix, got shape {self.x.shape}")
        check_normalization(self.normalization)
        for name in ("labels", "corpus", "roles", *(("speakers",) if self.speakers is not None else ())):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows but the features have {n}")
        unknown = {str(role) for role in np.unique(self.roles)} - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {sorted(unknown)}; valid: {', '.join(ROLES)}")
        for role in ("train", "val"):
            if not (self.roles == role).any():
                raise ValueError(f"no utterance has role {role!r}: a trial needs training and validation data")
        labeled = np.isin(self.roles, ("train", "val", "test"))
        if (self.labels[labeled] == UNLABELED).any():
            raise ValueError("utterances with role train/val/test must have a label")
        if len(self.classes) < 2:
            raise ValueError(f"a trial needs at least 2 classes, got {list(self.classes)}")
        if len(self.labels) and int(self.labels.max(initial=UNLABELED)) >= len(self.classes):
            raise ValueError(f"class index {int(self.labels.max())} outside the {len(self.classes)} classes")
        if self.votes is not None and self.votes.shape != (n, len(self.classes)):
            raise ValueError(f"votes must be N x K = {n} x {len(self.classes)}, got {self.votes.shape}")

    @property
    def num_classes(self) -> int:
        """K, the number of classes (the classifier's outputs)."""
        return len(self.classes)

    @classmethod
    def from_table(
        cls,
        x: np.ndarray,
        meta: pd.DataFrame,
        roles: pd.Series | np.ndarray,
        labels: LabelSet = DEFAULT,
        normalization: str = DEFAULT_NORMALIZATION,
    ) -> TrialData:
        """Build from a feature matrix, its manifest columns (``corpus``, ``label`` holding class names of
        ``labels`` as :meth:`rdlr.labels.LabelSet.apply` leaves them, optional ``speaker`` and ``votes_<emotion>``),
        per-row roles (e.g. from :func:`rdlr.corpora.splits.assign_roles`) and the input ``normalization``. Votes
        are summed onto the classes their emotions map to (:meth:`rdlr.labels.LabelSet.vote_matrix`)."""
        missing = {"corpus", "label"} - set(meta.columns)
        if missing:
            raise ValueError(f"metadata lacks column(s) {sorted(missing)}; it needs corpus and label")
        return cls(
            x=np.asarray(x, dtype=np.float32),
            labels=labels.encode(meta["label"].fillna("").astype(str).tolist()),
            corpus=meta["corpus"].astype(str).to_numpy(),
            roles=np.asarray(roles, dtype=str),
            votes=labels.vote_matrix(meta),
            classes=labels.classes,
            speakers=meta["speaker"].fillna("").astype(str).to_numpy() if "speaker" in meta.columns else None,
            normalization=normalization,
        )

    def indices(self, role: str) -> np.ndarray:
        return np.flatnonzero(self.roles == role)

    def corpora(self, role: str) -> list[str]:
        """Sorted corpus names that have rows with ``role``."""
        return sorted(set(self.corpus[self.roles == role]))

    def fingerprint(self) -> str:
        """A content hash of what a trial trains on (part of the stage-1 cache key, :mod:`rdlr.train.stage1`).

        Hashes the shape, labels, corpora, roles, votes and every row of ``x`` sampled with a stride that
        keeps the work bounded (~4096 rows) on corpora of any size; for a normalisation other than the paper's,
        also its name (and the speakers it groups by), so the stage-1 models of two strategies are never shared
        (the paper's keys stay as they were).
        """
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.asarray(self.x.shape, dtype=np.int64).tobytes())
        for array in (self.labels, self.corpus.astype("U"), self.roles.astype("U")):
            digest.update(np.ascontiguousarray(array).tobytes())
        if self.votes is not None:
            digest.update(np.ascontiguousarray(self.votes).tobytes())
        if self.classes != CLASSES:  # the paper's four keep the keys of caches written before class sets
            digest.update("\n".join(self.classes).encode())
        stride = max(1, len(self.x) // 4096)
        digest.update(np.ascontiguousarray(self.x[::stride]).tobytes())
        if self.normalization != DEFAULT_NORMALIZATION:
            digest.update(self.normalization.encode())
            if self.normalization == "speaker" and self.speakers is not None:
                digest.update(np.ascontiguousarray(self.speakers.astype("U")).tobytes())
        return digest.hexdigest()

    def statistics_groups(self, rows: np.ndarray) -> StatisticsGroups:
        """The groups of ``rows`` (indices into this table) that share statistics under :attr:`normalization`
        (:func:`rdlr.normalization.statistics_groups`): names only, never a label."""
        speakers = self.speakers[rows] if self.speakers is not None else None
        return statistics_groups(self.normalization, self.corpus[rows], speakers, self.roles[rows] == "train")

    def used_groups(self) -> StatisticsGroups:
        """:meth:`statistics_groups` of every row the trial uses (every role but ``unused``): what a results row
        and a model's log count."""
        return self.statistics_groups(np.flatnonzero(self.roles != "unused"))


def labeled_table(x: np.ndarray, meta: pd.DataFrame, labels: LabelSet) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """``x`` and ``meta`` restricted to the rows ``labels`` keeps (:meth:`rdlr.labels.LabelSet.apply`: labels as
    classes, unlabeled rows kept), and per corpus the emotions left out. Rows are removed before any split, so
    a class set that keeps every row (the paper's four on four-class manifests) splits exactly as before; ``x``
    is copied only when rows are left out."""
    applied = labels.apply(meta)
    if not applied.keep.all():
        x = x[applied.keep]
    return x, applied.meta, applied.left_out


USED_ROLES: tuple[str, ...] = ("train", "val", "test", "unlabeled")  # every role but "unused", in block order
GATHER_ROWS = 8192  # rows copied at a time while gathering a trial's rows (bounds the temporary copy)


@dataclass
class PreparedData:
    """One trial's device tensors: the rows it uses (every role but ``unused``), grouped by role in the order of
    :data:`USED_ROLES` (each role's rows in their order in the table), z-normalised with the training statistics
    (Section 3.2), and their labels in the same order.

    ``train`` and ``unlabeled`` index ``x`` and ``labels``; ``blocks`` maps each role to its contiguous slice of
    ``x`` (:meth:`rows` is a view, no copy); ``roles`` maps train/val/test to their row indices in the
    :class:`TrialData` (for its labels, corpora and votes). ``mean`` and ``std`` are the training rows'
    statistics under every normalisation (what a model folder keeps); ``groups`` says which rows shared
    statistics under a normalisation other than ``train`` (``None`` under ``train``).
    """

    x: torch.Tensor
    labels: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    train: torch.Tensor
    unlabeled: torch.Tensor | None
    roles: dict[str, np.ndarray] = field(default_factory=dict)
    blocks: dict[str, slice] = field(default_factory=dict)
    groups: StatisticsGroups | None = None

    def rows(self, role: str) -> torch.Tensor:
        """The normalised features of ``role``'s rows (a view of ``x``)."""
        return self.x[self.blocks[role]]


def normalisation_statistics(x_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std per dimension of the training rows, for the z-normalisation of Section 3.2.

    The std is floored at :data:`rdlr.train.statistics.RELATIVE_STD_FLOOR` × the median std of the dimensions that
    vary (1 when none does): a dimension (nearly) constant on the training rows would otherwise divide another
    corpus's deviations by ~0 (IS10 has such dimensions: |z| reached 712 on a held-out demo corpus with a floor of
    1e-8), while the floor leaves every dimension on the typical scale or above it untouched.
    """
    return x_train.mean(dim=0), floored_std(x_train.std(dim=0))


def _gather(x: np.ndarray, row_groups: list[np.ndarray], device: str) -> torch.Tensor:
    """``x``'s rows of each group, one group after the other, as one float32 matrix on ``device``: the only copy
    of the features a trial makes (the source, e.g. Ray's shared object store, is never copied whole)."""
    total = sum(len(rows) for rows in row_groups)
    out = torch.empty((total, x.shape[1]), dtype=torch.float32, device=device)
    start = 0
    for rows in row_groups:
        for begin in range(0, len(rows), GATHER_ROWS):
            chunk = rows[begin : begin + GATHER_ROWS]
            out[start : start + len(chunk)] = torch.from_numpy(np.asarray(x[chunk], dtype=np.float32))
            start += len(chunk)
    return out


def prepare(data: TrialData, device: str, unlabeled: bool = True) -> PreparedData:
    """Copy the rows ``data``'s trial uses to ``device`` (one float32 copy; ``unused`` rows, and the unlabeled rows
    unless ``unlabeled``, are left out) and z-normalise them in place: with the mean and std of the training rows
    (``train``, Section 3.2), or each group of rows with its own (``corpus``, ``speaker``:
    :mod:`rdlr.normalization`, :mod:`rdlr.train.statistics`)."""
    groups = {
        role: data.indices(role) if unlabeled or role != "unlabeled" else np.empty(0, dtype=np.int64)
        for role in USED_ROLES
    }
    x = _gather(data.x, list(groups.values()), device)
    blocks, start = {}, 0
    for role, rows in groups.items():
        blocks[role] = slice(start, start + len(rows))
        start += len(rows)
    mean, std = normalisation_statistics(x[blocks["train"]])
    shared = None
    if data.normalization == DEFAULT_NORMALIZATION:
        x.sub_(mean).div_(std)
    else:
        shared = data.statistics_groups(np.concatenate(list(groups.values())))
        normalise_in_groups(x, shared)
    labels = np.concatenate([data.labels[rows] for rows in groups.values()])
    unlabeled = blocks["unlabeled"]
    return PreparedData(
        x=x,
        labels=torch.as_tensor(labels, device=device),
        mean=mean,
        std=std,
        train=torch.arange(blocks["train"].start, blocks["train"].stop, device=device),
        unlabeled=torch.arange(unlabeled.start, unlabeled.stop, device=device) if len(groups["unlabeled"]) else None,
        roles={role: groups[role] for role in ("train", "val", "test")},
        blocks=blocks,
        groups=shared,
    )


class PreparedRows:
    """A :class:`TrialData` and its rows prepared (:func:`prepare`) once per (device, with or without the unlabeled
    rows), shared by every model trained on them: the seeds of a configuration, a stage-1 model and its stage 2, the
    configurations of a sweep's job run by one worker. Training only reads the prepared tensors, so a model trained
    on shared rows is the model trained on rows of its own."""

    def __init__(self, data: TrialData) -> None:
        self.data = data
        self._prepared: dict[tuple[str, bool], PreparedData] = {}

    def get(self, device: str, unlabeled: bool) -> PreparedData:
        """The rows on ``device`` (with the unlabeled rows when ``unlabeled``), prepared on first use."""
        key = (device, unlabeled)
        if key not in self._prepared:
            self._prepared[key] = prepare(self.data, device, unlabeled=unlabeled)
        return self._prepared[key]
