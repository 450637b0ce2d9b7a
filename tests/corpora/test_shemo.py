"""ShEMO loader: an exact manifest from a small tree, the whole documented tree, and bad layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from rdlr.corpora.shemo import load
from tests.helpers.public_trees import shemo_files, write_tree

FILES = [
    "female/F01A01.wav",
    "female/F14H09.wav",
    "female/F03W02.wav",
    "male/M02F01.wav",
    "male/M02S02.wav",
    "male/M56N113.wav",
    "male/M02X01.wav",
    "male/notes.wav",
]


@pytest.fixture
def shemo_root(tmp_path, write_audio) -> Path:
    for name in FILES:
        write_audio(tmp_path / name)
    return tmp_path


def test_manifest_is_parsed_exactly(shemo_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="SHEMO: speakers 5 \\(documented 87, -82\\)"),
        pytest.warns(CorpusDataWarning, match="file name not <G><NN><E><NN>.wav: male/notes.wav"),
    ):
        df = load(shemo_root)
    root = shemo_root.resolve()
    spec = [
        ("female", "F01A01", "F01", "angry"),
        ("female", "F03W02", "F03", "surprise"),
        ("female", "F14H09", "F14", "happy"),
        ("male", "M02F01", "M02", "fear"),
        ("male", "M02S02", "M02", "sad"),
        ("male", "M56N113", "M56", "neutral"),
    ]
    assert_manifest(
        df,
        [
            {
                "utt_id": f"SHEMO_{stem}",
                "path": str(root / folder / f"{stem}.wav"),
                "corpus": "SHEMO",
                "speaker": f"SHEMO_{speaker}",
                "label": label,
                "gender": speaker[0],
            }
            for folder, stem, speaker, label in spec
        ],
    )
    assert df.attrs["excluded"] == {"X": 1}  # not an emotion letter of ShEMO


def test_the_documented_tree_matches_and_a_missing_file_warns(tmp_path):
    root = write_tree(tmp_path, shemo_files())
    df = load(root)
    assert len(df) == 3000 and df.attrs["count_warnings"] == [] and df["speaker"].nunique() == 87
    assert df.attrs["excluded"] == {}
    (root / "female" / "F01H01.wav").unlink()
    with pytest.warns(CorpusCountWarning) as caught:
        load(root)
    message = str(caught[0].message)
    assert "SHEMO: audio files 2999 (documented 3000, -1)" in message and "happy 200 (documented 201, -1)" in message


def test_a_folder_without_gender_folders_is_a_clear_error(tmp_path, write_audio):
    write_audio(tmp_path / "F01A01.wav")
    with pytest.raises(ManifestError, match="ShEMO: not the official layout .*female/ and male/ folders"):
        load(tmp_path)
