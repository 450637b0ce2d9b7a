"""``rdlr onnx``: one graph (z-normalisation + F + softmax) that onnxruntime runs as PyTorch runs the model, for
each model family (plain CE, AE, Proxy-Anchor heads) and for two feature sets concatenated; its metadata; the
onnx engine of ``rdlr predict`` and ``load_model``; and refusals of missing, stale or corrupt graphs."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnx
import pandas as pd
import pytest
import soundfile as sf
import torch

import rdlr
from rdlr.cli import main
from rdlr.features.audio import record_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig
from rdlr.features.is10 import IS10_DIM, IS10Extractor
from rdlr.features.registry import register_extractor, unregister_extractor
from rdlr.labels import CLASSES
from rdlr.model import EmotionClassifier
from rdlr.models import ModelCard, ModelFolderError, save_model
from rdlr.models.extractors import spec_of
from rdlr.models.folder import CARD_FILE, ONNX_FILE, WEIGHTS_FILE
from rdlr.models.onnx_export import TOLERANCE, check_rows, export_onnx
from rdlr.models.onnx_graph import OPSET
from rdlr.train import TrainConfig, run_trial
from tests.helpers.synthetic import synthetic_trial_data

FAMILIES = ("ce", "ae", "proxy_anchor")  # plain classifier; encoder-decoder (12); Proxy-Anchor head (3)


@pytest.fixture
def loudness_features():
    """A second feature set, ``loudness`` (3 dims: RMS, peak, zero-crossing rate), registered for the test."""
    register_extractor("loudness", lambda models: LoudnessExtractor())
    yield
    unregister_extractor("loudness")


@dataclass(frozen=True)
class LoudnessConfig(ExtractorConfig):
    """No settings."""


class LoudnessExtractor(Extractor):
    name: ClassVar[str] = "loudness"
    dim = 3

    def __init__(self) -> None:
        self.config = LoudnessConfig()

    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        results = []
        for record in batch:
            audio = record_audio(record)
            crossings = np.mean(np.abs(np.diff(np.sign(audio)))) / 2
            results.append(
                Extracted(
                    vector=np.array([np.sqrt(np.mean(audio**2)), np.abs(audio).max(), crossings], dtype=np.float32)
                )
            )
        return results


def trained_folder(folder: Path, method: str, specs: tuple, seed: int = 0) -> Path:
    """A model of ``method`` trained for two epochs on synthetic rows as wide as ``specs``, saved as a folder."""
    dim = sum(spec.dim for spec in specs)
    result = run_trial(
        synthetic_trial_data(seed=seed, dim=dim, rows_per_corpus=64, unlabeled=32),
        method,
        {"batch_size": 32},
        seed=seed,
        config=TrainConfig(max_epochs=2),
    )
    state = result.state_dict
    card = ModelCard(
        classes=CLASSES,
        features=specs,
        feature_mean=state["feature_mean"].numpy(),
        feature_std=state["feature_std"].numpy(),
        method={"id": method},
        hparams={"batch_size": 32},
        seed=seed,
        training={"command": "test"},
        metrics={"val_ua": result.final["val_ua"]},
    )
    return save_model(folder, card, state["classifier"])


def random_folder(folder: Path, seed: int = 0, classes: tuple[str, ...] = CLASSES) -> Path:
    """An IS10 model of ``classes`` with random weights and statistics (no training), saved as a folder."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    card = ModelCard(
        classes=classes,
        features=(is10_spec(),),
        feature_mean=rng.normal(size=IS10_DIM).astype(np.float32),
        feature_std=rng.uniform(0.5, 2.0, size=IS10_DIM).astype(np.float32),
        method={"id": "ce"},
        hparams={},
        seed=seed,
        training={"command": "test"},
        metrics={},
    )
    return save_model(folder, card, EmotionClassifier(IS10_DIM, len(classes)).state_dict())


def is10_spec():
    return spec_of("is10", IS10Extractor(), IS10_DIM)


def both_engines(folder: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return rdlr.load_model(folder).probabilities(x), rdlr.load_model(folder, engine="onnx").probabilities(x)


@pytest.mark.slow  # trains a model of each family
@pytest.mark.parametrize("method", FAMILIES)
def test_onnx_runs_each_model_family_as_pytorch_does(tmp_path, method):
    folder = trained_folder(tmp_path / method, method, (is10_spec(),))
    outcome = export_onnx(folder)
    assert outcome.path == folder / ONNX_FILE and outcome.max_abs_diff <= TOLERANCE
    card = rdlr.load_model(folder).card
    x = check_rows(card.feature_mean, card.feature_std) * np.float32(1.5)  # other rows than the export's check
    torch_probs, onnx_probs = both_engines(folder, x)
    assert np.abs(onnx_probs - torch_probs).max() <= TOLERANCE
    assert (onnx_probs.argmax(1) == torch_probs.argmax(1)).all()
    np.testing.assert_allclose(onnx_probs.sum(1), 1.0, atol=1e-5)


def test_the_graph_has_a_dynamic_batch_its_opset_and_says_what_it_takes(tmp_path):
    folder = random_folder(tmp_path / "m")
    export_onnx(folder)
    graph = onnx.load(folder / ONNX_FILE)
    onnx.checker.check_model(graph, full_check=True)
    assert graph.opset_import[0].version >= 17 and graph.opset_import[0].version == OPSET
    (features,), (probabilities,) = graph.graph.input, graph.graph.output
    assert [d.dim_param or d.dim_value for d in features.type.tensor_type.shape.dim] == ["batch", IS10_DIM]
    assert [d.dim_param or d.dim_value for d in probabilities.type.tensor_type.shape.dim] == ["batch", len(CLASSES)]
    metadata = {prop.key: prop.value for prop in graph.metadata_props}
    document = json.loads((folder / CARD_FILE).read_text())
    assert json.loads(metadata["rdlr.classes"]) == list(CLASSES)
    assert json.loads(metadata["rdlr.features"]) == document["features"]  # extractor classes, configs and hashes
    assert json.loads(metadata["rdlr.input_order"]) == [{"name": "is10", "start": 0, "stop": IS10_DIM}]
    assert metadata["rdlr.weights_sha256"] == document["weights"]["sha256"]
    assert document["onnx"]["sha256"] and document["onnx"]["max_abs_diff_vs_torch"] <= TOLERANCE
    readme = (folder / "README.md").read_text()
    assert "## ONNX" in readme and "| `is10` | 0–1581 |" in readme
    for batch in (1, 7):  # any batch size, including one row
        x = np.random.default_rng(batch).normal(size=(batch, IS10_DIM)).astype(np.float32)
        torch_probs, onnx_probs = both_engines(folder, x)
        assert onnx_probs.shape == (batch, len(CLASSES)) and np.abs(onnx_probs - torch_probs).max() <= TOLERANCE


def tone_files(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        t = np.arange(12_000) / 16_000
        tone = (0.1 + 0.1 * i) * np.sin(2 * np.pi * (110 + 60 * i) * t) + 0.01 * rng.normal(size=t.size)
        paths.append(folder / f"tone{i}.wav")
        sf.write(paths[-1], tone.astype(np.float32), 16_000)
    return paths


@pytest.mark.slow  # trains
def test_two_feature_sets_concatenated_in_the_model_order(tmp_path, loudness_features):
    specs = (is10_spec(), spec_of("loudness", LoudnessExtractor(), 3))
    folder = trained_folder(tmp_path / "m", "ce", specs)
    assert export_onnx(folder).max_abs_diff <= TOLERANCE
    metadata = {p.key: p.value for p in onnx.load(folder / ONNX_FILE).metadata_props}
    assert json.loads(metadata["rdlr.input_order"]) == [
        {"name": "is10", "start": 0, "stop": IS10_DIM},
        {"name": "loudness", "start": IS10_DIM, "stop": IS10_DIM + 3},
    ]
    files = tone_files(tmp_path / "wav")
    by_torch = rdlr.load_model(folder).predict(files, progress=False)
    by_onnx = rdlr.load_model(folder, engine="onnx").predict(files, progress=False)
    assert (by_torch["error"] == "").all() and by_torch["label"].tolist() == by_onnx["label"].tolist()
    columns = [f"prob_{name}" for name in CLASSES]
    assert np.abs(by_torch[columns].to_numpy() - by_onnx[columns].to_numpy()).max() <= TOLERANCE


def test_rdlr_onnx_and_predict_with_the_onnx_engine(tmp_path, capsys):
    folder = random_folder(tmp_path / "m")
    assert main(["onnx", str(folder)]) == 0
    printed = capsys.readouterr().out
    difference = float(printed.split("largest absolute difference ")[1].split()[0])
    assert difference <= TOLERANCE and f"wrote {folder / ONNX_FILE}" in printed
    files = [str(p) for p in tone_files(tmp_path / "wav")]
    outputs = {}
    for engine in ("torch", "onnx"):
        out = tmp_path / f"{engine}.csv"
        assert main(["predict", "--engine", engine, "--no-progress", str(folder), *files, "--out", str(out)]) == 0
        outputs[engine] = pd.read_csv(out)
    assert outputs["torch"]["label"].tolist() == outputs["onnx"]["label"].tolist()
    columns = [f"prob_{name}" for name in CLASSES]
    np.testing.assert_allclose(outputs["torch"][columns], outputs["onnx"][columns], atol=2e-6)


def test_a_missing_stale_or_corrupt_graph_is_refused(tmp_path, capsys):
    folder = random_folder(tmp_path / "m")
    with pytest.raises(ModelFolderError, match=f"{ONNX_FILE} does not exist: write it with rdlr onnx"):
        rdlr.load_model(folder, engine="onnx")
    assert main(["predict", "--engine", "onnx", str(folder), "x.wav"]) == 2
    assert "rdlr onnx" in capsys.readouterr().err
    export_onnx(folder)
    graph = (folder / ONNX_FILE).read_bytes()
    (folder / ONNX_FILE).write_bytes(graph[:-10])
    with pytest.raises(ModelFolderError, match="differs from the one rdlr onnx wrote"):
        rdlr.load_model(folder, engine="onnx")
    (folder / ONNX_FILE).write_bytes(graph)
    card, weights = rdlr.models.read_model(folder)
    save_model(folder, card, {k: v + 0.01 for k, v in weights.items()}, overwrite=True)  # retrained in place
    assert not (folder / ONNX_FILE).exists()  # the old graph went with the old weights
    (folder / ONNX_FILE).write_bytes(graph)  # and a copy of it put back is refused by its weights' hash
    with pytest.raises(ModelFolderError, match=f"written from other weights than {WEIGHTS_FILE}"):
        rdlr.load_model(folder, engine="onnx")
    with pytest.raises(ValueError, match="unknown engine 'tensorrt'; valid: torch, onnx"):
        rdlr.load_model(folder, engine="tensorrt")
    assert main(["onnx", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("rdlr onnx: error: model folder not found")


def test_a_seven_class_model_exports_its_own_classes_and_its_onnx_engine_pickles(tmp_path):
    classes = ("neutral", "happy", "sad", "angry", "fear", "disgust", "boredom")
    folder = random_folder(tmp_path / "m", classes=classes)
    export_onnx(folder)
    graph = onnx.load(folder / ONNX_FILE)
    assert graph.graph.output[0].type.tensor_type.shape.dim[1].dim_value == len(classes)
    assert json.loads({p.key: p.value for p in graph.metadata_props}["rdlr.classes"]) == list(classes)
    model = rdlr.load_model(folder, engine="onnx")
    x = np.random.default_rng(0).normal(size=(3, IS10_DIM)).astype(np.float32)
    copy = pickle.loads(pickle.dumps(model))  # as Ray Serve ships it to a replica: the graph's bytes, a new session
    np.testing.assert_array_equal(copy.probabilities(x), model.probabilities(x))
    assert list(model.predict_features(x).columns) == ["label", *(f"prob_{name}" for name in classes)]
