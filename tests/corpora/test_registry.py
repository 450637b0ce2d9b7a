"""``load_corpus``: names, aliases, options, the printed summary, and the demo hand-off."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from rdlr.corpora import ManifestError, list_corpora, load_corpus, summarize, write_manifest
from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.registry import resolve_name


def test_every_contract_name_is_listed():
    assert list_corpora() == [
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


def test_unknown_corpus_lists_the_valid_names():
    with pytest.raises(ManifestError, match="unknown corpus 'jl-corpus'; valid: cremad, iemocap, .*shemo, csv, demo"):
        load_corpus("jl-corpus", ".")


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("RAV", "ravdess"),
        ("ravdess-speech", "ravdess"),
        ("ESD", "esd"),
        ("Sharif", "shemo"),
        ("toronto", "tess"),
        ("surrey", "savee"),
    ],
)
def test_free_corpora_aliases(alias, name):
    assert resolve_name(alias) == name


def test_unknown_option_lists_the_valid_ones(tmp_path):
    with pytest.raises(
        ManifestError,
        match="unknown option\\(s\\) \\['votes'\\] for corpus 'cremad'; valid: vote_modality, check_audio",
    ):
        load_corpus("cremad", tmp_path, votes="voice")


def test_alias_loads_and_prints_the_summary(tmp_path, write_audio, capsys):
    for stem in ("03a01Fa", "03a01Wa", "03a01Lb"):
        write_audio(tmp_path / "wav" / f"{stem}.wav")
    with pytest.warns(CorpusCountWarning):
        df = load_corpus("EMO-DB", tmp_path)
    out = capsys.readouterr().out
    assert "EMODB: 3 utterances, 1 speakers" in out
    assert "  happy 1  angry 1  boredom 1\n" in out
    assert "left out (no emotion): none" in out
    assert "count check: EMODB: speakers 1 (documented 10, -9) [EmoDB file list]" in out
    assert len(df) == 3
    with pytest.warns(CorpusCountWarning):
        load_corpus("emodb", tmp_path, verbose=False)
    assert capsys.readouterr().out == ""


def test_csv_loader_reads_a_manifest(tmp_path, write_audio):
    write_audio(tmp_path / "a.wav")
    path = tmp_path / "m.csv"
    path.write_text("utt_id,path,corpus,speaker,label\nu1,a.wav,MINE,s1,sad\n")
    df = load_corpus("csv", path, verbose=False)
    assert df["path"].tolist() == [str(tmp_path / "a.wav")]


def test_demo_calls_the_generator_and_reads_its_manifest(tmp_path, write_audio, monkeypatch):
    calls = []

    def generate_demo_corpora(out_dir, seed=0):
        calls.append((Path(out_dir), seed))
        write_audio(Path(out_dir) / "CRE-demo" / "u1.wav")
        frame = pd.DataFrame(
            [
                {
                    "utt_id": "CRE-demo_u1",
                    "path": "CRE-demo/u1.wav",
                    "corpus": "CRE-demo",
                    "speaker": "d1",
                    "label": "happy",
                }
            ]
        )
        return write_manifest(frame, Path(out_dir) / "manifest.csv")

    monkeypatch.setitem(
        sys.modules, "rdlr.corpora.demo", types.SimpleNamespace(generate_demo_corpora=generate_demo_corpora)
    )
    import rdlr.corpora

    monkeypatch.setattr(rdlr.corpora, "demo", sys.modules["rdlr.corpora.demo"], raising=False)
    df = load_corpus("demo", tmp_path / "demo", seed=5, verbose=False)
    assert calls == [(tmp_path / "demo", 5)]
    assert df["path"].tolist() == [str(tmp_path / "demo" / "CRE-demo" / "u1.wav")]
    assert df.attrs["source"] == str(tmp_path / "demo" / "manifest.csv")


def test_summary_of_a_combined_manifest():
    df = pd.DataFrame(
        [
            {"utt_id": "a", "path": "/a", "corpus": "A", "speaker": "s", "label": "sad", "partition": "train"},
            {"utt_id": "b", "path": "/b", "corpus": "L", "speaker": "t", "label": ""},
        ]
    ).fillna("")
    text = summarize(df)
    assert "A: 1 utterances, 1 speakers" in text and "partitions: train 1, val 0, test 0" in text
    assert "L: 1 utterances, 1 speakers\n  unlabeled 1" in text
    assert "left out (no emotion): none" in text
