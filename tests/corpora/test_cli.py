"""``rdlr prepare``: writes the manifest, prints the summary (classes, exclusions, count checks)."""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from rdlr.commands.prepare import configure_parser, run
from rdlr.corpora import read_manifest, write_manifest
from rdlr.corpora.registry import MODULES
from rdlr.labels import CLASSES, VOCABULARY
from tests.helpers.public_trees import savee_files, write_tree


def prepare(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rdlr prepare")
    configure_parser(parser)
    return run(parser.parse_args(argv))


@pytest.fixture
def emodb_tree(tmp_path, write_audio) -> Path:
    for stem in ("03a01Fa", "03a01Wa", "08a01Nb", "08a02Ab"):
        write_audio(tmp_path / "emodb" / "wav" / f"{stem}.wav")
    return tmp_path / "emodb"


def test_prepare_writes_the_manifest_and_prints_the_summary(emodb_tree, tmp_path, capsys):
    out = tmp_path / "manifests" / "emodb.csv"
    assert prepare(["emodb", "--root", str(emodb_tree), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "EMODB: 4 utterances, 2 speakers" in printed.out
    assert "  neutral 1  happy 1  angry 1  fear 1\n" in printed.out  # every emotion found, vocabulary order
    assert "left out (no emotion): none" in printed.out
    assert "count check: EMODB: sad 0 (documented 62, -62)" in printed.out
    assert f"wrote 4 rows to {out}" in printed.out
    df = read_manifest(out)
    assert df["utt_id"].tolist() == ["EMODB_03a01Fa", "EMODB_03a01Wa", "EMODB_08a01Nb", "EMODB_08a02Ab"]
    assert df["label"].tolist() == ["happy", "angry", "neutral", "fear"]


def test_bad_input_returns_2_with_the_reason(tmp_path, capsys):
    assert prepare(["cremad", "--root", str(tmp_path), "--out", str(tmp_path / "m.csv")]) == 2
    assert "error: CREMA-D: no AudioWAV/ folder" in capsys.readouterr().err
    assert prepare(["nosuch", "--root", str(tmp_path), "--out", str(tmp_path / "m.csv")]) == 2
    assert "unknown corpus 'nosuch'" in capsys.readouterr().err
    assert prepare(["emodb", "--root", str(tmp_path)]) == 2
    assert "--out is required" in capsys.readouterr().err


def test_dropped_files_are_reported_on_stderr(emodb_tree, tmp_path, capsys):
    (emodb_tree / "wav" / "notes.wav").write_bytes(b"RIFF")
    assert prepare(["emodb", "--root", str(emodb_tree), "--out", str(tmp_path / "m.csv")]) == 0
    captured = capsys.readouterr()
    assert "warning: EMODB: dropped 1 utterance(s), file name not SSTTTEv.wav: notes.wav" in captured.err
    assert "dropped: file name not SSTTTEv.wav 1" in captured.out


def test_csv_exclude_other_labels(tmp_path, write_audio, capsys):
    write_audio(tmp_path / "a.wav")
    write_audio(tmp_path / "b.wav")
    source = tmp_path / "in.csv"
    source.write_text("utt_id,path,corpus,speaker,label\nu1,a.wav,M,s,happy\nu2,b.wav,M,s,Gloomy\n")
    assert prepare(["csv", "--root", str(source), "--out", str(tmp_path / "out.csv")]) == 0  # any label is kept
    assert "  happy 1  gloomy 1\n" in capsys.readouterr().out
    assert read_manifest(tmp_path / "out.csv")["label"].tolist() == ["happy", "gloomy"]
    assert prepare(["csv", "--root", str(source), "--out", str(tmp_path / "out.csv"), "--exclude-other-labels"]) == 0
    assert "left out (no emotion): 1 Gloomy" in capsys.readouterr().out
    assert read_manifest(tmp_path / "out.csv")["utt_id"].tolist() == ["u1"]


def test_demo_calls_generate_demo_corpora(tmp_path, write_audio, monkeypatch, capsys):
    calls = []

    def generate_demo_corpora(out_dir, seed=0):
        calls.append((Path(out_dir), seed))
        write_audio(Path(out_dir) / "x.wav")
        frame = pd.DataFrame(
            [{"utt_id": "LIB-demo_1", "path": "x.wav", "corpus": "LIB-demo", "speaker": "l", "label": ""}]
        )
        return write_manifest(frame, Path(out_dir) / "demo_manifest.csv")

    module = types.SimpleNamespace(generate_demo_corpora=generate_demo_corpora)
    monkeypatch.setitem(sys.modules, "rdlr.corpora.demo", module)
    import rdlr.corpora

    monkeypatch.setattr(rdlr.corpora, "demo", module, raising=False)
    assert prepare(["demo", "--root", str(tmp_path / "demo"), "--seed", "3"]) == 0
    assert calls == [(tmp_path / "demo", 3)]
    printed = capsys.readouterr().out
    assert "LIB-demo: 1 utterances, 1 speakers" in printed
    assert f"manifest: {tmp_path / 'demo' / 'demo_manifest.csv'}" in printed
    assert prepare(["demo", "--root", str(tmp_path / "demo"), "--out", str(tmp_path / "copy.csv")]) == 0
    assert read_manifest(tmp_path / "copy.csv")["path"].tolist() == [str(tmp_path / "demo" / "x.wav")]


def test_vote_modality_only_for_cremad(emodb_tree, tmp_path, capsys):
    assert (
        prepare(["emodb", "--root", str(emodb_tree), "--out", str(tmp_path / "m.csv"), "--vote-modality", "face"]) == 2
    )
    assert "--vote-modality applies to cremad only" in capsys.readouterr().err


def test_list_describes_every_loader(capsys):
    assert prepare(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "cremad",
        "iemocap",
        "msp_improv",
        "msp_podcast",
        "librispeech",
        "emodb",
        "ravdess",
        "esd",
        "savee",
        "tess",
        "emovo",
        "urdu",
        "shemo",
        "csv",
        "demo",
    ]
    assert any(line.startswith("ravdess") and "Ryerson" in line for line in lines)
    assert prepare(["ravdess"]) == 2
    assert "--root is required" in capsys.readouterr().err


def test_prepare_prints_found_against_documented_counts(tmp_path, capsys):
    root = write_tree(tmp_path / "SAVEE", savee_files())
    assert prepare(["savee", "--root", str(root), "--out", str(tmp_path / "savee.csv")]) == 0
    out = capsys.readouterr().out
    assert (
        "SAVEE: 480 utterances, 4 speakers\n  neutral 120  happy 60  sad 60  angry 60  fear 60  disgust 60  surprise 60"
    ) in out
    assert (
        "documented: SAVEE: 4 speakers; neutral 120  happy 60  sad 60  angry 60  disgust 60  fear 60  surprise 60; "
        "480 audio files (every emotion) [SAVEE documentation]"
    ) in out
    assert "count check: every documented count matches" in out
    (root / "AudioData" / "DC" / "h01.wav").unlink()
    assert prepare(["savee", "--root", str(root), "--out", str(tmp_path / "savee.csv")]) == 0
    out = capsys.readouterr().out
    assert "count check: SAVEE: audio files 479 (documented 480, -1) [SAVEE documentation]" in out
    assert "count check: SAVEE: happy 59 (documented 60, -1) [SAVEE documentation]" in out


def test_language_selects_the_esd_corpus(tmp_path, write_audio, capsys):
    write_audio(tmp_path / "ESD" / "0003" / "Sad" / "train" / "0003_001100.wav")
    assert prepare(["esd", "--root", str(tmp_path / "ESD"), "--out", str(tmp_path / "m.csv"), "--language", "zh"]) == 0
    assert "ESD-zh: 1 utterances, 1 speakers" in capsys.readouterr().out
    assert prepare(["esd", "--root", str(tmp_path / "ESD"), "--out", str(tmp_path / "m.csv")]) == 2
    assert "ESD: not the official layout" in capsys.readouterr().err
    assert prepare(["savee", "--root", str(tmp_path), "--out", str(tmp_path / "m.csv"), "--language", "en"]) == 2
    assert "--language applies to esd only" in capsys.readouterr().err


def test_prepare_names_the_emotions_left_out_of_real_emodb(emodb_root, tmp_path, capsys):
    assert prepare(["emodb", "--root", str(emodb_root), "--out", str(tmp_path / "emodb.csv")]) == 0
    out = capsys.readouterr().out
    assert (
        "EMODB: 535 utterances, 10 speakers\n  neutral 79  happy 71  sad 62  angry 127  fear 69  disgust 46  "
        "boredom 81\nleft out (no emotion): none\n" in out
    )


def test_prepare_of_the_demo_corpora_leaves_no_emotion_out(tmp_path, capsys):
    from rdlr.corpora.demo import DemoConfig, generate_demo_corpora

    tiny = DemoConfig(
        speakers_per_corpus=2,
        utterances_per_speaker=4,
        unlabeled_speakers=1,
        unlabeled_utterances_per_speaker=2,
        sentences_per_corpus=2,
    )
    manifest = generate_demo_corpora(tmp_path / "demo", seed=0, config=tiny)
    assert prepare(["csv", "--root", str(manifest), "--out", str(tmp_path / "demo.csv")]) == 0
    assert "left out (no emotion): none\n" in capsys.readouterr().out


@pytest.mark.parametrize("loader", sorted(set(MODULES) - {"csv", "librispeech", "urdu"}))
def test_every_loader_maps_its_emotions_onto_the_vocabulary(loader):
    """Each corpus's emotion codes map onto the vocabulary (EmoDB L → boredom, RAVDESS 02 → calm, TESS ps →
    surprise); only codes without an emotion (no agreement) are left out, named in words."""
    module = importlib.import_module(MODULES[loader])
    emotions = getattr(module, "EMOTIONS", None) or {
        folder: label for folder, (_, label) in module.EMOTION_BLOCKS.items()
    }  # ESD: emotion folders
    assert emotions and set(emotions.values()) <= set(VOCABULARY)
    assert set(CLASSES) <= set(emotions.values())
    other = getattr(module, "OTHER_EMOTIONS", {})
    assert not set(other) & set(emotions) and set(other.values()) <= {"no agreement"}
