"""A spec's model paths (``hf:<dir>`` feature sets, ``models.*``) and ``rdlr extract``'s are checked before Ray
starts: one line naming the spec file, the key and the missing path (Ray refused by the tests, so any start of it
fails them). No timing is asserted: the machines are shared (how fast the check is: benchmarks, not tests)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rdlr.commands import reproduce
from rdlr.features import extract, pipeline, wav2vec  # noqa: F401 - wav2vec: its checks are the ones tested
from rdlr.spec.core import load_spec
from tests.helpers.sweep_cli import refuse_ray, run_sweep_cli

SPEC = """\
id: models
data: {{source: demo}}
features: [{features}]
held_out: [CRE-demo]
protocols: {{out_of_corpus: [ce]}}
seeds: [0]
{models}"""


def write_spec(folder: Path, features: str, models: str = "") -> Path:
    path = folder / "spec.yaml"
    path.write_text(SPEC.format(features=features, models=models))
    return path


def test_sweep_names_the_spec_the_key_and_the_missing_hf_folder_before_ray(tmp_path, monkeypatch, capsys):
    refuse_ray(monkeypatch, "the spec's hf: folder does not exist")
    spec = write_spec(tmp_path, "is10+hf:/nowhere/hubert-base")
    load_spec(spec)
    assert run_sweep_cli(str(spec), "--storage", str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert err == (
        f"rdlr sweep: error: {spec}: features (hf:/nowhere/hubert-base): transformers audio encoder "
        "directory not found: /nowhere/hubert-base (give a local folder written by save_pretrained; "
        "nothing is downloaded)\n"
    )


def test_a_folder_without_config_json_and_a_checkpoint_folder_are_refused_too(tmp_path, monkeypatch, capsys):
    refuse_ray(monkeypatch, "the spec's model paths are wrong")
    (tmp_path / "hubert").mkdir()
    assert run_sweep_cli(str(write_spec(tmp_path, f"hf:{tmp_path / 'hubert'}")), "--storage", str(tmp_path)) == 2
    assert (
        f"features (hf:{tmp_path / 'hubert'}): transformers audio encoder directory {tmp_path / 'hubert'} has "
        "no config.json" in capsys.readouterr().err
    )
    spec = write_spec(tmp_path, "is10+w2v", f"models: {{w2v: {tmp_path / 'hubert'}}}\n")
    assert run_sweep_cli(str(spec), "--storage", str(tmp_path)) == 2
    assert f"{spec}: models.w2v: wav2vec checkpoint {tmp_path / 'hubert'} is a directory" in capsys.readouterr().err


def test_reproduce_names_a_missing_whisper_checkpoint_relative_to_the_data_root(tmp_path, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError("Ray started although models.whisper does not exist")

    monkeypatch.setattr(reproduce, "ray_session", refuse)
    bert = tmp_path / "data" / "models" / "bert"
    bert.mkdir(parents=True)
    (bert / "config.json").write_text("{}")
    spec = write_spec(tmp_path, "is10+bert", "models: {bert: models/bert, whisper: models/medium.en.pt}\n")
    parser = argparse.ArgumentParser()
    reproduce.configure_parser(parser)
    args = parser.parse_args([str(spec), "--storage", str(tmp_path / "runs"), "--data-root", str(tmp_path / "data")])
    load_spec(spec)
    assert reproduce.run(args) == 2
    assert capsys.readouterr().err.startswith(
        f"rdlr reproduce: error: {spec}: models.whisper: Whisper checkpoint not found: "
        f"{tmp_path / 'data' / 'models' / 'medium.en.pt'} (give the local path"
    )


def test_a_feature_set_the_store_holds_needs_no_model(tmp_path, monkeypatch):
    refuse_ray(monkeypatch, "of the feature set in the store")
    (tmp_path / "runs" / "features" / "hf-hubert-base").mkdir(parents=True)
    spec = write_spec(tmp_path, "is10+hf:/nowhere/hubert-base")
    with pytest.raises(AssertionError, match="Ray started although of the feature set in the store"):
        run_sweep_cli(str(spec), "--storage", str(tmp_path / "runs"))


def test_extract_checks_model_files_before_ray(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Ray started although the checkpoint does not exist")

    monkeypatch.setattr(pipeline, "ray_session", refuse)
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(1600, dtype=np.float32), 16_000)
    manifest = pd.DataFrame(
        {"utt_id": ["u1"], "path": [str(audio)], "corpus": ["C"], "speaker": ["s"], "label": ["happy"]}
    )
    with pytest.raises(
        FileNotFoundError,
        match=rf"^wav2vec checkpoint \(fairseq's wav2vec_large.pt\) not found: "
        rf"{tmp_path / 'nope.pt'} \(give the local path",
    ):
        extract(manifest, "w2v", str(tmp_path / "store"), models={"w2v": str(tmp_path / "nope.pt")})
