"""``rdlr extract``: arguments, clear errors for bad input (an unwritable or locked store included), a real run with
a summary, and a resumed run."""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rdlr.commands import extract as cli
from rdlr.features import FeatureStore, load, pipeline
from rdlr.features.hf_encoder import HFEncoderConfig

SR = 16_000


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rdlr extract")
    cli.configure_parser(parser)
    return cli.run(parser.parse_args(list(argv)))


def write_manifest(folder, corpus: str, n: int, offset: int = 0) -> str:
    rows = []
    for i in range(n):
        t = np.arange(int(0.6 * SR)) / SR
        path = folder / f"{corpus}{i}.wav"
        sf.write(path, (0.3 * np.sin(2 * np.pi * (110 + 20 * (i + offset)) * t)).astype(np.float32), SR)
        rows.append(
            {
                "utt_id": f"{corpus}-{i}",
                "path": str(path),
                "corpus": corpus,
                "speaker": "s1",
                "label": "neutral",
                "transcript": "" if i else "hallo",
            }
        )
    manifest = folder / f"{corpus}.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return str(manifest)


def test_bad_arguments_exit_2_with_a_clear_message(tmp_path, capsys):
    manifest = write_manifest(tmp_path, "A", 1)
    assert run_cli("--manifest", manifest, "--features", "is11", "--store", str(tmp_path / "s")) == 2
    assert "unknown feature set 'is11'; valid: is10, w2v, bert" in capsys.readouterr().err
    assert run_cli("--manifest", manifest, "--features", "is10,w2v", "--store", str(tmp_path / "s")) == 2
    assert "--w2v-checkpoint" in capsys.readouterr().err
    assert run_cli("--manifest", str(tmp_path / "nope.csv"), "--features", "is10", "--store", "s") == 2
    assert "nope.csv" in capsys.readouterr().err
    pd.DataFrame({"utt_id": ["x"], "path": ["/x.wav"]}).to_csv(tmp_path / "thin.csv", index=False)
    assert run_cli("--manifest", str(tmp_path / "thin.csv"), "--features", "is10", "--store", "s") == 2
    assert "thin.csv" in capsys.readouterr().err
    assert run_cli("--manifest", manifest, "--manifest", manifest, "--features", "is10", "--store", "s") == 2
    assert "utt_id repeated across manifests" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli("--manifest", manifest, "--features", "is10", "--store", "s", "--device", "tpu")


def test_extract_writes_the_store_and_a_rerun_extracts_nothing(ray_session, tmp_path, capsys):
    first = write_manifest(tmp_path, "A", 3)
    second = write_manifest(tmp_path, "B", 2, offset=3)
    store = tmp_path / "store"
    argv = [
        "--manifest",
        first,
        "--manifest",
        second,
        "--features",
        "is10",
        "--store",
        str(store),
        "--workers",
        "1",
        "--batch-size",
        "2",
        "--no-progress",
    ]
    assert run_cli(*argv, "--device", "cuda") == 0  # openSMILE has no model: IS10 runs on CPU whatever the device
    out = capsys.readouterr().out
    assert "5 utterances from 2 manifest(s)" in out
    assert "is10: 5 utterances with 1 workers" in out and ") on cpu; nodes: " in out
    table = load(store, "is10", ["A", "B"])
    assert table.x.shape == (5, 1582) and table.meta["transcript"].tolist()[:2] == ["hallo", ""]
    assert run_cli(*argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith("is10 ")]
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [("A", "3", "0", "3"), ("B", "2", "0", "2")]
    assert not any("utterances with" in line for line in lines)


def test_hf_layer_sets_the_encoder_config_layer(ray_session, tmp_path, tiny_encoder, capsys):
    folder = tiny_encoder(tmp_path / "tiny", "wav2vec2", layer_norm=True)
    store = tmp_path / "store"
    argv = ["--manifest", write_manifest(tmp_path, "A", 2), "--store", str(store), "--workers", "1", "--no-progress"]
    assert run_cli(*argv, "--features", "is10", "--hf-layer", "1") == 2
    assert "--hf-layer applies to hf:<dir> feature sets only" in capsys.readouterr().err
    assert run_cli(*argv, "--features", f"hf:{folder}", "--hf-layer", "1") == 0
    expected = HFEncoderConfig(model_dir=str(folder), layer=1).config_hash()
    assert FeatureStore(store).config_hashes("hf-tiny") == [expected]
    assert FeatureStore(store).read_config("hf-tiny", expected)["config"]["layer"] == 1
    assert load(store, f"hf:{folder}", "A").x.shape == (2, 32)


def test_an_unwritable_store_is_one_line_before_ray_starts(tmp_path, capsys, monkeypatch):
    def no_ray(*args, **kwargs):
        raise AssertionError("Ray started although the store cannot be written")

    monkeypatch.setattr(pipeline, "ray_session", no_ray)
    (tmp_path / "file").write_text("not a folder")
    store = tmp_path / "file" / "store"
    assert run_cli("--manifest", write_manifest(tmp_path, "A", 1), "--features", "is10", "--store", str(store)) == 2
    err = capsys.readouterr().err
    assert (
        err == f"rdlr extract: error: feature store {store} cannot be created: {tmp_path / 'file'} is a file, "
        "not a folder\n"
    )


def test_a_second_extract_on_a_locked_store_is_refused(ray_session, tmp_path, capsys):
    store = tmp_path / "store"
    with FeatureStore(store).lock("rdlr extract (the first one)"):
        argv = [
            "--manifest",
            write_manifest(tmp_path, "A", 2),
            "--features",
            "is10",
            "--store",
            str(store),
            "--workers",
            "1",
            "--no-progress",
        ]
        assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert f"feature store {store} is locked by rdlr extract (the first one) (pid {os.getpid()} on host " in err
    assert not list(store.rglob("part-*.parquet"))
