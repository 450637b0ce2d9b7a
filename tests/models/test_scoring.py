"""``rdlr predict`` on labeled manifests: the emotions mapped onto the model's classes with its own label set (or
the one --labels / --label-map name), a true_label column, per-corpus and overall UA / WA / macro-F1 / recall lines
equal to :mod:`rdlr.metrics` on the written table, left-out rows counted; a manifest mapped to another class set
refused in one line naming both, before any audio is read."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rdlr.cli import main
from rdlr.labels import CLASSES, LabelSetError
from rdlr.metrics import macro_f1, per_class_recall, unweighted_accuracy, weighted_accuracy
from rdlr.models import scoring
from rdlr.models.inputs import record
from tests.models.test_folder import make_model

CORPORA = ("CRE-demo", "IEM-demo")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paper4 model folder (IS10, random weights) whose label map merges IEM-demo's excited into happy."""
    folder = tmp_path_factory.mktemp("scoring") / "model"
    make_model(folder)
    import json

    card = json.loads((folder / "model.json").read_text())
    assert card["classes"] == list(CLASSES)
    card["label_map"] = {"IEM-demo": {"excited": "happy"}}
    (folder / "model.json").write_text(json.dumps(card))
    return folder


@pytest.fixture(scope="module")
def labeled(demo_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six labeled utterances of two demo corpora and one unlabeled; one relabeled calm, one surprise, one excited."""
    frame = pd.read_csv(demo_manifest, keep_default_na=False)
    rows = pd.concat(
        [*(frame[frame["corpus"] == c].head(6) for c in CORPORA), frame[frame["label"] == ""].head(1)],
        ignore_index=True,
    )
    rows.loc[0, "label"], rows.loc[1, "label"], rows.loc[6, "label"] = "Calm", "surprise", "excited"
    path = tmp_path_factory.mktemp("labeled") / "labeled.csv"
    rows.to_csv(path, index=False)
    return path


def no_audio(monkeypatch: pytest.MonkeyPatch) -> None:
    from rdlr.models.predictor import TrainedModel

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("audio was read before the class sets were checked")

    monkeypatch.setattr(TrainedModel, "extract_records", refuse)


def test_a_labeled_manifest_is_scored_with_the_models_label_set(model, labeled, tmp_path, capsys):
    out = tmp_path / "p.csv"
    argv = ["predict", str(model), str(labeled), "--label-map", "*:calm=neutral", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    table = pd.read_csv(out, keep_default_na=False)
    manifest = pd.read_csv(labeled, keep_default_na=False)
    assert table.columns[:4].tolist() == ["path", "utt_id", "label", "true_label"]
    # calm -> neutral (--label-map), surprise left out, excited -> happy (the model's own map for IEM-demo)
    expected = ["neutral", "", *manifest["label"][2:6], "happy", *manifest["label"][7:12], ""]
    assert table["true_label"].tolist() == expected
    lines = [line.strip() for line in err.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("scores against the labels"))
    score_lines = lines[start + 1 : start + 5]
    assert [line.split(":", 1)[0] for line in score_lines] == [*CORPORA, "LIB-demo", "all"]
    assert score_lines.pop(2) == "LIB-demo: no row scored; left out 0; unlabeled 1"  # an unlabeled corpus
    index = {name: i for i, name in enumerate(CLASSES)}
    for line in score_lines:
        name = line.split(":", 1)[0]
        rows = table[(table["true_label"] != "") & ((manifest["corpus"] == name) if name != "all" else True)]
        y_true = rows["true_label"].map(index).to_numpy()
        y_pred = rows["label"].map(index).to_numpy()
        assert f"{len(rows)} rows scored" in line
        for label, value in (
            ("UA", unweighted_accuracy(y_true, y_pred, 4)),
            ("WA", weighted_accuracy(y_true, y_pred, 4)),
            ("macro-F1", macro_f1(y_true, y_pred, 4)),
        ):
            assert f"{label} {100 * value:.1f}%" in line, (label, line)
        recall = per_class_recall(y_true, y_pred, 4)
        shown = re.search(r"recall (.*?);", line).group(1)
        assert shown == ", ".join(f"{c} {'n/a' if np.isnan(r) else f'{100 * r:.1f}%'}" for c, r in zip(CLASSES, recall))
    assert score_lines[0].endswith("left out 1 (surprise 1)")
    assert score_lines[1].endswith("left out 0")
    assert score_lines[2].endswith("left out 1 (surprise 1); unlabeled 1")


@pytest.mark.parametrize(
    ("options", "mapped"),
    [
        (["--labels", "neutral,happy,sad"], "[neutral, happy, sad]"),
        (["--labels", "angry,sad,happy,neutral"], "[angry, sad, happy, neutral]"),  # the same classes, other order
        (["--labels", "ekman"], "[neutral, happy, sad, angry, fear, disgust, surprise]"),
        (["--label-map", "*:calm=boredom"], "[neutral, happy, sad, angry, boredom]"),  # onto a class the model lacks
    ],
)
def test_a_manifest_mapped_to_another_class_set_is_refused_naming_both(
    model, labeled, options, mapped, capsys, monkeypatch
):
    no_audio(monkeypatch)
    assert main(["predict", str(model), str(labeled), "--no-progress", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert (
        f"manifest {labeled} mapped to {mapped} but model {model} was trained on [neutral, happy, sad, angry]"
        in (err[0])
    )


def test_a_manifest_with_no_row_of_a_model_class_and_labels_without_a_manifest_are_refused(
    model, labeled, tmp_path, capsys, monkeypatch
):
    no_audio(monkeypatch)
    frame = pd.read_csv(labeled, keep_default_na=False)
    frame["label"] = ["fear", "disgust"] * 6 + [""]
    frame.to_csv(tmp_path / "other.csv", index=False)
    assert main(["predict", str(model), str(tmp_path / "other.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no row maps onto a class of model" in err and "its emotions: disgust 6, fear 6" in err
    wav = frame["path"].iloc[0]
    assert main(["predict", str(model), wav, "--no-progress", "--labels", "paper4"]) == 2
    assert "--labels: no input is a manifest with a 'label' column" in capsys.readouterr().err


def test_a_manifest_without_rows_or_paths_is_refused_in_one_line(model, labeled, tmp_path, capsys, monkeypatch):
    no_audio(monkeypatch)
    empty, pathless = tmp_path / "empty.csv", tmp_path / "pathless.csv"
    manifest = pd.read_csv(labeled, keep_default_na=False)
    manifest.head(0).to_csv(empty, index=False)  # the header only
    manifest.drop(columns="path").to_csv(pathless, index=False)
    for path, message in (
        (empty, "the manifest has no rows"),
        (pathless, "a manifest to predict needs a 'path' column"),
    ):
        assert main(["predict", str(model), str(path), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{path}: {message}" in err[0], err


def test_files_and_unlabeled_manifests_are_not_scored(model, labeled, tmp_path, capsys):
    frame = pd.read_csv(labeled, keep_default_na=False).head(2).drop(columns="label")
    frame.to_csv(tmp_path / "nolabel.csv", index=False)
    assert main(["predict", str(model), str(tmp_path / "nolabel.csv"), frame["path"].iloc[0], "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "true_label" not in captured.out.splitlines()[0] and "scores" not in captured.err


def test_truth_counts_what_the_set_leaves_out_and_scores_per_corpus():
    records = [record(f"{i}.wav") for i in range(6)]
    for item, (corpus, emotion) in zip(
        records, [("A", "neutral"), ("A", "happy"), ("A", "boredom"), ("B", "angry"), ("B", ""), ("B", "angry")]
    ):
        item.update(corpus=corpus, emotion=emotion, manifest="m.csv")
    found = scoring.truth(records, CLASSES, {}, "M")
    assert found.classes.tolist() == ["neutral", "happy", "", "angry", "", "angry"]
    assert found.left_out == {"A": {"boredom": 1}} and found.unlabeled == {"B": 1}
    frame = pd.DataFrame({"label": ["neutral", "sad", "", "angry", "happy", ""], "error": [""] * 5 + ["unreadable"]})
    a, b, overall = scoring.score(frame, found, CLASSES)
    assert (a.name, a.scored, a.ua, a.wa) == ("A", 2, 0.5, 0.5)
    assert b.scored == 1 and b.unreadable == 1 and b.unlabeled == 1 and b.ua == 1.0
    assert overall.scored == 3 and overall.left_out == {"boredom": 1}
    assert overall.ua == pytest.approx(unweighted_accuracy([0, 1, 3], [0, 2, 3], 4))
    assert overall.line().startswith("all: 3 rows scored: UA 66.7%, WA 66.7%")
    with pytest.raises(LabelSetError, match=r"mapped to \[neutral, happy\] but model M was trained on"):
        scoring.truth(records, CLASSES, {}, "M", labels=["neutral", "happy"])
    assert scoring.truth([record("x.wav")], CLASSES, {}, "M") is None


def test_predict_scores_the_validation_speakers_with_the_ua_training_measured(demo_model, tmp_path, capsys):
    """The demo model's validation speakers as a labeled manifest: rdlr predict, from their audio, prints per corpus
    the validation UA the trainer measured (and saved in model.json)."""
    from rdlr.corpora import assign_roles
    from rdlr.features import load

    table = load(demo_model.store, "is10")
    roles = assign_roles(table.meta, "out_of_corpus", None, seed=0).to_numpy()
    manifest = pd.read_csv(demo_model.manifest, keep_default_na=False)
    validation = set(table.meta.loc[roles == "val", "utt_id"])
    manifest[manifest["utt_id"].isin(validation)].to_csv(tmp_path / "val.csv", index=False)
    assert main(["predict", str(demo_model.folder), str(tmp_path / "val.csv"), "--no-progress"]) == 0
    lines = {line.strip().split(":", 1)[0]: line.strip() for line in capsys.readouterr().err.splitlines()}
    metrics = demo_model.outcome.card.metrics
    for name in ("CRE-demo", "IEM-demo", "IMP-demo", "POD-demo"):
        assert f"UA {100 * metrics[f'val_ua/{name}']:.1f}%," in lines[name], lines[name]
