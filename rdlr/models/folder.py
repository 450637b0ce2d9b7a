"""A trained model as a folder: ``model.json`` says what the model is, ``model.safetensors`` holds its weights.

``model.json`` holds the format name and version, the class names in output order, the feature sets with their
extractor configs and config hashes, the z-normalisation statistics (mean and std of every input dimension over
the training rows, the statistics of Section 3.2's input normalisation) and the normalisation the model was trained
with (``normalization.strategy``, :mod:`rdlr.normalization`; ``train`` in cards written before it), the method and
its resolved
hyperparameters, the seed, the training data and split, the metrics on the validation (and test) data, the
per-epoch history, the versions of rdlr, torch and the feature libraries, and the SHA-256 of the weights file.

Nothing read from the folder is unpickled: JSON and safetensors only. Each file is written atomically (temp file
+ ``os.replace``), the weights first, then the human-readable card ``README.md`` (:mod:`rdlr.models.card`), and
``model.json`` last, so a folder with a ``model.json`` is complete.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rdlr.features.provenance import package_versions
from rdlr.io.safe_text import DocumentError, read_json
from rdlr.io.storage import write_atomically
from rdlr.models.card import README_FILE, model_card
from rdlr.models.checks import MAX_ABS_MEAN, STD_FLOOR, check_classes, check_weights
from rdlr.models.errors import ModelFolderError
from rdlr.normalization import DEFAULT_NORMALIZATION, DESCRIPTIONS, NORMALIZATIONS

FORMAT = "rdlr-model"
FORMAT_VERSION = 1
CARD_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"  # rdlr onnx: rdlr.models.onnx_export
CHECKED_PACKAGES: tuple[str, ...] = ("torch", "opensmile", "transformers", "openai-whisper")
RECORDED_PACKAGES: tuple[str, ...] = (*CHECKED_PACKAGES, "numpy", "safetensors")


class ModelVersionWarning(UserWarning):
    """The model was written with other versions of rdlr, torch or a feature library than those installed."""


def installed_versions() -> dict[str, str]:
    """Versions of rdlr, Python and the packages that shape a model's features and outputs."""
    from rdlr import __version__

    return {"rdlr": __version__, "python": platform.python_version(), **package_versions(RECORDED_PACKAGES)}


@dataclass(frozen=True)
class FeatureSpec:
    """One feature set of the model input: its store name, extractor class, config, config hash and width."""

    name: str
    extractor: str
    config: dict[str, Any]
    config_hash: str
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "extractor": self.extractor,
            "config": self.config,
            "config_hash": self.config_hash,
            "dim": self.dim,
        }


@dataclass
class ModelCard:
    """Everything ``model.json`` records about a trained model (the weights live in ``model.safetensors``)."""

    classes: tuple[str, ...]
    features: tuple[FeatureSpec, ...]
    feature_mean: np.ndarray
    feature_std: np.ndarray
    method: dict[str, Any]
    hparams: dict[str, Any]
    seed: int
    training: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    label_map: dict[str, dict[str, str | None]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=installed_versions)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    normalization: str = DEFAULT_NORMALIZATION

    @property
    def input_dim(self) -> int:
        return sum(spec.dim for spec in self.features)

    def to_json(self, weights_sha256: str) -> dict[str, Any]:
        return json_safe({
            "format": FORMAT, "format_version": FORMAT_VERSION, "created": self.created,
            "classes": list(self.classes), "label_map": self.label_map, "input_dim": self.input_dim,
            "features": [spec.to_dict() for spec in self.features],
            "normalization": {"mean": self.feature_mean.astype(np.float32).tolist(),
                              "std": self.feature_std.astype(np.float32).tolist(),
                              "fit_on": "training rows; model input = (features - mean) / std",
                              "strategy": self.normalization,
                              "strategy_description": DESCRIPTIONS[self.normalization]},
            "method": self.method, "hparams": self.hparams, "seed": self.seed,
            "training": self.training, "metrics": self.metrics, "history": self.history,
            "versions": self.versions,
            "weights": {"file": WEIGHTS_FILE, "sha256": weights_sha256,
                        "architecture": "rdlr.model.EmotionClassifier(input_dim, len(classes))"},
        })  # fmt: skip


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, non-finite floats as ``None``."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(item) for item in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---- writing ----------------------------------------------------------------------------------------------------
def save_model(
    folder: str | os.PathLike[str], card: ModelCard, weights: Mapping[str, torch.Tensor], overwrite: bool = False
) -> Path:
    """Write ``card`` and the classifier's ``weights`` (its state dict) as a model folder; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder).expanduser().resolve()
    if (folder / CARD_FILE).exists() and not overwrite:
        raise ModelFolderError(f"{folder} already holds a model ({CARD_FILE}); choose another folder or overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ONNX_FILE).unlink(missing_ok=True)  # the graph of the weights being replaced
    tensors = {key: value.detach().cpu().contiguous() for key, value in weights.items()}
    header = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    write_atomically(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, tmp, metadata=header))
    digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
    document = card.to_json(digest)
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    readme = model_card(document, folder.name)
    write_atomically(folder / README_FILE, lambda tmp: Path(tmp).write_text(readme, encoding="utf-8"))
    write_atomically(folder / CARD_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return folder


# ---- reading ----------------------------------------------------------------------------------------------------
def _get(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: Path) -> Any:
    if key not in doc:
        raise ModelFolderError(f"{source}: missing key {key!r}; the file is incomplete (train or export it again)")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ModelFolderError(f"{source}: {key!r} must be {names}, got {value!r:.80}")
    return value


def check_format(doc: Any, source: Path) -> None:
    """Refuse files that are not rdlr model cards, and cards of a newer format than this rdlr reads."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFolderError(f'{source}: not an rdlr model card (no "format": "{FORMAT}")')
    version = _get(doc, "format_version", int, source)
    if version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{source}: model format version {version} was written by a newer rdlr; this rdlr "
            f"({installed_versions()['rdlr']}) reads format versions up to {FORMAT_VERSION}: upgrade rdlr"
        )
    if version < 1:
        raise ModelFolderError(f"{source}: invalid format_version {version}")


def _feature_spec(raw: Any, source: Path) -> FeatureSpec:
    if not isinstance(raw, dict):
        raise ModelFolderError(f"{source}: each entry of 'features' must be a mapping, got {raw!r:.80}")
    dim = _get(raw, "dim", int, source)
    if dim < 1:
        raise ModelFolderError(f"{source}: feature set {raw.get('name')!r} has dim {dim}")
    return FeatureSpec(
        name=_get(raw, "name", str, source),
        extractor=_get(raw, "extractor", str, source),
        config=_get(raw, "config", dict, source),
        config_hash=_get(raw, "config_hash", str, source),
        dim=dim,
    )


def _statistics(doc: Mapping[str, Any], input_dim: int, source: Path) -> tuple[np.ndarray, np.ndarray]:
    normalization = _get(doc, "normalization", dict, source)
    arrays = []
    for key in ("mean", "std"):
        values = _get(normalization, key, list, source)
        try:
            array = np.asarray(values, dtype=np.float32)
        except (TypeError, ValueError):
            raise ModelFolderError(f"{source}: normalization.{key} must be a list of numbers") from None
        if array.shape != (input_dim,) or not np.isfinite(array).all():
            raise ModelFolderError(
                f"{source}: normalization.{key} must hold {input_dim} finite numbers "
                f"(the input dimension), got shape {array.shape}"
            )
        arrays.append(array)
    if (arrays[1] < STD_FLOOR).any():
        raise ModelFolderError(f"{source}: normalization.std must be at least {STD_FLOOR:g} in every dimension")
    if (np.abs(arrays[0]) > MAX_ABS_MEAN).any():
        raise ModelFolderError(
            f"{source}: normalization.mean must be at most {MAX_ABS_MEAN:g} in magnitude in every dimension"
        )
    return arrays[0], arrays[1]


def card_from_json(doc: Any, source: Path) -> ModelCard:
    """A :class:`ModelCard` from a parsed ``model.json``, every field checked."""
    check_format(doc, source)
    classes = _get(doc, "classes", list, source)
    if len(classes) < 2 or not all(isinstance(name, str) and name for name in classes):
        raise ModelFolderError(f"{source}: 'classes' must list at least two class names, got {classes!r}")
    check_classes(classes, source)
    features = tuple(_feature_spec(raw, source) for raw in _get(doc, "features", list, source))
    if not features:
        raise ModelFolderError(f"{source}: 'features' is empty")
    input_dim = sum(spec.dim for spec in features)
    if _get(doc, "input_dim", int, source) != input_dim:
        raise ModelFolderError(
            f"{source}: input_dim {doc['input_dim']} is not the sum of the feature dims ({input_dim})"
        )
    mean, std = _statistics(doc, input_dim, source)
    return ModelCard(
        classes=tuple(classes), features=features, feature_mean=mean, feature_std=std,
        method=_get(doc, "method", dict, source), hparams=_get(doc, "hparams", dict, source),
        seed=_get(doc, "seed", int, source), training=_get(doc, "training", dict, source),
        metrics=_get(doc, "metrics", dict, source), history=_get(doc, "history", list, source),
        versions=_get(doc, "versions", dict, source), created=_get(doc, "created", str, source),
        label_map=_label_map(doc, classes, source), normalization=_strategy(doc, source),
    )  # fmt: skip


def _label_map(doc: Mapping[str, Any], classes: list[str], source: Path) -> dict[str, dict[str, str | None]]:
    """``label_map`` of ``model.json`` (absent in folders written before class sets: ``{}``), every target a class
    or null."""
    raw = doc.get("label_map", {})
    if not isinstance(raw, dict) or not all(isinstance(m, dict) for m in raw.values()):
        raise ModelFolderError(f"{source}: 'label_map' must map corpus names to {{emotion: class or null}}")
    for corpus, mapping in raw.items():
        for emotion, target in mapping.items():
            if target is not None and target not in classes:
                raise ModelFolderError(
                    f"{source}: label_map {corpus}: {emotion} -> {target!r} is not one of the "
                    f"classes {', '.join(classes)}"
                )
    return raw


def _strategy(doc: Mapping[str, Any], source: Path) -> str:
    """The card's ``normalization.strategy`` (``train`` where a card written before it has none)."""
    strategy = doc["normalization"].get("strategy", DEFAULT_NORMALIZATION)
    if strategy not in NORMALIZATIONS:
        raise ModelFolderError(
            f"{source}: normalization.strategy {strategy!r:.80} is not one of {', '.join(NORMALIZATIONS)}"
        )
    return strategy


def read_weights(path: Path, sha256: str) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file at ``path``, after checking its SHA-256 against the card's."""
    from safetensors.torch import load

    if not path.is_file():
        raise ModelFolderError(f"weights file missing: {path}; copy the whole model folder")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelFolderError(
            f"{path}: the weights file is corrupt or was replaced (its SHA-256 differs from "
            f"the one in {CARD_FILE}); copy the model folder again or re-export it"
        )
    try:
        return load(data)
    except Exception as error:  # safetensors raises its own SafetensorError (and others) on malformed files
        raise ModelFolderError(
            f"{path}: not a readable safetensors file ({error}); copy the model folder again or re-export it"
        ) from None


def read_model(folder: str | os.PathLike[str]) -> tuple[ModelCard, dict[str, torch.Tensor]]:
    """The card and the classifier weights of the model folder ``folder``, checked (see the module docstring)."""
    folder = Path(folder).expanduser().resolve()
    card_path = folder / CARD_FILE
    if not folder.is_dir():
        raise ModelFolderError(f"model folder not found: {folder}")
    if not card_path.is_file():
        raise ModelFolderError(
            f"{folder} is not an rdlr model folder: it has no {CARD_FILE} (make one with rdlr train or rdlr export)"
        )
    try:
        doc = read_json(card_path)
    except DocumentError as error:
        raise ModelFolderError(str(error)) from None
    card = card_from_json(doc, card_path)
    weights_info = _get(doc, "weights", dict, card_path)
    sha256 = _get(weights_info, "sha256", str, card_path)
    weights = read_weights(folder / WEIGHTS_FILE, sha256)
    check_weights(weights, folder / WEIGHTS_FILE)
    return card, weights


def version_differences(card: ModelCard) -> list[str]:
    """``"torch 2.3.0 (model) vs 2.13.0 (installed)"`` for rdlr and each checked package whose version differs."""
    installed = installed_versions()
    differences = []
    for package in ("rdlr", *CHECKED_PACKAGES):
        saved = card.versions.get(package)
        if saved is not None and saved != installed.get(package):
            differences.append(f"{package} {saved} (model) vs {installed.get(package, 'not installed')} (installed)")
    return differences


def warn_versions(card: ModelCard, source: Path) -> None:
    differences = version_differences(card)
    if differences:
        warnings.warn(
            f"{source}: written with other versions: {'; '.join(differences)}; predictions may differ "
            "slightly from those measured at training",
            ModelVersionWarning,
            stacklevel=3,
        )
