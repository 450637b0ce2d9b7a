"""URDU loader: an exact manifest from a small tree, the whole documented tree, and bad layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from rdlr.corpora.urdu import load
from tests.helpers.public_trees import urdu_files, write_tree

FILES = [
    "Angry/SM1_F3_A03.wav",
    "Happy/SF5_F1_H021.wav",
    "Neutral/SM20_F5_N09.wav",
    "Sad/SF10_F2_S02.wav",
    "Sad/SM6_F4_S0100.wav",
    "Sad/SM2_F1_A07.wav",
    "Happy/recording.wav",
]


@pytest.fixture
def urdu_root(tmp_path, write_audio) -> Path:
    for name in FILES:
        write_audio(tmp_path / "URDU" / name)
    return tmp_path / "URDU"


def test_manifest_is_parsed_exactly(urdu_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="URDU: speakers 5 \\(documented 38, -33\\)"),
        pytest.warns(CorpusDataWarning) as dropped,
    ):
        df = load(urdu_root)
    root = urdu_root.resolve()
    spec = [
        ("Sad", "SF10_F2_S02", "SF10", "sad", "F"),
        ("Happy", "SF5_F1_H021", "SF5", "happy", "F"),
        ("Angry", "SM1_F3_A03", "SM1", "angry", "M"),
        ("Neutral", "SM20_F5_N09", "SM20", "neutral", "M"),
        ("Sad", "SM6_F4_S0100", "SM6", "sad", "M"),
    ]
    assert_manifest(
        df,
        [
            {
                "utt_id": f"URDU_{stem}",
                "path": str(root / folder / f"{stem}.wav"),
                "corpus": "URDU",
                "speaker": f"URDU_{speaker}",
                "label": label,
                "gender": gender,
            }
            for folder, stem, speaker, label, gender in spec
        ],
    )
    assert df.attrs["excluded"] == {}
    assert df.attrs["dropped"] == {
        "emotion letter of the file name disagrees with its folder": 1,
        "file name not S<G><n>_F<k>_<E><nnn>.wav": 1,
    }
    assert "Sad/SM2_F1_A07.wav" in " ".join(str(w.message) for w in dropped)


def test_the_documented_tree_matches_and_a_missing_file_warns(tmp_path):
    root = write_tree(tmp_path, urdu_files())
    df = load(root)
    assert len(df) == 400 and df.attrs["count_warnings"] == [] and df["speaker"].nunique() == 38
    for path in sorted((root / "Angry").glob("*.wav"))[:2]:
        path.unlink()
    with pytest.warns(CorpusCountWarning) as caught:
        load(root)
    message = str(caught[0].message)
    assert "URDU: audio files 398 (documented 400, -2)" in message and "URDU: angry 98 (documented 100, -2)" in message


def test_a_folder_without_emotion_folders_is_a_clear_error(tmp_path, write_audio):
    write_audio(tmp_path / "SM1_F1_A01.wav")
    with pytest.raises(ManifestError, match="URDU: not the official layout .*Angry/ Happy/ Neutral/ Sad/"):
        load(tmp_path)
