"""Trained models people can use: a model as a folder (``model.json`` + ``model.safetensors``), trained from
manifests (``rdlr train``), exported from a sweep (``rdlr export``), and loaded to predict (``rdlr predict``,
:func:`load_model`).

``load_model(MODEL_DIR).predict(["a.wav", "folder/", "manifest.csv"])`` -> a DataFrame with ``path``, ``utt_id``,
``label``, ``prob_<class>`` and ``error``; ``.predict_features(x)`` for precomputed features.
"""

from rdlr.models.folder import FORMAT_VERSION, ModelCard, ModelFolderError, ModelVersionWarning, read_model, save_model
from rdlr.models.predictor import TrainedModel, load_model

__all__ = [
    "FORMAT_VERSION",
    "ModelCard",
    "ModelFolderError",
    "ModelVersionWarning",
    "TrainedModel",
    "load_model",
    "read_model",
    "save_model",
]
