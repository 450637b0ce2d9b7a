"""RAVDESS loader: an exact manifest from a small tree, the whole documented tree, and bad layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from rdlr.corpora.ravdess import load
from tests.helpers.public_trees import ravdess_files, write_tree

FILES = [
    "Actor_01/03-01-01-01-01-01-01.wav",  # neutral
    "Actor_01/03-01-05-02-02-01-01.wav",  # angry, strong
    "Actor_01/03-01-02-01-01-01-01.wav",  # calm
    "Actor_02/03-01-03-01-01-02-02.wav",  # happy
    "Actor_02/03-01-04-01-02-01-02.wav",  # sad
    "Actor_02/03-01-08-02-01-01-02.wav",  # surprised
    "Actor_02/03-02-03-01-01-01-02.wav",  # song: dropped
    "Actor_02/notes.wav",  # not a RAVDESS name: dropped
]


@pytest.fixture
def ravdess_root(tmp_path, write_audio) -> Path:
    root = tmp_path / "RAVDESS"
    for name in FILES:
        write_audio(root / "Audio_Speech_Actors_01-24" / name)
    return root


def test_manifest_is_parsed_exactly(ravdess_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="RAVDESS: speakers 2 \\(documented 24, -22\\)"),
        pytest.warns(CorpusDataWarning) as dropped,
    ):
        df = load(ravdess_root)
    folder = ravdess_root.resolve() / "Audio_Speech_Actors_01-24"
    spec = [
        ("Actor_01", "03-01-01-01-01-01-01", "01", "neutral", "M"),
        ("Actor_01", "03-01-02-01-01-01-01", "01", "calm", "M"),
        ("Actor_02", "03-01-03-01-01-02-02", "02", "happy", "F"),
        ("Actor_02", "03-01-04-01-02-01-02", "02", "sad", "F"),
        ("Actor_01", "03-01-05-02-02-01-01", "01", "angry", "M"),
        ("Actor_02", "03-01-08-02-01-01-02", "02", "surprise", "F"),
    ]  # sorted by utt_id
    assert_manifest(
        df,
        [
            {
                "utt_id": f"RAVDESS_{stem}",
                "path": str(folder / actor / f"{stem}.wav"),
                "corpus": "RAVDESS",
                "speaker": f"RAVDESS_{speaker}",
                "label": label,
                "gender": gender,
            }
            for actor, stem, speaker, label, gender in spec
        ],
    )
    assert df.attrs["excluded"] == {}
    assert df.attrs["dropped"] == {"file name not MM-VV-EE-II-SS-RR-AA.wav": 1, "not audio-only speech (03-01-...)": 1}
    assert "03-02-03-01-01-01-02.wav" in " ".join(str(w.message) for w in dropped)
    assert "audio files 8 (documented 1440, -1432)" in " ".join(df.attrs["count_warnings"])


def test_actor_folders_unpacked_in_place_are_found(tmp_path, write_audio):
    write_audio(tmp_path / "Actor_03" / "03-01-01-01-01-01-03.wav")
    with pytest.warns(CorpusCountWarning):
        df = load(tmp_path)
    assert df["speaker"].tolist() == ["RAVDESS_03"] and df["gender"].tolist() == ["M"]


def test_the_documented_tree_matches_and_a_missing_file_warns(tmp_path):
    root = write_tree(tmp_path / "RAVDESS", ravdess_files())
    df = load(root)  # no warning: every documented count matches
    assert len(df) == 1440 and df.attrs["count_warnings"] == []
    assert df.attrs["excluded"] == {}
    assert df["label"].value_counts().to_dict() == {
        name: 96 if name == "neutral" else 192
        for name in ("calm", "happy", "sad", "angry", "fear", "disgust", "surprise", "neutral")
    }
    (root / "Audio_Speech_Actors_01-24" / "Actor_05" / "03-01-02-02-01-01-05.wav").unlink()  # one calm file
    with pytest.warns(
        CorpusCountWarning,
        match=r"RAVDESS: audio files 1439 \(documented 1440, -1\) "
        r"\[RAVDESS documentation\]",
    ):
        load(root)


def test_a_folder_without_actors_is_a_clear_error(tmp_path, write_audio):
    write_audio(tmp_path / "03-01-01-01-01-01-01.wav")
    with pytest.raises(ManifestError, match="RAVDESS: not the official layout under .*Actor_NN/ folders"):
        load(tmp_path)
