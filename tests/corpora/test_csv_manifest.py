"""Manifest CSV files: round trip, relative paths, and a clear error for every kind of bad input."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from rdlr.corpora import read_manifest, write_manifest
from rdlr.corpora.manifest import COLUMNS, ManifestError


@pytest.fixture
def audio_dir(tmp_path, write_audio) -> Path:
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        write_audio(tmp_path / "audio" / name)
    return tmp_path / "audio"


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows))
    return path


def test_relative_paths_resolve_against_the_csv_folder(tmp_path, audio_dir, assert_manifest):
    path = _write(
        tmp_path / "mine.csv",
        "utt_id,path,corpus,speaker,label,gender,partition,votes_happy,reliability",
        [
            "u1,audio/a.wav,MINE,s1,Happy,female,Validation,3,0.5",
            f"u2,{audio_dir / 'b.wav'},MINE,s2,anger,M,,,0.25",
            "u3,audio/c.wav,MINE,s2,,,train,,",
        ],
    )
    df = read_manifest(path)
    assert_manifest(
        df,
        [
            {
                "utt_id": "u1",
                "path": str(audio_dir / "a.wav"),
                "corpus": "MINE",
                "speaker": "s1",
                "label": "happy",
                "gender": "F",
                "partition": "val",
                "votes_happy": 3.0,
                "reliability": 0.5,
            },
            {
                "utt_id": "u2",
                "path": str(audio_dir / "b.wav"),
                "corpus": "MINE",
                "speaker": "s2",
                "label": "angry",
                "gender": "M",
                "reliability": 0.25,
            },
            {
                "utt_id": "u3",
                "path": str(audio_dir / "c.wav"),
                "corpus": "MINE",
                "speaker": "s2",
                "label": "",
                "partition": "train",
                "reliability": math.nan,
            },
        ],
    )
    assert df.attrs["excluded"] == {} and df.attrs["source"] == str(path.resolve())


def test_write_then_read_is_the_same_manifest(tmp_path, audio_dir):
    path = _write(
        tmp_path / "m.csv",
        "utt_id,path,corpus,speaker,label,session,votes_sad",
        [
            "u1,audio/a.wav,X,s1,sad,1,2.5",
            "u2,audio/b.wav,X,s2,neutral,02,",
        ],
    )
    first = read_manifest(path)
    second = read_manifest(write_manifest(first, tmp_path / "copy" / "m.csv"))
    assert list(second.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(first, second)
    assert second["session"].tolist() == ["1", "02"]


def test_missing_columns_are_named(tmp_path):
    path = _write(tmp_path / "m.csv", "utt_id,path,label", ["u1,a.wav,happy"])
    with pytest.raises(ManifestError) as error:
        read_manifest(path)
    assert str(path) in str(error.value) and "missing required column(s) ['corpus', 'speaker']" in str(error.value)


def test_duplicate_ids_are_listed_with_lines(tmp_path, audio_dir):
    path = _write(
        tmp_path / "m.csv",
        "utt_id,path,corpus,speaker,label",
        [
            "u1,audio/a.wav,X,s1,happy",
            "u2,audio/b.wav,X,s1,sad",
            "u1,audio/c.wav,X,s2,sad",
        ],
    )
    with pytest.raises(ManifestError, match="duplicate utt_id value\\(s\\) 'u1' \\(2 rows, first at line 2\\)"):
        read_manifest(path)


def test_missing_files_show_the_first_few(tmp_path, audio_dir):
    rows = [f"u{i},audio/missing{i}.wav,X,s{i},happy" for i in range(8)]
    path = _write(tmp_path / "m.csv", "utt_id,path,corpus,speaker,label", rows)
    with pytest.raises(ManifestError) as error:
        read_manifest(path)
    message = str(error.value)
    assert "8 audio file(s) listed in column 'path' do not exist" in message
    assert "missing0.wav" in message and "missing4.wav" in message and "(and 3 more)" in message
    assert "missing7.wav" not in message and f"resolve against {tmp_path}" in message
    assert len(read_manifest(path, check_files=False)) == 8


def test_any_label_is_kept_and_common_spellings_become_the_vocabulary(tmp_path, audio_dir):
    path = _write(
        tmp_path / "m.csv",
        "utt_id,path,corpus,speaker,label",
        [
            "u1,audio/a.wav,X,s1,Happiness",
            "u2,audio/b.wav,X,s1,fearful",
            "u3,audio/c.wav,X,s2,bored",
            "u4,audio/d.wav,X,s2,Gloomy",
        ],
    )
    assert read_manifest(path)["label"].tolist() == ["happy", "fear", "boredom", "gloomy"]


def test_labels_outside_the_vocabulary_name_file_column_value_and_remedy_on_request(tmp_path, audio_dir):
    path = _write(
        tmp_path / "m.csv",
        "utt_id,path,corpus,speaker,label",
        [
            "u1,audio/a.wav,X,s1,happy",
            "u2,audio/b.wav,X,s1,glee",
            "u3,audio/c.wav,X,s2,glee",
            "u4,audio/d.wav,X,s2,meh",
        ],
    )
    with pytest.raises(ManifestError) as error:
        read_manifest(path, other_labels="error")
    message = str(error.value)
    assert str(path) in message and "column 'label'" in message
    assert "'glee' (2 rows, first at line 3)" in message and "'meh' (1 row, first at line 5)" in message
    assert "other_labels='exclude'" in message and "--exclude-other-labels" in message


def test_other_labels_can_be_excluded_and_counted(tmp_path, audio_dir):
    path = _write(
        tmp_path / "m.csv",
        "utt_id,path,corpus,speaker,label",
        [
            "u1,audio/a.wav,X,s1,happy",
            "u2,audio/b.wav,X,s1,glee",
            "u3,audio/c.wav,X,s2,glee",
            "u4,audio/d.wav,X,s2,fear",
        ],
    )
    df = read_manifest(path, other_labels="exclude")
    assert df["utt_id"].tolist() == ["u1", "u4"]
    assert df.attrs["excluded"] == {"glee": 2}


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("gender", "x", "column 'gender' has value(s) 'x'"),
        ("partition", "holdout", "column 'partition' has value(s) 'holdout'"),
        ("votes_angry", "many", "column 'votes_angry' must hold non-negative vote counts"),
        ("votes_angry", "-1", "column 'votes_angry' must hold non-negative vote counts"),
    ],
)
def test_bad_optional_values_are_named(tmp_path, audio_dir, column, value, expected):
    path = _write(
        tmp_path / "m.csv", f"utt_id,path,corpus,speaker,label,{column}", [f"u1,audio/a.wav,X,s1,happy,{value}"]
    )
    with pytest.raises(ManifestError, match=expected.replace("(", "\\(").replace(")", "\\)")):
        read_manifest(path)


def test_empty_required_cells_are_named(tmp_path, audio_dir):
    path = _write(tmp_path / "m.csv", "utt_id,path,corpus,speaker,label", ["u1,audio/a.wav,X,,happy"])
    with pytest.raises(ManifestError, match="empty 'speaker' at line\\(s\\) 2"):
        read_manifest(path)


def test_missing_manifest_and_bad_policy(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    path = _write(tmp_path / "m.csv", "utt_id,path,corpus,speaker,label", [])
    with pytest.raises(ManifestError, match="valid: keep, error, exclude"):
        read_manifest(path, other_labels="drop")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_a_bom_marked_manifest_reads_like_utf8(tmp_path, audio_dir, encoding):
    path = tmp_path / "excel.csv"
    path.write_text("utt_id,path,corpus,speaker,label\nu\u00e9,audio/a.wav,MINE,s1,happy\n", encoding=encoding)
    assert read_manifest(path)["utt_id"].tolist() == ["u\u00e9"]


def test_a_broken_utf16_manifest_is_one_line_naming_it(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes("utt_id,path,corpus,speaker,label\n".encode("utf-16")[:-1])
    with pytest.raises(ManifestError, match=rf"^{path}: not readable as UTF-16-LE text \(odd number of bytes"):
        read_manifest(path)
