"""A model's normalisation (rdlr.normalization): the folder records it, prediction uses it by default with the inputs'
own statistics (all files together, or per speaker), refuses too few files in one line before reading audio, and
``--normalization train`` uses the training statistics kept in the folder. No training: random weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import rdlr
from rdlr.cli import main
from rdlr.labels import CLASSES
from rdlr.model import EmotionClassifier
from rdlr.models import inputs, read_model
from rdlr.models.folder import CARD_FILE, save_model
from rdlr.normalization import MIN_FILES, MIN_SPEAKER_UTTERANCES
from tests.models.test_folder import DIM, make_model


def with_normalization(folder: Path, strategy: str) -> tuple[dict[str, torch.Tensor], np.ndarray, np.ndarray]:
    """A model folder whose card says ``strategy``; (weights, training mean, training std)."""
    card, weights = make_model(folder)
    save_model(folder, dataclasses.replace(card, normalization=strategy), weights, overwrite=True)
    return weights, card.feature_mean, card.feature_std


def reference_probabilities(weights: dict[str, torch.Tensor], z: np.ndarray) -> np.ndarray:
    classifier = EmotionClassifier(DIM)
    classifier.load_state_dict(weights)
    with torch.no_grad():
        return torch.softmax(classifier.eval()(torch.as_tensor(z, dtype=torch.float32)).logits, dim=1).numpy()


def own_z(x: np.ndarray) -> np.ndarray:
    """z-scores with the rows' own mean and std (ddof 1; no dimension here is near constant)."""
    return (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)


def test_the_folder_records_the_choice_and_old_cards_read_as_train(tmp_path):
    with_normalization(tmp_path / "m", "speaker")
    document = json.loads((tmp_path / "m" / CARD_FILE).read_text())
    assert document["normalization"]["strategy"] == "speaker"
    assert read_model(tmp_path / "m")[0].normalization == "speaker"
    assert "per speaker" in (tmp_path / "m" / "README.md").read_text()
    del document["normalization"]["strategy"]
    (tmp_path / "m" / CARD_FILE).write_text(json.dumps(document))
    assert rdlr.load_model(tmp_path / "m").normalization == "train"


def test_corpus_models_normalise_the_inputs_with_their_own_statistics(tmp_path):
    weights, mean, std = with_normalization(tmp_path / "m", "corpus")
    model = rdlr.load_model(tmp_path / "m")
    x = (np.random.default_rng(1).normal(size=(MIN_FILES + 5, DIM)) * 3 + 40).astype(np.float32)
    frame = model.predict_features(x)
    np.testing.assert_allclose(frame.iloc[:, 1:].to_numpy(), reference_probabilities(weights, own_z(x)), atol=1e-5)
    stored = model.predict_features(x, normalization="train")
    expected = reference_probabilities(weights, (x - mean) / std)
    np.testing.assert_allclose(stored.iloc[:, 1:].to_numpy(), expected, atol=1e-6)


def test_speaker_models_normalise_each_speaker_and_pool_the_small_ones(tmp_path):
    weights, _, _ = with_normalization(tmp_path / "m", "speaker")
    model = rdlr.load_model(tmp_path / "m")
    rng = np.random.default_rng(2)
    speakers = ["a"] * MIN_SPEAKER_UTTERANCES + ["b"] * MIN_SPEAKER_UTTERANCES + ["c"] * 3 + [""] * 2
    x = rng.normal(size=(len(speakers), DIM)).astype(np.float32) + np.repeat(
        [[0.0], [9.0], [-9.0], [1.0]], [20, 20, 3, 2], axis=0
    ).astype(np.float32)
    z = own_z(x)  # the small speaker and the unnamed rows: the statistics of all inputs
    for name in ("a", "b"):
        rows = [i for i, s in enumerate(speakers) if s == name]
        z[rows] = own_z(x[rows])
    frame = model.predict_features(x, speakers=speakers)
    np.testing.assert_allclose(frame.iloc[:, 1:].to_numpy(), reference_probabilities(weights, z), atol=1e-5)
    with pytest.raises(ValueError, match="needs each file's speaker: a 'speaker' column in a manifest, or "):
        model.predict_features(x)


def test_too_few_inputs_are_refused_saying_what_to_do(tmp_path):
    with_normalization(tmp_path / "m", "corpus")
    model = rdlr.load_model(tmp_path / "m")
    x = np.zeros((MIN_FILES - 1, DIM), dtype=np.float32)
    with pytest.raises(ValueError) as caught:
        model.predict_features(x)
    message = str(caught.value)
    assert "\n" not in message and f"at least {MIN_FILES} files" in message and f"got {MIN_FILES - 1}" in message
    assert "give more files, or --normalization train" in message
    assert len(model.predict_features(x, normalization="train")) == MIN_FILES - 1


def test_rdlr_predict_refuses_before_reading_audio_and_names_the_fix(tmp_path, capsys, monkeypatch):
    with_normalization(tmp_path / "m", "corpus")
    for i in range(3):
        sf.write(tmp_path / f"0{i}a01Fa.wav", np.zeros(1600, dtype=np.float32), 16000)

    def no_audio(*args, **kwargs):
        raise AssertionError("audio was read")

    monkeypatch.setattr("rdlr.models.predictor.TrainedModel.extract_records", no_audio)
    assert main(["predict", str(tmp_path / "m"), str(tmp_path), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "needs at least" in error and "--normalization train" in error


def test_speakers_come_from_a_manifest_column_or_a_pattern_over_file_names(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,speaker\na/03a01Fa.wav,03\na/10b02Wc.wav,\n")
    records = inputs.collect([manifest])
    assert [r["speaker"] for r in records] == ["03", ""]
    inputs.speakers_from_names(records, r"^(\d\d)")
    assert [r["speaker"] for r in records] == ["03", "10"]
    inputs.speakers_from_names(records, r"[A-Z]")
    assert [r["speaker"] for r in records] == ["F", "W"]
    inputs.speakers_from_names(records, r"^x(\d)")
    assert [r["speaker"] for r in records] == ["", ""]
    with pytest.raises(ValueError, match=r"--speaker-from '\(': not a regular expression"):
        inputs.speakers_from_names(records, "(")


def test_inputs_constant_in_every_dimension_still_give_finite_predictions(tmp_path):
    with_normalization(tmp_path / "m", "corpus")
    frame = rdlr.load_model(tmp_path / "m").predict_features(np.full((MIN_FILES, DIM), 2.0, dtype=np.float32))
    assert list(frame.columns) == ["label", *(f"prob_{c}" for c in CLASSES)]
    assert np.isfinite(frame.iloc[:, 1:].to_numpy()).all() and (frame["label"] != "").all()
