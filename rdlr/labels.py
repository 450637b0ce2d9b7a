"""Emotion labels: the vocabulary manifests use, the class set of an experiment, label maps, and encoding.

Manifests keep each corpus' own emotions, every loader mapping its codes onto one vocabulary
(:data:`VOCABULARY`: EmoDB ``L`` → boredom, RAVDESS ``02`` → calm, TESS ``ps`` → surprise, ...). Which emotions an
experiment uses is decided later, by a :class:`LabelSet`: the class names in output order (``labels``) and a
``label_map`` ``{CORPUS or "*": {EMOTION: CLASS or None}}`` (many-to-one allowed, ``None`` drops). An emotion that
is itself a class needs no entry; an emotion neither a class nor mapped is left out (and counted, never silently).
A corpus' own entry wins over ``"*"``.

The default is the paper's four classes (Section 3.1), ``paper4``, with the paper's merge of IEMOCAP's excited into
happy. Named sets (:data:`NAMED_SETS`) carry documented merges: ``ekman`` (Ekman's six + neutral), ``arousal``
(low/high) and ``valence`` (negative/positive).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

VOCABULARY: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "fear", "disgust", "surprise", "calm", "boredom", "contempt", "excited",
    "frustrated", "other",
)  # fmt: skip
PAPER4: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
CLASSES: tuple[str, ...] = PAPER4  # the default class set's names, in output order
NUM_CLASSES: int = len(CLASSES)  # K of the default set (the demo corpora have exactly these four)
UNLABELED: int = -1
VOTE_PREFIX = "votes_"
VOTE_COLUMNS: tuple[str, ...] = tuple(f"{VOTE_PREFIX}{name}" for name in PAPER4)  # always in a manifest
ANY_CORPUS = "*"
IEMOCAP = "IEM"
DEFAULT_SET = "paper4"
_CLASS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*")

LabelMap = Mapping[str, Mapping[str, "str | None"]]


class LabelSetError(ValueError):
    """A class set or label map that cannot be used; the message names the key, corpus, class and valid values."""


@dataclass(frozen=True)
class NamedSet:
    """A documented class set: its classes in output order and its merges (a label map)."""

    classes: tuple[str, ...]
    label_map: LabelMap
    description: str


NAMED_SETS: Mapping[str, NamedSet] = MappingProxyType({
    "paper4": NamedSet(PAPER4, {IEMOCAP: {"excited": "happy"}},
                       "the paper's four classes (Section 3.1); IEMOCAP's excited is merged into happy"),
    "ekman": NamedSet(("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"),
                      {IEMOCAP: {"excited": "happy"}},
                      "Ekman's six basic emotions + neutral; IEMOCAP's excited is merged into happy"),
    "arousal": NamedSet(("low", "high"),
                        {ANY_CORPUS: {"neutral": "low", "calm": "low", "sad": "low", "boredom": "low",
                                      "contempt": "low", "happy": "high", "angry": "high", "fear": "high",
                                      "disgust": "high", "surprise": "high", "excited": "high",
                                      "frustrated": "high"}},
                        "binary arousal: neutral, calm, sad, boredom, contempt → low; happy, angry, fear, disgust, "
                        "surprise, excited, frustrated → high"),
    "valence": NamedSet(("negative", "positive"),
                        {ANY_CORPUS: {"sad": "negative", "angry": "negative", "fear": "negative",
                                      "disgust": "negative", "boredom": "negative", "contempt": "negative",
                                      "frustrated": "negative", "happy": "positive", "excited": "positive",
                                      "calm": "positive", "surprise": "positive"}},
                        "binary valence: sad, angry, fear, disgust, boredom, contempt, frustrated → negative; happy, "
                        "excited, calm, surprise → positive; neutral is left out"),
})  # fmt: skip


def _freeze(label_map: LabelMap) -> dict[str, dict[str, str | None]]:
    return {
        str(corpus): {str(emotion): (None if target is None else str(target)) for emotion, target in m.items()}
        for corpus, m in label_map.items()
    }


@dataclass(frozen=True)
class LabelSet:
    """The classes of one experiment (output order) and the label map from each corpus' emotions onto them.

    ``name`` is the named set it was built from (``None`` for an explicit list). Build with :func:`label_set`.
    """

    classes: tuple[str, ...] = PAPER4
    label_map: dict[str, dict[str, str | None]] = field(default_factory=lambda: _freeze(NAMED_SETS["paper4"].label_map))
    name: str | None = DEFAULT_SET

    def __post_init__(self) -> None:
        check_classes(self.classes, "labels")
        for corpus, mapping in self.label_map.items():
            for emotion, target in mapping.items():
                if target is not None and target not in self.classes:
                    raise LabelSetError(
                        f"label_map: corpus {corpus!r} maps {emotion!r} to {target!r}, which is not one of the "
                        f"labels; valid: {', '.join(self.classes)} or null (drop)"
                    )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_default(self) -> bool:
        return self == DEFAULT

    def target(self, corpus: str, emotion: str) -> str | None:
        """The class ``corpus``'s ``emotion`` maps to, or ``None`` when it is left out."""
        for key in (corpus, ANY_CORPUS):
            mapping = self.label_map.get(key)
            if mapping is not None and emotion in mapping:
                return mapping[emotion]
        return emotion if emotion in self.classes else None

    def map_labels(self, corpus: Iterable[object], emotion: Iterable[object]) -> np.ndarray:
        """Per row the class name, ``""`` for an unlabeled row (no emotion) and ``None`` for a row left out."""
        cache: dict[tuple[str, str], str | None] = {}
        out = []
        for c, e in zip(corpus, emotion):
            e = "" if e is None or (isinstance(e, float) and np.isnan(e)) else str(e)
            if not e:
                out.append("")
                continue
            key = (str(c), e)
            if key not in cache:
                cache[key] = self.target(*key)
            out.append(cache[key])
        return np.array(out, dtype=object)

    def encode(self, names: Iterable[object]) -> np.ndarray:
        """Class indices of class names (``""``/``None`` → :data:`UNLABELED`)."""
        index = {name: i for i, name in enumerate(self.classes)}
        out = []
        for name in names:
            if isinstance(name, str) and name:
                if name not in index:
                    raise LabelSetError(f"{name!r} is not a class; valid: {', '.join(self.classes)}")
                out.append(index[name])
            else:
                out.append(UNLABELED)
        return np.asarray(out, dtype=np.int64)

    def vote_matrix(self, meta: pd.DataFrame) -> np.ndarray | None:
        """Annotator votes over the classes (N × K): each ``votes_<emotion>`` column added to the class its emotion
        maps to in the row's corpus (votes for emotions left out dropped; :func:`rdlr.targets.soft_labels`
        renormalises). NaN where a row has no vote column with a value; ``None`` without vote columns."""
        columns = [c for c in meta.columns if c.startswith(VOTE_PREFIX)]
        if not columns:
            return None
        corpora = meta["corpus"].astype(str).to_numpy()
        out = np.zeros((len(meta), self.num_classes), dtype=np.float64)
        seen = np.zeros(len(meta), dtype=bool)
        index = {name: i for i, name in enumerate(self.classes)}
        for column in columns:
            values = pd.to_numeric(meta[column], errors="coerce").to_numpy(dtype=np.float64)
            present = ~np.isnan(values)
            seen |= present
            emotion = column[len(VOTE_PREFIX) :]
            for corpus in np.unique(corpora):
                target = self.target(corpus, emotion)
                if target is None:
                    continue
                rows = (corpora == corpus) & present
                out[rows, index[target]] += values[rows]
        out[~seen] = np.nan
        return out.astype(np.float32)

    def apply(self, meta: pd.DataFrame) -> Applied:
        """``meta``'s rows this set keeps, their ``label`` replaced by the class (unlabeled rows kept as ``""``),
        and per corpus the emotions left out with their counts (:class:`Applied`)."""
        mapped = self.map_labels(meta["corpus"].astype(str), meta["label"].tolist())
        keep = np.array([value is not None for value in mapped], dtype=bool)
        left_out: dict[str, dict[str, int]] = {}
        if not keep.all():
            frame = meta.loc[~keep, ["corpus", "label"]].astype(str)
            for (corpus, emotion), count in frame.value_counts(sort=False).sort_index().items():
                left_out.setdefault(corpus, {})[emotion] = int(count)
        kept = meta if keep.all() else meta.loc[keep].reset_index(drop=True)
        kept = kept.assign(label=[str(value) for value in mapped[keep]])
        return Applied(keep, kept, left_out)

    def to_dict(self) -> dict[str, Any]:
        """Plain form (``model.json``, the model card, results' ``spec.yaml``)."""
        return {"labels": list(self.classes), "label_map": self.label_map, "name": self.name}

    def describe(self) -> str:
        """``paper4: neutral, happy, sad, angry (IEM: excited → happy)``: one line."""
        merges = "; ".join(
            f"{corpus}: " + ", ".join(f"{e} → {t if t is not None else 'left out'}" for e, t in m.items())
            for corpus, m in self.label_map.items()
            if m
        )
        head = f"{self.name}: " if self.name else ""
        return head + ", ".join(self.classes) + (f" ({merges})" if merges else "")


@dataclass(frozen=True)
class Applied:
    """What :meth:`LabelSet.apply` leaves: ``keep`` (a mask over the input rows), ``meta`` (the kept rows, labels
    as classes) and ``left_out`` ({corpus: {emotion: utterances}}, the rows the set leaves out)."""

    keep: np.ndarray
    meta: pd.DataFrame
    left_out: dict[str, dict[str, int]]

    def classes_present(self, classes: Sequence[str]) -> dict[str, list[str]]:
        """Per corpus the classes (in ``classes`` order) that have at least one labeled utterance."""
        found = self.meta.loc[self.meta["label"] != "", ["corpus", "label"]].astype(str)
        present = found.groupby("corpus")["label"].agg(set)
        return {corpus: [name for name in classes if name in names] for corpus, names in present.items()}


def check_classes(classes: Sequence[str], key: str) -> None:
    """At least two distinct class names usable as column names; :class:`LabelSetError` naming ``key`` else."""
    if len(classes) < 2:
        raise LabelSetError(f"{key}: {len(classes)} class(es) {list(classes)}; an experiment needs at least 2")
    repeated = [name for name, count in Counter(classes).items() if count > 1]
    if repeated:
        raise LabelSetError(f"{key}: class {repeated[0]!r} is listed twice; list each class once")
    for name in classes:
        if not isinstance(name, str) or not _CLASS_NAME.fullmatch(name):
            raise LabelSetError(
                f"{key}: class name {name!r} is not a word (letters, digits, '_', '-', '+'; starting with a letter)"
            )


def label_set(labels: str | Sequence[str] | None = None, label_map: LabelMap | None = None) -> LabelSet:
    """The class set of ``labels`` (a named set of :data:`NAMED_SETS`, a list of class names, or ``None`` for
    ``paper4``) with ``label_map`` over the named set's merges (a corpus' entries replace the set's per emotion)."""
    if labels is None or isinstance(labels, str):
        name = labels or DEFAULT_SET
        if name not in NAMED_SETS:
            raise LabelSetError(
                f"labels: unknown class set {name!r}; valid: {', '.join(NAMED_SETS)} or a list of class names"
            )
        classes, base, set_name = NAMED_SETS[name].classes, _freeze(NAMED_SETS[name].label_map), name
    else:
        classes, base, set_name = tuple(str(name) for name in labels), {}, None
        check_classes(classes, "labels")
        for named, entry in NAMED_SETS.items():
            if entry.classes == classes and not entry.label_map:
                set_name = named
    merged = {corpus: dict(mapping) for corpus, mapping in base.items()}
    for corpus, mapping in _freeze(label_map or {}).items():
        merged.setdefault(corpus, {}).update(mapping)
    return LabelSet(classes, merged, set_name if not label_map else None)


def parse_label_map_options(values: Sequence[str]) -> dict[str, dict[str, str | None]]:
    """``--label-map CORPUS:EMOTION=CLASS`` (repeatable; ``CLASS`` empty or ``null`` drops) as a label map."""
    out: dict[str, dict[str, str | None]] = {}
    for value in values:
        match = re.fullmatch(r"([^:=]+):([^:=]+)=([^:=]*)", value.strip())
        if match is None:
            raise LabelSetError(
                f"--label-map: {value!r} is not CORPUS:EMOTION=CLASS (e.g. IEM:excited=happy, "
                "'*:calm=neutral', EMODB:boredom=null)"
            )
        corpus, emotion, target = (part.strip() for part in match.groups())
        out.setdefault(corpus, {})[emotion] = None if target in ("", "null", "none") else target
    return out


DEFAULT = label_set()


def encode_labels(labels: np.ndarray | list[object], classes: Sequence[str] = PAPER4) -> np.ndarray:
    """Class indices for an array of class names; missing labels (None/NaN/"") become :data:`UNLABELED`."""
    index = {name: i for i, name in enumerate(classes)}
    out = np.full(len(labels), UNLABELED, dtype=np.int64)
    for i, label in enumerate(labels):
        if isinstance(label, str) and label:
            if label not in index:
                raise ValueError(f"unknown emotion label {label!r}; valid: {', '.join(classes)}")
            out[i] = index[label]
    return out
