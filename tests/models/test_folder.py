"""The model folder: what it records, exact round trips, and clear refusals (newer format, changed feature config,
corrupt or mismatched weights, not a model), all without training."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import rdlr
from rdlr.features.is10 import IS10Config, IS10Extractor
from rdlr.labels import CLASSES
from rdlr.model import EmotionClassifier
from rdlr.models import FORMAT_VERSION, ModelCard, ModelFolderError, ModelVersionWarning, load_model, read_model
from rdlr.models import extractors as model_extractors
from rdlr.models.card import README_FILE
from rdlr.models.extractors import spec_of
from rdlr.models.folder import CARD_FILE, WEIGHTS_FILE, save_model

DIM = 1582


def make_model(folder: Path, seed: int = 0) -> tuple[ModelCard, dict[str, torch.Tensor]]:
    """A model folder with an IS10 input, random weights and random normalisation statistics."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    weights = EmotionClassifier(DIM).state_dict()
    card = ModelCard(
        classes=CLASSES,
        features=(spec_of("is10", IS10Extractor(), DIM),),
        feature_mean=rng.normal(size=DIM).astype(np.float32),
        feature_std=rng.uniform(0.5, 2.0, size=DIM).astype(np.float32),
        method={"id": "ce", "label": "CE", "components": ["ce", "cw"]},
        hparams={"batch_size": 32},
        seed=seed,
        training={"command": "test"},
        metrics={"val_ua": 0.5, "nan_metric": float("nan")},
    )
    save_model(folder, card, weights)
    return card, weights


def edit_card(folder: Path, **changes: object) -> None:
    path = folder / CARD_FILE
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


def test_round_trip_is_exact_and_the_card_says_what_the_model_is(tmp_path):
    card, weights = make_model(tmp_path / "m")
    read_card, read_weights = read_model(tmp_path / "m")
    assert read_card.classes == CLASSES and read_card.input_dim == DIM
    np.testing.assert_array_equal(read_card.feature_mean, card.feature_mean)  # float32 through JSON, bit for bit
    np.testing.assert_array_equal(read_card.feature_std, card.feature_std)
    assert set(read_weights) == set(weights)
    assert all(torch.equal(read_weights[key], weights[key]) for key in weights)
    document = json.loads((tmp_path / "m" / CARD_FILE).read_text())
    assert document["format_version"] == FORMAT_VERSION and document["metrics"]["nan_metric"] is None
    assert document["features"][0]["config"] == {
        "feature_level": "Functionals",
        "feature_set": "IS10",
        "sample_rate": 16000,
    }
    assert document["features"][0]["config_hash"] == IS10Config().config_hash()
    assert {"rdlr", "torch", "opensmile"} <= set(document["versions"])
    assert not [p.name for p in (tmp_path / "m").iterdir() if p.name not in (CARD_FILE, WEIGHTS_FILE, README_FILE)]


def test_predict_features_normalises_with_the_saved_statistics(tmp_path):
    card, weights = make_model(tmp_path / "m")
    model = rdlr.load_model(tmp_path / "m")
    x = np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32)
    reference = EmotionClassifier(DIM)
    reference.load_state_dict(weights)
    with torch.no_grad():
        logits = reference.eval()(
            (torch.from_numpy(x) - torch.from_numpy(card.feature_mean)) / torch.from_numpy(card.feature_std)
        ).logits
    expected = torch.softmax(logits, dim=1).numpy()
    frame = model.predict_features(x)
    assert list(frame.columns) == ["label", *(f"prob_{c}" for c in CLASSES)]
    np.testing.assert_array_equal(frame.iloc[:, 1:].to_numpy(), expected.astype(np.float64))
    assert frame["label"].tolist() == [CLASSES[i] for i in expected.argmax(1)]
    with pytest.raises(ValueError, match=r"features must be N × 1582 \(is10 \(1582\)\), got \(5, 3\)"):
        model.predict_features(x[:, :3])


def test_a_newer_format_is_refused(tmp_path):
    make_model(tmp_path / "m")
    edit_card(tmp_path / "m", format_version=FORMAT_VERSION + 1)
    with pytest.raises(
        ModelFolderError, match=f"format version {FORMAT_VERSION + 1} was written by a newer rdlr.*upgrade rdlr"
    ):
        load_model(tmp_path / "m")


def test_a_changed_feature_config_in_the_folder_is_refused_naming_the_field(tmp_path):
    make_model(tmp_path / "m")
    document = json.loads((tmp_path / "m" / CARD_FILE).read_text())
    document["features"][0]["config"]["feature_level"] = "LowLevelDescriptors"
    (tmp_path / "m" / CARD_FILE).write_text(json.dumps(document))
    with pytest.raises(
        ModelFolderError,
        match="feature set 'is10' was computed with another extractor config.*"
        "feature_level: 'LowLevelDescriptors' \\(model\\) vs 'Functionals'",
    ):
        load_model(tmp_path / "m")


def test_an_installed_extractor_that_changed_is_refused(tmp_path, monkeypatch):
    make_model(tmp_path / "m")
    changed = IS10Extractor(IS10Config(feature_set="IS09"))
    monkeypatch.setattr(model_extractors, "build_extractor", lambda name, models=None: changed)
    with pytest.raises(
        ModelFolderError, match="feature_set: 'IS10' \\(model\\) vs 'IS09' \\(installed\\); config hash"
    ):
        load_model(tmp_path / "m")


def test_a_corrupt_weights_file_gives_a_clear_error_naming_it(tmp_path):
    make_model(tmp_path / "m")
    weights = tmp_path / "m" / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFolderError, match=f"{weights}: the weights file is corrupt or was replaced"):
        load_model(tmp_path / "m")
    # a file that is not safetensors at all, with a checksum that matches (e.g. a card edited by hand)
    weights.write_bytes(b"\x00" * 64)
    edit_card(tmp_path / "m", weights={"file": WEIGHTS_FILE, "sha256": hashlib.sha256(b"\x00" * 64).hexdigest()})
    with pytest.raises(ModelFolderError, match=f"{weights}: not a readable safetensors file"):
        load_model(tmp_path / "m")
    weights.unlink()
    with pytest.raises(ModelFolderError, match="weights file missing"):
        load_model(tmp_path / "m")


def test_weights_of_another_model_do_not_load(tmp_path):
    make_model(tmp_path / "m")
    other = tmp_path / "other"
    other_card, _ = make_model(other)
    save_model(other, other_card, EmotionClassifier(DIM, num_classes=3).state_dict(), overwrite=True)
    document = json.loads((tmp_path / "m" / CARD_FILE).read_text())
    document["weights"] = json.loads((other / CARD_FILE).read_text())["weights"]
    (tmp_path / "m" / CARD_FILE).write_text(json.dumps(document))
    (tmp_path / "m" / WEIGHTS_FILE).write_bytes((other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(ModelFolderError, match="the weights do not fit the classifier"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something-else"}, "not an rdlr model card"),
        ({"classes": ["neutral"]}, "'classes' must list at least two class names"),
        ({"input_dim": 12}, "input_dim 12 is not the sum of the feature dims"),
        ({"normalization": {"mean": [0.0], "std": [1.0]}}, "normalization.mean must hold 1582 finite numbers"),
        ({"seed": "zero"}, "'seed' must be int"),
    ],
)
def test_malformed_cards_are_refused_naming_the_key(tmp_path, change, message):
    make_model(tmp_path / "m")
    edit_card(tmp_path / "m", **change)
    with pytest.raises(ModelFolderError, match=message):
        load_model(tmp_path / "m")


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelFolderError, match="model folder not found"):
        load_model(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderError, match="is not an rdlr model folder: it has no model.json"):
        load_model(tmp_path / "empty")
    (tmp_path / "empty" / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelFolderError, match="model.json: not valid JSON"):
        load_model(tmp_path / "empty")


def test_an_integer_of_thousands_of_digits_in_the_card_is_one_line_naming_the_file(tmp_path):
    make_model(tmp_path / "m")
    card = tmp_path / "m" / CARD_FILE
    card.write_text(card.read_text().replace('"format_version": ', '"format_version": ' + "9" * 5000 + ', "_": ', 1))
    with pytest.raises(ModelFolderError, match=r"model\.json.*digits") as refused:
        load_model(tmp_path / "m")
    assert "\n" not in str(refused.value)


def test_other_versions_warn_and_an_existing_model_is_not_overwritten(tmp_path):
    card, weights = make_model(tmp_path / "m")
    edit_card(tmp_path / "m", versions={**card.versions, "torch": "1.0.0"})
    with pytest.warns(ModelVersionWarning, match=r"torch 1.0.0 \(model\) vs .* \(installed\)"):
        load_model(tmp_path / "m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_model(tmp_path / "fresh")
        load_model(tmp_path / "fresh")
    with pytest.raises(ModelFolderError, match="already holds a model"):
        save_model(tmp_path / "m", card, weights)


@pytest.mark.parametrize("case", ["nan_weights", "int8_weights", "tiny_std", "duplicate_classes", "hostile_classes"])
def test_model_folders_that_would_predict_garbage_are_refused_in_one_line(case, tmp_path):
    import torch

    from rdlr.labels import CLASSES
    from rdlr.models.checks import check_classes, check_weights
    from rdlr.models.folder import ModelFolderError

    source = tmp_path / "model.safetensors"
    with pytest.raises(ModelFolderError) as caught:
        if case == "nan_weights":
            check_weights({"w": torch.tensor([1.0, float("nan")])}, source)
        elif case == "int8_weights":
            check_weights({"w": torch.zeros(3, dtype=torch.int8)}, source)
        elif case == "tiny_std":
            from rdlr.models.folder import _statistics

            _statistics({"normalization": {"mean": [0.0], "std": [1e-30]}}, 1, source)
        elif case == "duplicate_classes":
            check_classes([*CLASSES[:3], CLASSES[0]], source)
        else:
            check_classes(["=cmd|' /C calc'!A0", "../../etc/passwd", "a\nb,c", "angry"], source)
    assert str(source) in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"normalization": "huge_mean"}, "normalization.mean must be at most 1e\\+10 in magnitude"),
        ({"weights": {"file": WEIGHTS_FILE}}, "model.json: missing key 'sha256'"),
    ],
)
def test_a_huge_mean_or_a_card_without_the_weights_sha256_is_refused(tmp_path, change, message):
    make_model(tmp_path / "m")
    if change.get("normalization") == "huge_mean":
        document = json.loads((tmp_path / "m" / CARD_FILE).read_text())
        document["normalization"]["mean"][7] = 1e30
        change = {"normalization": document["normalization"]}
    edit_card(tmp_path / "m", **change)
    with pytest.raises(ModelFolderError, match=message) as raised:
        load_model(tmp_path / "m")
    assert str(tmp_path / "m" / CARD_FILE) in str(raised.value) and "\n" not in str(raised.value)


def test_a_non_finite_output_is_an_error_row_never_a_label(tmp_path, monkeypatch):
    from rdlr.features.base import Extracted

    make_model(tmp_path / "m")
    model = load_model(tmp_path / "m")
    assert model.predict_features(np.full((1, DIM), 3e38, dtype=np.float32))["label"].tolist() == [""]
    vectors = [np.full(DIM, np.nan, dtype=np.float32), np.full(DIM, 3e38, dtype=np.float32)]
    monkeypatch.setattr(model.extractors[0], "extract", lambda batch: [Extracted(vector=v) for v in vectors])
    rows = model.predict([tmp_path / "nan.wav", tmp_path / "overflow.wav"], progress=False)
    assert rows["label"].tolist() == ["", ""] and rows[model.probability_columns].isna().all().all()
    assert rows["error"].tolist() == [
        f"is10: non-finite features: {tmp_path / 'nan.wav'}",
        f"non-finite model output (check the model folder): {tmp_path / 'overflow.wav'}",
    ]
