"""``rdlr prepare csv`` refuses a header-only CSV, corpus names that ``rdlr extract`` would refuse (same rule), and
missing-value markers as speaker IDs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from rdlr.commands.prepare import configure_parser, run
from rdlr.corpora import read_manifest
from rdlr.corpora.manifest import ManifestError
from rdlr.features.store import check_name

HEADER = "utt_id,path,corpus,speaker,label\n"


def prepare_csv(source: Path, out: Path) -> int:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return run(parser.parse_args(["csv", "--root", str(source), "--out", str(out)]))


@pytest.fixture
def audio(tmp_path, write_audio) -> list[str]:
    return [str(write_audio(tmp_path / f"a{i}.wav")) for i in range(5)]


def test_header_only_csv_is_an_error(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(HEADER)
    assert prepare_csv(source, tmp_path / "out.csv") == 2
    assert f"{source}: no rows, only a header" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("corpus", ["my corpus/../x", "..", "a/b", "MSP Podcast"])
def test_corpus_names_follow_the_extract_rule(tmp_path, audio, corpus, capsys):
    with pytest.raises(ValueError) as refused:
        check_name("corpus", corpus)  # what rdlr extract says about this name
    source = tmp_path / "in.csv"
    source.write_text(HEADER + f'u1,{audio[0]},OK,s1,happy\nu2,{audio[1]},"{corpus}",s2,sad\n')
    assert prepare_csv(source, tmp_path / "out.csv") == 2
    err = capsys.readouterr().err
    assert f"column 'corpus' has value(s) {corpus!r} (1 row, first at line 3)" in err and str(refused.value) in err


def test_valid_corpus_names_pass(tmp_path, audio):
    source = tmp_path / "in.csv"
    source.write_text(HEADER + f"u1,{audio[0]},MSP-Podcast_v1.11,s1,happy\n")
    assert read_manifest(source)["corpus"].tolist() == ["MSP-Podcast_v1.11"]


def test_missing_value_speakers_are_an_error(tmp_path, audio):
    source = tmp_path / "in.csv"
    rows = [
        f"u{i},{path},X,{speaker},happy\n"
        for i, (path, speaker) in enumerate(zip(audio, ["NaN", "NA", "null", "None", "spk7"]))
    ]
    source.write_text(HEADER + "".join(rows))
    with pytest.raises(ManifestError) as error:
        read_manifest(source)
    message = str(error.value)
    assert f"{source}: column 'speaker' has missing-value marker(s)" in message
    for marker, line in (("NaN", 2), ("NA", 3), ("null", 4), ("None", 5)):
        assert f"{marker!r} (1 row, first at line {line})" in message
    assert "'spk7'" not in message and "such as the utt_id" in message
