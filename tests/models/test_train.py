"""``rdlr train``: one model on the demo corpora and on EmoDB with the sweeps' trainer, written as a model folder
whose saved weights and statistics give back the validation UA measured in training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rdlr
from rdlr.cli import main
from rdlr.corpora import assign_roles, load_corpus, read_manifest, write_manifest
from rdlr.features import load
from rdlr.labels import CLASSES
from rdlr.methods import get_method
from rdlr.metrics import unweighted_accuracy
from rdlr.models.folder import CARD_FILE
from rdlr.models.training import read_manifests
from tests.helpers.model_training import train_args, train_quietly

DEMO_LABELED = ("CRE-demo", "IEM-demo", "IMP-demo", "POD-demo")


def test_demo_model_card_records_the_training(demo_model):
    card = demo_model.outcome.card
    assert card.classes == CLASSES and [s.name for s in card.features] == ["is10"] and card.input_dim == 1582
    assert card.method["id"] == "ce" and card.hparams["batch_size"] == 32 and card.seed == 0
    corpora = card.training["corpora"]
    assert set(corpora) == {*DEMO_LABELED, "LIB-demo"} and corpora["LIB-demo"] == {"unlabeled": 8}
    for name in DEMO_LABELED:  # 3 speakers × 8 utterances: 2 speakers train, 1 speaker validation
        assert corpora[name] == {"train": 16, "val": 8}
    max_epochs = card.training["config"]["max_epochs"]
    assert card.training["split"]["held_out"] is None and max_epochs < 100
    metrics = card.metrics
    assert 0.0 <= metrics["val_ua"] <= 1.0 and "test_ua" not in metrics
    assert metrics["val_ua"] == pytest.approx(np.mean([metrics[f"val_ua/{name}"] for name in DEMO_LABELED]))
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"] <= max_epochs and len(card.history) == metrics["epochs"]
    assert json.loads((demo_model.folder / CARD_FILE).read_text())["metrics"]["val_ua"] == metrics["val_ua"]


def test_the_saved_model_gives_back_its_validation_ua(demo_model):
    """Best epoch's weights + saved z-normalisation statistics, applied to the stored features of the validation
    speakers, give exactly the validation UA the trainer measured."""
    table = load(demo_model.store, "is10")
    roles = assign_roles(table.meta, "out_of_corpus", None, seed=0).to_numpy()
    predicted = rdlr.load_model(demo_model.folder).predict_features(table.x)["label"].to_numpy()
    uas = []
    for name in DEMO_LABELED:
        rows = (roles == "val") & (table.meta["corpus"] == name).to_numpy()
        uas.append(
            unweighted_accuracy(
                table.meta["label"][rows].map(CLASSES.index).to_numpy(),
                np.array([CLASSES.index(p) for p in predicted[rows]]),
            )
        )
        assert uas[-1] == demo_model.outcome.card.metrics[f"val_ua/{name}"]
    assert np.mean(uas) == demo_model.outcome.card.metrics["val_ua"]


def _per_corpus(manifest: Path, folder: Path) -> dict[str, Path]:
    frame = read_manifest(manifest)
    return {name: write_manifest(rows, folder / f"{name}.csv") for name, rows in frame.groupby("corpus")}


def test_unlabeled_and_test_manifests(demo_model, tmp_path):
    """Three training corpora, LIB-demo as unlabeled speech for AE + PEL, POD-demo scored as an unseen corpus;
    features come from the store filled by the first model (nothing is extracted again)."""
    parts = _per_corpus(demo_model.manifest, tmp_path)
    outcome = train_quietly(
        [parts["CRE-demo"], parts["IEM-demo"], parts["IMP-demo"]],
        "cww_dagger",
        tmp_path / "model",
        demo_model.store,
        unlabeled_manifests=[parts["LIB-demo"]],
        test_manifests=[parts["POD-demo"]],
        hparams={"batch_size": 32},
        training={"max_epochs": 2},
    )
    card = outcome.card
    assert card.training["corpora"]["POD-demo"] == {"test": 24}
    assert card.training["corpora"]["LIB-demo"] == {"unlabeled": 8}
    assert {"ae", "pel", "cww", "ls"} <= set(card.method["components"])
    assert 0.0 <= card.metrics["test_ua"] <= 1.0 and "test_ua/POD-demo" in card.metrics
    assert len(card.metrics["confusion"]) == len(CLASSES)


def test_bad_manifest_combinations_fail_clearly(demo_model, tmp_path):
    parts = _per_corpus(demo_model.manifest, tmp_path)
    renamed = read_manifest(parts["CRE-demo"])
    renamed["utt_id"] = "copy_" + renamed["utt_id"]
    with pytest.raises(ValueError, match="CRE-demo is in a test manifest and a training manifest"):
        read_manifests([parts["CRE-demo"]], test=[write_manifest(renamed, tmp_path / "copy.csv")])
    with pytest.raises(ValueError, match="utt_id repeated across manifests"):
        read_manifests([parts["CRE-demo"], parts["CRE-demo"]])
    code = main(
        [*train_args(parts["CRE-demo"], demo_model.store), "--hparam", "batch_size", "--out", str(tmp_path / "m")]
    )
    assert code == 2


@pytest.fixture(scope="module")
def emodb_manifest(emodb_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 utterances of each EmoDB speaker (two per class of the paper's four where the speaker has them)."""
    frame = load_corpus("emodb", emodb_root, verbose=False)
    picked = frame[frame["label"].isin(CLASSES)].groupby(["speaker", "label"], group_keys=False).head(2)
    return write_manifest(picked.reset_index(drop=True), tmp_path_factory.mktemp("emodb") / "emodb.csv")


SEVEN = ("neutral", "happy", "sad", "angry", "fear", "disgust", "boredom")


@pytest.fixture(scope="module")
def emodb_seven(emodb_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every EmoDB utterance (535, seven emotions), as ``rdlr prepare emodb`` writes them."""
    out = tmp_path_factory.mktemp("emodb7") / "emodb.csv"
    assert main(["prepare", "emodb", "--root", str(emodb_root), "--out", str(out)]) == 0
    frame = read_manifest(out)
    assert len(frame) == 535 and tuple(frame["label"].value_counts().sort_index().index) == tuple(sorted(SEVEN))
    return out


def test_seven_emodb_emotions_train_well_above_chance_and_predict_seven_columns(
    ray_session, emodb_seven, tmp_path, capsys
):
    store, model = tmp_path / "store", tmp_path / "model"
    code = main([*train_args(emodb_seven, store), "--labels", ",".join(SEVEN), "--out", str(model), "--no-progress"])
    assert code == 0
    card = json.loads((model / CARD_FILE).read_text())
    out = capsys.readouterr().out
    assert card["classes"] == list(SEVEN) and f"; classes {', '.join(SEVEN)}; seed 0" in out
    assert set(card["hparams"]) == {"batch_size"}  # ce uses M only
    assert card["metrics"]["val_ua"] > 2 / 7  # at least twice chance (1/7)
    assert [key.split("/", 1)[1] for key in card["metrics"] if key.startswith("val_recall/")] == list(SEVEN)
    assert main(["predict", str(model), str(emodb_seven), "--out", str(tmp_path / "p.csv"), "--no-progress"]) == 0
    predictions = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert [c for c in predictions.columns if c.startswith("prob_")] == [f"prob_{name}" for name in SEVEN]
    assert np.allclose(predictions[[f"prob_{name}" for name in SEVEN]].sum(axis=1), 1.0, atol=1e-5)


def test_train_and_predict_on_emodb_from_the_command_line(ray_session, emodb_manifest, tmp_path, capsys):
    store, model = tmp_path / "store", tmp_path / "model"
    code = main([*train_args(emodb_manifest, store), "--out", str(model), "--max-epochs", "20", "--no-progress"])
    assert code == 0
    card = json.loads((model / CARD_FILE).read_text())
    out = capsys.readouterr().out
    assert f"validation UA {100 * card['metrics']['val_ua']:.1f}% (EMODB" in out
    assert card["hparams"]["batch_size"] == 8 and "batch_size 8 (the default 1024 would give 1 step(s)" in out
    assert out.count(" epoch ") >= card["metrics"]["epochs"] and "  epoch   1: loss " in out
    assert card["training"]["corpora"]["EMODB"] == {"train": 64, "val": 16}  # 8 / 2 of the 10 speakers
    assert card["metrics"]["val_ua"] > 0.4  # chance is 0.25; IS10 separates EmoDB's acted emotions well
    manifest = pd.read_csv(emodb_manifest)
    assert main(["predict", str(model), str(emodb_manifest), "--out", str(tmp_path / "p.csv"), "--no-progress"]) == 0
    predictions = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert predictions["utt_id"].tolist() == manifest["utt_id"].tolist() and (predictions["error"] == "").all()
    assert (predictions["label"] == manifest["label"]).mean() > 0.5  # mostly its own training utterances


def test_quiet_train_prints_only_the_result_and_epoch_lines_otherwise(demo_model, tmp_path, capsys):
    common = [*train_args(demo_model.manifest, demo_model.store), "--max-epochs", "2", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr().out
    assert "  epoch   1: loss " in loud and "  epoch   2: loss " in loud and "hyperparameters: batch_size 8" in loud
    assert main([*common, "--quiet", "--threads", "2", "--out", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr().out
    assert "  epoch " not in quiet and "hyperparameters:" not in quiet and "validation UA" in quiet
    threads = [
        json.loads((tmp_path / name / CARD_FILE).read_text())["training"]["threads"] for name in ("loud", "quiet")
    ]
    assert threads == [1, 2]  # one by default: extra threads slow these small models down on a busy machine


def test_two_stage_train_says_it_trains_stage1_and_labels_both_stages(demo_model, tmp_path, capsys):
    args = [*train_args(demo_model.manifest, demo_model.store, "self_kd"), "--max-epochs", "1", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "kd")]) == 0
    out = capsys.readouterr().out
    stage1 = get_method("self_kd").stage1().id
    assert f"stage 1: training the {stage1} model whose outputs give stage 2's targets\n" in out  # no cache here
    assert "  stage 1 epoch   1: loss " in out and "  stage 2 epoch   1: loss " in out
    assert out.index("stage 1: training") < out.index("  stage 1 epoch") < out.index("  stage 2 epoch")


def test_a_class_no_labeled_manifest_has_stops_train_before_extraction(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    rows = [f"u{i},/nowhere/u{i}.wav,X,s{i % 2},{label}" for i, label in enumerate(["neutral", "happy", "calm"])]
    manifest.write_text("utt_id,path,corpus,speaker,label\n" + "\n".join(rows) + "\n")
    code = main(
        [*train_args(manifest, tmp_path / "store"), "--labels", "neutral,happy,sad", "--out", str(tmp_path / "model")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "rdlr train: error: --labels: class 'sad' has no utterance in the labeled manifests (X); valid: "
        "classes they have, or map an emotion onto it with --label-map (labels now: neutral, happy, sad)"
    )
    assert not (tmp_path / "store").exists()
