"""SAVEE loader: the official AudioData tree, the flat copy, the whole documented tree, and bad layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from rdlr.corpora.savee import load
from tests.helpers.public_trees import savee_files, write_tree

FILES = ["DC/a01.wav", "DC/n30.wav", "DC/su02.wav", "JK/sa07.wav", "JK/h15.wav", "JK/d03.wav", "JK/info.wav"]


@pytest.fixture
def savee_root(tmp_path, write_audio) -> Path:
    for name in FILES:
        write_audio(tmp_path / "SAVEE" / "AudioData" / name)
    return tmp_path / "SAVEE"


def test_manifest_is_parsed_exactly(savee_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="SAVEE: speakers 2 \\(documented 4, -2\\)"),
        pytest.warns(CorpusDataWarning, match="info.wav"),
    ):
        df = load(savee_root)
    folder = savee_root.resolve() / "AudioData"
    spec = [
        ("DC", "a01", "angry"),
        ("DC", "n30", "neutral"),
        ("DC", "su02", "surprise"),
        ("JK", "d03", "disgust"),
        ("JK", "h15", "happy"),
        ("JK", "sa07", "sad"),
    ]
    assert_manifest(
        df,
        [
            {
                "utt_id": f"SAVEE_{spk}_{stem}",
                "path": str(folder / spk / f"{stem}.wav"),
                "corpus": "SAVEE",
                "speaker": f"SAVEE_{spk}",
                "label": label,
                "gender": "M",
            }
            for spk, stem, label in spec
        ],
    )
    assert df.attrs["excluded"] == {}


def test_flat_copy_takes_the_speaker_from_the_file_name(tmp_path, write_audio):
    for name in ("DC_a01", "KL_sa03", "KL_f01"):
        write_audio(tmp_path / "ALL" / f"{name}.wav")
    with pytest.warns(CorpusCountWarning):
        df = load(tmp_path)
    assert df["utt_id"].tolist() == ["SAVEE_DC_a01", "SAVEE_KL_f01", "SAVEE_KL_sa03"]
    assert df["speaker"].tolist() == ["SAVEE_DC", "SAVEE_KL", "SAVEE_KL"] and df.attrs["excluded"] == {}


def test_the_documented_tree_matches_and_a_missing_file_warns(tmp_path):
    root = write_tree(tmp_path, savee_files())
    df = load(root)
    assert len(df) == 480 and df.attrs["count_warnings"] == [] and df.attrs["dropped"] == {}
    (root / "AudioData" / "KL" / "su15.wav").unlink()
    with pytest.warns(CorpusCountWarning, match=r"SAVEE: audio files 479 \(documented 480, -1\)"):
        load(root)


def test_a_folder_without_speakers_is_a_clear_error(tmp_path, write_audio):
    write_audio(tmp_path / "AudioData" / "XX" / "a01.wav")
    with pytest.raises(ManifestError, match="SAVEE: not the official layout .*speaker folders DC JE JK KL"):
        load(tmp_path)
