"""EmoDB loader: a small fake tree (exact manifest) and the real recordings (all 535, counts per emotion)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.emodb import load, read_recognition
from rdlr.corpora.manifest import ManifestError

NBSP = "\u00a0"
RECOGNITION = (
    "Nr.\tSatz\terkannt\tnatuerlich\n"
    f"1{NBSP} {NBSP} \t03a01Fa.wav\t90,00{NBSP} {NBSP} \t75,00{NBSP} \n"
    f"2{NBSP} {NBSP} \t03a01Wa.wav\t95,00{NBSP} {NBSP} \t90,00{NBSP} \n"
    f"3{NBSP} {NBSP} \t08a02Tc.wav\t62,50{NBSP} {NBSP} \t55,00{NBSP} \n"
    f"4{NBSP} {NBSP} \t99z99Aa.wav\t50,00{NBSP} {NBSP} \t50,00{NBSP} \n"
)
FILES = ["03a01Fa", "03a01Wa", "03a01Lb", "08a02Tc", "08a02Nb", "16b10Ea"]


@pytest.fixture
def emodb_fake(tmp_path, write_audio) -> Path:
    root = tmp_path / "emodb"
    for stem in FILES:
        write_audio(root / "wav" / f"{stem}.wav")
    (root / "erkennung.txt").write_text(RECOGNITION, encoding="utf-8")
    return root


def test_fake_tree_is_parsed_exactly(emodb_fake, assert_manifest):
    with pytest.warns(CorpusCountWarning, match="EMODB: speakers 3 \\(documented 10, -7\\)"):
        df = load(emodb_fake)
    wav = emodb_fake.resolve() / "wav"
    spec = [
        ("03a01Fa", "03", "happy", "M", 0.9),
        ("03a01Lb", "03", "boredom", "M", float("nan")),
        ("03a01Wa", "03", "angry", "M", 0.95),
        ("08a02Nb", "08", "neutral", "F", float("nan")),
        ("08a02Tc", "08", "sad", "F", 0.625),
        ("16b10Ea", "16", "disgust", "F", float("nan")),
    ]
    assert_manifest(
        df,
        [
            {
                "utt_id": f"EMODB_{stem}",
                "path": str(wav / f"{stem}.wav"),
                "corpus": "EMODB",
                "speaker": f"EMODB_{spk}",
                "label": label,
                "gender": gender,
                "reliability": reliability,
            }
            for stem, spk, label, gender, reliability in spec
        ],
    )
    assert df.attrs["excluded"] == {}


def test_recognition_file_reads_decimal_commas(emodb_fake):
    shares = read_recognition(emodb_fake / "erkennung.txt")
    assert shares == {"03a01Fa": 0.9, "03a01Wa": 0.95, "08a02Tc": 0.625, "99z99Aa": 0.5}


def test_without_recognition_file_there_is_no_reliability_column(emodb_fake):
    (emodb_fake / "erkennung.txt").unlink()
    with pytest.warns(CorpusCountWarning):
        df = load(emodb_fake)
    assert "reliability" not in df.columns


def test_missing_wav_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no wav/ folder"):
        load(tmp_path)


def test_real_emodb_counts(emodb_root):
    df = load(emodb_root)
    assert len(df) == 535
    assert df["speaker"].nunique() == 10
    assert df["label"].value_counts().to_dict() == {
        "angry": 127,
        "boredom": 81,
        "neutral": 79,
        "happy": 71,
        "fear": 69,
        "sad": 62,
        "disgust": 46,
    }
    assert df.attrs["excluded"] == {}
    assert df.attrs["count_warnings"] == []
    assert set(df["gender"]) == {"F", "M"}
    assert df["reliability"].between(0, 1).all()
