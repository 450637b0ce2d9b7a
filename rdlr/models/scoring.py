"""Scoring a model on labeled manifests: what ``rdlr predict`` adds when an input is a manifest with a ``label``
column.

The manifest's emotions become classes through a class set (:class:`rdlr.labels.LabelSet`): by default the model's
own, its ``classes`` and ``label_map`` kept in ``model.json``; ``labels`` / ``label_map`` (``--labels`` /
``--label-map``) say which set the manifest is mapped to instead. A set other than the model's (other classes,
another order, or a map onto a class the model lacks) is refused in one line naming both, before any audio is read,
and so is a manifest none of whose rows maps onto a class of the model. Rows the set leaves out are counted per
corpus, never silently.

The metrics are the project's (:mod:`rdlr.metrics`, Section 3.2 of the paper): UA, the mean recall over the classes
present in the rows scored; WA, the overall accuracy; macro-F1 and the recall of each class, per corpus and over all
rows scored.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rdlr.labels import NAMED_SETS, LabelMap, LabelSet, LabelSetError, label_set
from rdlr.metrics import macro_f1, per_class_recall, unweighted_accuracy, weighted_accuracy

TRUE_COLUMN = "true_label"
ALL = "all"
OPTIONS = "--labels/--label-map (labels=/label_map= in Python)"


def _listed(names: Sequence[str]) -> str:
    return f"[{', '.join(names)}]"


def _manifests(manifests: Sequence[str]) -> str:
    return f"manifest{'s' if len(manifests) > 1 else ''} {', '.join(manifests)}"


def manifest_classes(
    model_classes: Sequence[str], labels: str | Sequence[str] | None, label_map: LabelMap | None
) -> tuple[str, ...]:
    """The classes a manifest is mapped to by ``labels`` (default: the model's classes) and ``label_map``: the set's
    classes, then any class the map sends an emotion to that is not among them."""
    if labels is None:
        classes = tuple(model_classes)
    elif isinstance(labels, str):
        if labels not in NAMED_SETS:
            label_set(labels)  # the error naming the valid sets
        classes = NAMED_SETS[labels].classes
    else:
        classes = tuple(str(name) for name in labels)
    targets = [t for mapping in (label_map or {}).values() for t in mapping.values() if t is not None]
    return classes + tuple(dict.fromkeys(t for t in targets if t not in classes))


def mapped_set(
    model_classes: Sequence[str],
    model_map: LabelMap,
    model: str,
    manifests: Sequence[str],
    labels: str | Sequence[str] | None = None,
    label_map: LabelMap | None = None,
) -> LabelSet:
    """The class set the ``manifests`` are mapped to: the model's (``model_classes``, ``model_map``) with
    ``label_map``'s entries over its map when ``labels`` is ``None``, else :func:`rdlr.labels.label_set`'s. A
    :class:`rdlr.labels.LabelSetError` naming both class sets when its classes are not the model's, in its order."""
    classes = manifest_classes(model_classes, labels, label_map)
    if classes != tuple(model_classes):
        raise LabelSetError(
            f"{_manifests(manifests)} mapped to {_listed(classes)} but model {model} was trained on "
            f"{_listed(model_classes)}; give {OPTIONS} that map the manifest's emotions onto the model's classes in "
            "its order, or score with a model trained on the manifest's classes"
        )
    if labels is not None:
        return label_set(labels, label_map)
    merged = {corpus: dict(mapping) for corpus, mapping in model_map.items()}
    for corpus, mapping in (label_map or {}).items():
        merged.setdefault(corpus, {}).update(mapping)
    return LabelSet(tuple(model_classes), merged, None)


@dataclass(frozen=True)
class Truth:
    """The true class of every record predicted together (:mod:`rdlr.models.inputs`): ``classes`` ("" where a
    record is not scored: not from a labeled manifest, unlabeled, or left out by the set), ``corpus`` ("" for a
    record not from a labeled manifest), per corpus the emotions the set left out and the unlabeled rows."""

    labels: LabelSet
    classes: np.ndarray
    corpus: np.ndarray
    left_out: dict[str, dict[str, int]]
    unlabeled: dict[str, int]
    manifests: tuple[str, ...]


def truth(
    records: Sequence[dict[str, Any]],
    model_classes: Sequence[str],
    model_map: LabelMap,
    model: str,
    labels: str | Sequence[str] | None = None,
    label_map: LabelMap | None = None,
) -> Truth | None:
    """The true classes of ``records`` under the class set :func:`mapped_set` allows; ``None`` when no record is
    from a manifest with a ``label`` column (``labels`` / ``label_map`` given then: a ``LabelSetError``). Refuses a
    manifest none of whose rows maps onto a class of the model. Reads no audio."""
    rows = [i for i, item in enumerate(records) if item["emotion"] is not None]
    if not rows:
        if labels is not None or label_map:
            raise LabelSetError(
                f"labels: no input is a manifest with a 'label' column, so there is nothing to map; give a labeled "
                f"manifest to score, or leave {OPTIONS} out to predict only"
            )
        return None
    manifests = tuple(dict.fromkeys(records[i]["manifest"] for i in rows))
    chosen = mapped_set(model_classes, model_map, model, manifests, labels, label_map)
    corpus = np.array([item["corpus"] for item in records], dtype=object)
    emotions = [records[i]["emotion"] for i in rows]
    mapped = chosen.map_labels(corpus[rows], emotions)
    classes = np.full(len(records), "", dtype=object)
    left_out: dict[str, Counter[str]] = {}
    unlabeled: Counter[str] = Counter()
    for i, emotion, value in zip(rows, emotions, mapped):
        if value is None:
            left_out.setdefault(corpus[i], Counter())[emotion] += 1
        elif value == "":
            unlabeled[corpus[i]] += 1
        else:
            classes[i] = value
    if not (classes != "").any():
        found = Counter(e for e in emotions if e)
        raise LabelSetError(
            f"{_manifests(manifests)}: no row maps onto a class of model {model} ({', '.join(model_classes)}); its "
            f"emotions: {', '.join(f'{e} {n}' for e, n in sorted(found.items())) or 'none (every label is empty)'}; "
            f"map them onto the model's classes with --label-map CORPUS:EMOTION=CLASS (label_map= in Python)"
        )
    return Truth(
        chosen,
        classes,
        corpus,
        {c: dict(sorted(counts.items())) for c, counts in left_out.items()},
        dict(unlabeled),
        manifests,
    )


@dataclass(frozen=True)
class Score:
    """The metrics of one corpus (or of all rows scored, ``name`` :data:`ALL`) and what was not scored."""

    name: str
    scored: int
    ua: float
    wa: float
    macro_f1: float
    recall: dict[str, float]
    left_out: dict[str, int]
    unlabeled: int
    unreadable: int

    def line(self) -> str:
        """``EMODB: 129 rows scored: UA 45.2%, WA 50.4%, macro-F1 38.5%; recall neutral 20.0%, ...; left out 0``."""
        if self.scored:
            recall = ", ".join(
                f"{name} {'n/a' if math.isnan(value) else f'{100 * value:.1f}%'}" for name, value in self.recall.items()
            )
            head = (
                f"{self.scored} rows scored: UA {100 * self.ua:.1f}%, WA {100 * self.wa:.1f}%, macro-F1 "
                f"{100 * self.macro_f1:.1f}%; recall {recall}"
            )
        else:
            head = "no row scored"
        detail = ", ".join(f"{emotion} {n}" for emotion, n in self.left_out.items())
        parts = [f"left out {sum(self.left_out.values())}{f' ({detail})' if detail else ''}"]
        parts += [f"unlabeled {self.unlabeled}"] if self.unlabeled else []
        parts += [f"unreadable {self.unreadable}"] if self.unreadable else []
        return f"{self.name}: {head}; {'; '.join(parts)}"


def _score(
    name: str, true: np.ndarray, predicted: np.ndarray, classes: Sequence[str], left_out: dict[str, int], **counts: int
) -> Score:
    index = {c: i for i, c in enumerate(classes)}
    y_true = np.array([index[c] for c in true], dtype=np.int64)
    y_pred = np.array([index[c] for c in predicted], dtype=np.int64)
    k = len(classes)
    if not len(y_true):
        return Score(name, 0, math.nan, math.nan, math.nan, dict.fromkeys(classes, math.nan), left_out, **counts)
    recall = per_class_recall(y_true, y_pred, k)
    return Score(
        name,
        len(y_true),
        unweighted_accuracy(y_true, y_pred, k),
        weighted_accuracy(y_true, y_pred, k),
        macro_f1(y_true, y_pred, k),
        {c: float(r) for c, r in zip(classes, recall)},
        left_out,
        **counts,
    )


def score(frame: pd.DataFrame, found: Truth, classes: Sequence[str]) -> list[Score]:
    """One :class:`Score` per corpus of the labeled manifests (in the order they appear), then one over all rows
    scored; ``frame`` is :meth:`rdlr.models.predictor.TrainedModel.predict`'s table (``label``, ``error``) in the
    records' order. A row whose audio could not be read is counted as unreadable, not scored."""
    predicted = frame["label"].to_numpy(dtype=object)
    readable = (frame["error"] == "").to_numpy()
    labeled = found.classes != ""
    scores = []
    corpora = list(dict.fromkeys(c for c in found.corpus if c))
    for name in [*corpora, ALL]:
        rows = found.corpus != "" if name == ALL else found.corpus == name
        left_out = (
            dict(sum((Counter(e) for e in found.left_out.values()), Counter()))
            if name == ALL
            else found.left_out.get(name, {})
        )
        unlabeled = sum(found.unlabeled.values()) if name == ALL else found.unlabeled.get(name, 0)
        ok = rows & labeled & readable
        scores.append(
            _score(
                name,
                found.classes[ok],
                predicted[ok],
                classes,
                dict(sorted(left_out.items())),
                unlabeled=unlabeled,
                unreadable=int((rows & labeled & ~readable).sum()),
            )
        )
    return scores
