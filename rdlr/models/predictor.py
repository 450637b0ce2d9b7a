"""``rdlr.load_model(MODEL_DIR)``: a trained model that predicts the emotion of recordings or of feature vectors.

Prediction computes the model's feature sets with the extractor configs it was trained with (checked at load,
:mod:`rdlr.models.extractors`), in this process and in batches, z-normalises them as the model was trained
(:mod:`rdlr.normalization`: with the training statistics saved in the folder, or the inputs' own statistics per
corpus or per speaker), and applies the classifier F (Section 3.2) in eval mode; probabilities are the softmax of
its logits. ``predict`` and ``predict_features`` share that last step, and ``rdlr predict`` calls ``predict``,
so the CLI, files and precomputed features give the same numbers. The last step runs in PyTorch
(``engine="torch"``) or through onnxruntime on the folder's ``model.onnx`` (``engine="onnx"``, written by
``rdlr onnx``): :mod:`rdlr.models.engines`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rdlr.features.base import Extractor
from rdlr.io.safe_text import read_json
from rdlr.labels import LabelMap
from rdlr.model import EmotionClassifier
from rdlr.models import inputs, scoring
from rdlr.models.engines import ENGINES, OnnxScorer, TorchScorer
from rdlr.models.extractors import model_extractors
from rdlr.models.folder import (
    CARD_FILE,
    ONNX_FILE,
    WEIGHTS_FILE,
    ModelCard,
    ModelFolderError,
    read_model,
    warn_versions,
)
from rdlr.models.inputs import Inputs
from rdlr.normalization import (
    DEFAULT_NORMALIZATION,
    MIN_FILES,
    StatisticsGroups,
    check_normalization,
    statistics_groups,
)
from rdlr.train.statistics import normalise_in_groups

FILE_BATCH = 16


class TrainedModel:
    """A loaded model folder: ``card`` (what ``model.json`` says), ``classes``, and the ``scorer`` of its engine
    (``torch`` or ``onnx``) that turns raw feature vectors into probabilities."""

    def __init__(
        self,
        folder: Path,
        card: ModelCard,
        scorer: TorchScorer | OnnxScorer,
        extractors: list[Extractor],
        device: str,
        engine: str = "torch",
    ) -> None:
        self.folder = folder
        self.card = card
        self.scorer = scorer
        self.extractors = extractors
        self.device = device
        self.engine = engine
        self._set_up = False

    def __repr__(self) -> str:
        sets = "+".join(spec.name for spec in self.card.features)
        return (
            f"TrainedModel({str(self.folder)!r}: method {self.card.method.get('id')}, features {sets}, "
            f"classes {', '.join(self.classes)}, val UA {self.card.metrics.get('val_ua')}, engine {self.engine})"
        )

    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes

    @property
    def probability_columns(self) -> list[str]:
        return [f"prob_{name}" for name in self.classes]

    @property
    def columns(self) -> list[str]:
        """Columns of :meth:`predict`'s table."""
        return ["path", "utt_id", "label", *self.probability_columns, "error"]

    @property
    def normalization(self) -> str:
        """The normalisation the model was trained with (:mod:`rdlr.normalization`), what prediction uses unless
        told otherwise."""
        return self.card.normalization

    def probabilities(
        self, x: np.ndarray | torch.Tensor, normalization: str | None = None, speakers: Sequence[str] | None = None
    ) -> np.ndarray:
        """Class probabilities (N × classes, float32) of raw features ``x`` (N × input_dim, not normalised),
        z-normalised as ``normalization`` says (default: the model's, :attr:`normalization`): with the training
        statistics kept in the folder (``train``), or with the rows' own (:meth:`own_statistics`). Either engine
        applies the training statistics itself, so rows normalised with their own are handed to it mapped back
        through them (z · std + mean, in float64: the engine then sees z, as precise as raw float32 features)."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x.float())
        if x.ndim != 2 or x.shape[1] != self.card.input_dim:
            raise ValueError(
                f"features must be N × {self.card.input_dim} "
                f"({'+'.join(f'{s.name} ({s.dim})' for s in self.card.features)}), got {tuple(x.shape)}"
            )
        strategy = check_normalization(normalization or self.normalization)
        if strategy != DEFAULT_NORMALIZATION and len(x):
            z = x.double()
            normalise_in_groups(z, self.own_statistics(len(z), strategy, speakers))
            mean, std = (
                torch.as_tensor(a, dtype=torch.float64) for a in (self.card.feature_mean, self.card.feature_std)
            )
            x = (z * std + mean).float()
        return self.scorer(x) if len(x) else np.zeros((0, len(self.classes)), dtype=np.float32)

    def own_statistics(self, n: int, strategy: str, speakers: Sequence[str] | None) -> StatisticsGroups:
        """Which of ``n`` inputs predicted together share statistics: all of them (``corpus``), or each speaker
        with at least :data:`rdlr.normalization.MIN_SPEAKER_UTTERANCES` files (``speaker``; the others: all
        inputs'). Refuses, in one line saying what to do, fewer than :data:`rdlr.normalization.MIN_FILES` inputs
        and ``speaker`` without speakers."""
        if n < MIN_FILES:
            raise ValueError(
                f"{strategy} normalisation needs at least {MIN_FILES} files predicted together for statistics of "
                f"their own, got {n}; give more files, or --normalization train (normalization='train' in Python) "
                "to use the training statistics stored in the model"
            )
        if strategy == "speaker" and (speakers is None or not any(speakers)):
            raise ValueError(
                "speaker normalisation needs each file's speaker: a 'speaker' column in a manifest, or "
                "--speaker-from REGEX over the file names (speaker_from= in Python); or --normalization corpus"
            )
        if speakers is not None and len(speakers) != n:
            raise ValueError(f"{len(speakers)} speakers for {n} inputs; give one speaker per row")
        names = None if speakers is None else np.asarray(list(speakers), dtype=object)
        return statistics_groups(strategy, np.full(n, "inputs"), names)

    def predict_features(
        self, x: np.ndarray | torch.Tensor, normalization: str | None = None, speakers: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """``label`` and ``prob_<class>`` for each row of precomputed features (the model's feature sets
        concatenated in its order, as :func:`rdlr.features.load` returns them); ``label`` is "" where the model's
        output is not finite. ``normalization`` and ``speakers`` (one per row) as :meth:`probabilities`."""
        probs = self.probabilities(x, normalization, speakers)
        finite = np.isfinite(probs).all(axis=1)
        frame = pd.DataFrame(probs.astype(np.float64), columns=self.probability_columns)
        frame.insert(0, "label", [self.classes[i] if ok else "" for i, ok in zip(probs.argmax(axis=1), finite)])
        return frame

    def set_up(self) -> None:
        """Load the extractors' models (once; :meth:`predict` calls it)."""
        if not self._set_up:
            for extractor in self.extractors:
                extractor.setup(self.device)
            self._set_up = True

    def extract_records(self, batch: list[dict[str, Any]]) -> list[np.ndarray | None]:
        """Model input vectors of a batch of records (``path``, ``utt_id``, ``error`` and, for a signal decoded
        already, ``audio``): ``None`` where one fails, whose ``error`` is then filled."""
        self.set_up()
        pending = [r for r in batch if not r["error"]]
        parts: dict[int, list[np.ndarray]] = {id(r): [] for r in pending}
        for spec, extractor in zip(self.card.features, self.extractors):
            results = extractor.extract([{**r, "utt_id": r["utt_id"] or r["path"]} for r in pending])
            for r, result in zip(pending, results):
                if r["error"]:
                    continue
                if result.error is not None or result.vector is None:
                    r["error"] = result.error or f"{spec.name}: no features returned"
                elif result.vector.shape != (spec.dim,):
                    r["error"] = f"{spec.name}: {result.vector.size} values, the model expects {spec.dim}"
                elif not np.isfinite(result.vector).all():
                    r["error"] = f"{spec.name}: non-finite features: {r['path']}"
                else:
                    parts[id(r)].append(np.asarray(result.vector, dtype=np.float32))
        return [np.concatenate(parts[id(r)]) if not r["error"] else None for r in batch]

    def predict(
        self,
        paths_or_manifest: Inputs,
        batch_size: int = FILE_BATCH,
        progress: bool = True,
        normalization: str | None = None,
        speaker_from: str | None = None,
        score: bool = False,
        labels: str | Sequence[str] | None = None,
        label_map: LabelMap | None = None,
    ) -> pd.DataFrame:
        """Predict audio files, folders (recursively) or manifests (CSV paths or a DataFrame with ``path``).

        One row per utterance: ``path``, ``utt_id`` (from a manifest, else the file name without its suffix),
        ``label``, ``prob_<class>`` and ``error`` ("" when predicted; else the reason, with empty label and NaN
        probabilities; a non-finite model output is such an error, never a label).

        ``normalization`` (default: the model's, :attr:`normalization`): ``train`` uses the training statistics
        kept in the folder; ``corpus`` normalises the files predicted together with their own statistics,
        ``speaker`` each speaker's files with theirs (speakers from a manifest's ``speaker`` column, or from the
        file names with the regular expression ``speaker_from``: its first group). Both need at least
        :data:`rdlr.normalization.MIN_FILES` files, else a ``ValueError`` before any audio is read. The table's
        ``attrs["normalization"]`` says what was used (strategy, files, speakers, fallbacks).

        ``score``: where inputs are manifests with a ``label`` column, also score the predictions against them
        (:mod:`rdlr.models.scoring`): their emotions are mapped onto the model's classes with the model's class set
        (``classes`` and ``label_map`` of ``model.json``), or with the one ``labels`` / ``label_map`` name, which
        must have the model's classes in its order (else a :class:`rdlr.labels.LabelSetError` naming both, before
        any audio is read). The table then has a ``true_label`` column after ``label`` (the true class; "" for a
        row not scored: not from a labeled manifest, unlabeled, or an emotion the set leaves out) and
        ``attrs["scores"]``: a :class:`rdlr.models.scoring.Score` per corpus and one over all rows scored (UA over
        the classes present, WA, macro-F1, recall per class, and the rows left out, unlabeled or unreadable).
        """
        from tqdm.auto import tqdm

        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}; give at least 1")
        strategy = check_normalization(normalization or self.normalization, "normalization")
        records = inputs.collect(paths_or_manifest)
        if not score and (labels is not None or label_map):
            raise ValueError("labels and label_map say how labeled manifests are scored: give score=True too")
        found = (
            scoring.truth(records, self.classes, self.card.label_map, str(self.folder), labels, label_map)
            if score
            else None
        )
        if speaker_from is not None:
            inputs.speakers_from_names(records, speaker_from)
        if strategy != DEFAULT_NORMALIZATION:  # refuse before reading any audio
            readable = [r["speaker"] for r in records if not r["error"]]
            self.own_statistics(len(readable), strategy, readable if strategy == "speaker" else None)
        self.set_up()
        vectors: list[np.ndarray | None] = []
        with tqdm(total=len(records), desc="predict", unit="file", disable=not progress, mininterval=0.5) as bar:
            for start in range(0, len(records), batch_size):
                batch = records[start : start + batch_size]
                vectors.extend(self.extract_records(batch))
                bar.update(len(batch))
        good = [i for i, vector in enumerate(vectors) if vector is not None]
        features = np.stack([vectors[i] for i in good]) if good else np.zeros((0, self.card.input_dim), np.float32)
        speakers = [records[i]["speaker"] for i in good]
        scores = self.predict_features(features, strategy, speakers if strategy == "speaker" else None)
        labels = np.full(len(records), "", dtype=object)
        probs = np.full((len(records), len(self.classes)), np.nan)
        labels[good] = scores["label"].to_numpy()
        probs[good] = scores[self.probability_columns].to_numpy()
        for index in np.asarray(good, dtype=int)[scores["label"].to_numpy() == ""]:
            records[index]["error"] = f"non-finite model output (check the model folder): {records[index]['path']}"
            probs[index] = np.nan
        frame = pd.DataFrame(
            {"path": [r["path"] for r in records], "utt_id": [r["utt_id"] for r in records], "label": labels}
        )
        frame[self.probability_columns] = probs
        frame["error"] = [r["error"] for r in records]
        frame.attrs["normalization"] = self._used(strategy, len(good), speakers)
        if found is not None:
            frame.insert(frame.columns.get_loc("label") + 1, scoring.TRUE_COLUMN, found.classes)
            frame.attrs["scores"] = scoring.score(frame, found, self.classes)
        return frame

    def _used(self, strategy: str, n: int, speakers: Sequence[str]) -> dict[str, Any]:
        """What :meth:`predict` normalised with, for its table's ``attrs`` and ``rdlr predict``'s summary."""
        used: dict[str, Any] = {"strategy": strategy, "files": n}
        if strategy == "speaker":
            groups = self.own_statistics(n, strategy, speakers)
            used.update(
                speakers=groups.speakers,
                fallback_speakers=groups.fallback_speakers,
                fallback_files=groups.fallback_rows,
            )
        return used


def load_model(model_dir: str | os.PathLike[str], device: str = "cpu", engine: str = "torch") -> TrainedModel:
    """Load a model folder written by ``rdlr train`` / ``rdlr export`` (or :func:`rdlr.models.save_model`);
    ``engine="onnx"`` predicts through onnxruntime with the folder's ``model.onnx`` (``rdlr onnx MODEL_DIR``).

    Raises :class:`ModelFolderError` for a folder that is not a model, a newer format, a corrupt weights file,
    feature extractors configured differently here than at training, or (engine onnx) a missing ``model.onnx`` or
    one written from other weights; warns (``ModelVersionWarning``) when rdlr, torch or a feature library has
    another version than the one that wrote the model.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    folder = Path(model_dir).expanduser().resolve()
    card, weights = read_model(folder)
    warn_versions(card, folder)
    extractors = model_extractors(card.features, folder)
    classifier = EmotionClassifier(card.input_dim, num_classes=len(card.classes))
    try:
        classifier.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        reason = str(error).splitlines()[0]
        raise ModelFolderError(
            f"{folder / WEIGHTS_FILE}: the weights do not fit the classifier the card describes "
            f"({reason} ...); the folder's files do not belong together"
        ) from None
    if engine == "torch":
        scorer: TorchScorer | OnnxScorer = TorchScorer(classifier, card.feature_mean, card.feature_std, device)
    else:
        scorer = onnx_scorer(folder, device)
    return TrainedModel(folder, card, scorer, extractors, device, engine)


def onnx_scorer(folder: Path, device: str) -> OnnxScorer:
    """The onnxruntime scorer of ``folder``'s ``model.onnx``, checked against its ``model.json``."""
    from rdlr.models.onnx_graph import check_metadata, read_onnx

    document = read_json(folder / CARD_FILE)
    scorer = OnnxScorer(read_onnx(folder, document), folder / ONNX_FILE, device)
    check_metadata(scorer.metadata, document, folder / ONNX_FILE)
    return scorer
