"""TESS loader: per-emotion folders, the flat copy, the misnamed file, duplicate copies, the documented tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from rdlr.corpora.tess import load
from tests.helpers.public_trees import tess_files, write_tree

FILES = [
    "OAF_angry/OAF_back_angry.wav",
    "OAF_neutral/OA_bite_neutral.wav",
    "OAF_Pleasant_surprise/OAF_back_ps.wav",
    "YAF_sad/YAF_bar_sad.wav",
    "YAF_happy/YAF_bar_happy.wav",
    "YAF_fear/YAF_bar_fear.wav",
    "YAF_sad/readme.wav",
]


@pytest.fixture
def tess_root(tmp_path, write_audio) -> Path:
    for name in FILES:
        write_audio(tmp_path / "TESS" / name)
    return tmp_path / "TESS"


def test_manifest_is_parsed_exactly(tess_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="TESS: neutral 1 \\(documented 400, -399\\)"),
        pytest.warns(CorpusDataWarning, match="YAF_sad/readme.wav"),
    ):
        df = load(tess_root)
    root = tess_root.resolve()
    spec = [
        ("OAF_angry/OAF_back_angry", "OAF_back_angry", "angry"),
        ("OAF_Pleasant_surprise/OAF_back_ps", "OAF_back_ps", "surprise"),
        ("OAF_neutral/OA_bite_neutral", "OAF_bite_neutral", "neutral"),  # speaker from its folder
        ("YAF_fear/YAF_bar_fear", "YAF_bar_fear", "fear"),
        ("YAF_happy/YAF_bar_happy", "YAF_bar_happy", "happy"),
        ("YAF_sad/YAF_bar_sad", "YAF_bar_sad", "sad"),
    ]
    assert_manifest(
        df,
        [
            {
                "utt_id": f"TESS_{utt}",
                "path": str(root / f"{name}.wav"),
                "corpus": "TESS",
                "speaker": f"TESS_{utt[:3]}",
                "label": label,
                "gender": "F",
            }
            for name, utt, label in spec
        ],
    )
    assert df.attrs["excluded"] == {}


def test_flat_copy_reads_the_speaker_from_the_file_name(tmp_path, write_audio):
    for stem in ("OA_bite_neutral", "YAF_dog_sad", "XYZ_dog_sad"):
        write_audio(tmp_path / f"{stem}.wav")
    with pytest.warns(CorpusCountWarning), pytest.warns(CorpusDataWarning, match="XYZ_dog_sad.wav"):
        df = load(tmp_path)
    assert df["utt_id"].tolist() == ["TESS_OAF_bite_neutral", "TESS_YAF_dog_sad"]


def test_two_copies_of_the_corpus_are_a_clear_error(tess_root):
    shutil.copytree(tess_root / "OAF_angry", tess_root / "TESS copy" / "OAF_angry")
    with pytest.raises(ManifestError, match="OAF_back_angry.wav is found twice .*point --root at one of them"):
        load(tess_root)


def test_the_documented_tree_matches_and_a_missing_file_warns(tmp_path):
    root = write_tree(tmp_path, tess_files())
    df = load(root)
    assert len(df) == 2800 and df.attrs["count_warnings"] == [] and df.attrs["dropped"] == {}
    (root / "YAF_pleasant_surprised" / "YAF_word007_ps.wav").unlink()
    with pytest.warns(CorpusCountWarning, match=r"TESS: audio files 2799 \(documented 2800, -1\)"):
        load(root)


def test_a_folder_without_tess_files_is_a_clear_error(tmp_path, write_audio):
    write_audio(tmp_path / "audio.wav")
    with pytest.raises(ManifestError, match="TESS: not the official layout .*SPK_word_emotion.wav"):
        load(tmp_path)
