"""A cross-corpus sweep with six classes and a label map, end to end on a tiny manifest corpus (prepare + extract +
sweep + report): six recall columns, a 6 x 6 confusion, a report that names the six classes and what the map left
out; and a class no training corpus has stops before Ray starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.helpers.reproduce_cli import reproduce, tone_run
from tests.helpers.tone_corpus import tone_raw

SIX = ["neutral", "happy", "sad", "angry", "fear", "disgust"]
EMOTIONS = (*SIX, "calm", "surprise")  # calm is mapped onto neutral, surprise is left out
SPEC = tone_raw(
    "sixclasses", labels=SIX, label_map={"*": {"calm": "neutral"}}, protocols={"out_of_corpus": ["ce", "cww_rd"]}
)


@pytest.fixture(scope="module")
def six_class_run(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("six")
    assert reproduce(*tone_run(root, SPEC, EMOTIONS)) == 0
    return root


def test_a_six_class_sweep_scores_and_reports_six_classes(six_class_run: Path) -> None:
    results = pd.read_csv(six_class_run / "runs" / "sixclasses" / "results.csv")
    assert len(results) == 2
    assert [c.split("/", 1)[1] for c in results.columns if c.startswith("test_recall/")] == SIX
    assert all(len(json.loads(value)) == 6 for value in results["confusion"])
    report = six_class_run / "reports" / "sixclasses"
    index = (report / "README.md").read_text()
    assert "**Classes (6):** neutral, happy, sad, angry, fear, disgust" in index
    assert "surprise 3" in index  # per corpus: what the label map left out
    assert "neutral 6" in index  # neutral and calm, 3 speakers each
    metrics = (report / "metrics.md").read_text()
    assert all(f"{name}" in metrics for name in SIX)
    saved = yaml.safe_load((six_class_run / "runs" / "sixclasses" / "spec.yaml").read_text())
    assert saved["labels"] == SIX and saved["resolved"]["labels"]["corpora"]["B"]["left_out"] == {"surprise": 3}


def test_a_class_without_training_utterances_stops_before_ray(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = reproduce(*tone_run(tmp_path, {**SPEC, "labels": [*SIX, "boredom"]}, EMOTIONS))
    assert status == 2
    err = capsys.readouterr().err
    assert "labels: class 'boredom' has no training utterance in the out_of_corpus job held out A" in err
    assert not (tmp_path / "runs" / "sixclasses").exists()


def test_corpora_read_by_loaders_are_checked_for_every_class_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """public.yaml's corpora (read by their loaders) with disgust as a fifth class: only CREMA-D has disgust, so the
    job holding CREMA-D out has none to train on; the prepared manifests are checked before any Ray session."""
    from tests.test_reproduce_public import reduced_public_spec, write_public_trees

    def no_ray(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Ray was started before the class check")

    monkeypatch.setattr("rdlr.commands.reproduce.ray_session", no_ray)
    data_root = write_public_trees(tmp_path / "data")
    spec = {**reduced_public_spec(), "id": "disgust", "labels": ["neutral", "happy", "sad", "angry", "disgust"]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    argv = (str(tmp_path / "bad.yaml"), "--data-root", str(data_root), "--storage", str(tmp_path / "runs"))
    assert reproduce(*argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "labels: class 'disgust' has no training utterance in the out_of_corpus job held out CRE (" in err[0]
    assert "data.corpora; training corpora ESD-en, RAVDESS, SAVEE)" in err[0]
    assert "valid: classes they have (neutral, happy, sad, angry)" in err[0]
    assert not (tmp_path / "runs" / "disgust").exists()
