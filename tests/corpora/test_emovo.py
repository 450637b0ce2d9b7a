"""EMOVO loader: an exact manifest from a small tree, the whole documented tree, and bad layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.emovo import load
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from tests.helpers.public_trees import emovo_files, write_tree

FILES = [
    "f1/gio-f1-b1.wav",
    "f1/neu-f1-n5.wav",
    "f1/dis-f1-b1.wav",
    "m2/rab-m2-l3.wav",
    "m2/tri-m2-d2.wav",
    "m2/sor-m2-b2.wav",
    "m2/take2.wav",
]


@pytest.fixture
def emovo_root(tmp_path, write_audio) -> Path:
    for name in FILES:
        write_audio(tmp_path / "EMOVO" / name)
    write_audio(tmp_path / "EMOVO" / "documents" / "ignored.wav")  # not a speaker folder
    return tmp_path


def test_manifest_is_parsed_exactly(emovo_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="EMOVO: speakers 2 \\(documented 6, -4\\)"),
        pytest.warns(CorpusDataWarning, match="file name not EMO-SPK-SENT.wav: m2/take2.wav"),
    ):
        df = load(emovo_root)
    folder = emovo_root.resolve() / "EMOVO"
    spec = [
        ("f1", "dis-f1-b1", "disgust"),
        ("f1", "gio-f1-b1", "happy"),
        ("f1", "neu-f1-n5", "neutral"),
        ("m2", "rab-m2-l3", "angry"),
        ("m2", "sor-m2-b2", "surprise"),
        ("m2", "tri-m2-d2", "sad"),
    ]
    assert_manifest(
        df,
        [
            {
                "utt_id": f"EMOVO_{stem}",
                "path": str(folder / spk / f"{stem}.wav"),
                "corpus": "EMOVO",
                "speaker": f"EMOVO_{spk}",
                "label": label,
                "gender": spk[0].upper(),
            }
            for spk, stem, label in spec
        ],
    )
    assert df.attrs["excluded"] == {}


def test_the_documented_tree_matches_and_a_missing_file_warns(tmp_path):
    root = write_tree(tmp_path, emovo_files())
    df = load(root)
    assert len(df) == 588 and df.attrs["count_warnings"] == [] and df.attrs["dropped"] == {}
    (root / "EMOVO" / "m3" / "neu-m3-b1.wav").unlink()
    with pytest.warns(CorpusCountWarning) as caught:
        load(root)
    message = str(caught[0].message)
    assert "EMOVO: audio files 587 (documented 588, -1)" in message and "neutral 83 (documented 84, -1)" in message


def test_a_folder_without_speaker_folders_is_a_clear_error(tmp_path):
    (tmp_path / "wav").mkdir()
    with pytest.raises(ManifestError, match="EMOVO: not the official layout .*speaker folders f1 f2 f3 m1 m2 m3"):
        load(tmp_path)
