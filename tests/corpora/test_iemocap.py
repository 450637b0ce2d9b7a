"""IEMOCAP loader on a small tree in the official layout (SessionN/dialog/EmoEvaluation, sentences/wav)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.iemocap import VOTE_EMOTIONS, load, parse_emo_evaluation
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
SESSION1 = (
    HEADER
    + """[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]
C-E2:\tNeutral;\t()
C-E3:\tNeutral;\t()
C-E4:\tFrustration; Anger;\t()
C-F1:\tNeutral;\t(curious)
A-E3:\tval 3; act 2; dom  2;\t()
A-F1:\tval 3; act 2; dom  1;\t()

[10.0100 - 11.3925]\tSes01F_impro01_M000\texc\t[4.0000, 3.5000, 3.0000]
C-E1:\tExcited;\t()
C-E2:\tHappiness; Excited;\t()
C-E3:\tOther:amused;\t(amused)
C-M1:\tHappiness;\t()
A-E1:\tval 4; act 4; dom  3;\t()

[14.8872 - 18.0175]\tSes01F_impro01_F001\tfru\t[2.0000, 3.5000, 3.5000]
C-E2:\tFrustration;\t()
C-E3:\tAnger;\t()

[19.2900 - 20.7875]\tSes01F_impro01_M001\txxx\t[2.5000, 3.0000, 3.0000]
C-E1:\tSadness;\t()
C-E2:\tNeutral state;\t()
"""
)
SESSION2 = (
    HEADER
    + """[1.0000 - 2.5000]\tSes02M_script01_1_F000\tsad\t[1.5000, 2.0000, 2.5000]
C-E1:\tSadness;\t()
C-E2:\tSadness; Neutral state;\t()

[3.0000 - 4.5000]\tSes02M_script01_1_M000\tang\t[1.5000, 4.0000, 4.0000]
C-E1:\tAnger;\t()
C-E3:  Anger;  (loud; shouting)

[5.0000 - 6.0000]\tSes02M_script01_1_M001\thap\t[4.0000, 3.0000, 3.0000]
"""
)
TRANSCRIPT1 = """Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
Ses01F_impro01_M000 [010.0100-011.3925]: Do you have your forms?
Ses01F_impro01_MXX0 [012.0000-013.0000]: [LAUGHTER]
"""


@pytest.fixture
def iemocap_root(tmp_path, write_audio) -> Path:
    root = tmp_path / "IEMOCAP_full_release"
    for session, dialog, text, turns in (
        (1, "Ses01F_impro01", SESSION1, ["F000", "M000", "F001", "M001"]),
        (2, "Ses02M_script01_1", SESSION2, ["F000", "M000", "M001"]),
    ):
        session_dir = root / f"Session{session}"
        labels = session_dir / "dialog" / "EmoEvaluation"
        labels.mkdir(parents=True)
        (labels / f"{dialog}.txt").write_text(text)
        (labels / f"._{dialog}.txt").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
        (labels / "Categorical").mkdir()
        (labels / "Categorical" / f"{dialog}_e2_cat.txt").write_text(f"{dialog}_F000 :Anger;\n")
        for turn in turns:
            write_audio(session_dir / "sentences" / "wav" / dialog / f"{dialog}_{turn}.wav")
    transcripts = root / "Session1" / "dialog" / "transcriptions"
    transcripts.mkdir(parents=True)
    (transcripts / "Ses01F_impro01.txt").write_text(TRANSCRIPT1)
    return root


def _row(
    root: Path, session: int, dialog: str, turn: str, label: str, votes: dict[str, float] | None, transcript: str = ""
) -> dict:
    """One expected row; ``votes`` per emotion (others 0), ``None`` for a turn without evaluators (all NaN)."""
    name = f"{dialog}_{turn}"
    gender = turn[0]
    return {
        "utt_id": f"IEM_{name}",
        "path": str(root.resolve() / f"Session{session}" / "sentences" / "wav" / dialog / f"{name}.wav"),
        "corpus": "IEM",
        "speaker": f"IEM_Ses{session:02d}{gender}",
        "label": label,
        "session": str(session),
        "gender": gender,
        "transcript": transcript,
        **{
            f"votes_{emotion}": float("nan") if votes is None else float(votes.get(emotion, 0.0))
            for emotion in VOTE_EMOTIONS
        },
    }


def test_manifest_is_parsed_exactly(iemocap_root, assert_manifest):
    with pytest.warns(CorpusCountWarning, match="IEM: speakers 4 \\(documented 10, -6\\)"):
        df = load(iemocap_root)
    assert_manifest(
        df,
        [
            _row(
                iemocap_root,
                1,
                "Ses01F_impro01",
                "F000",
                "neutral",
                {"neutral": 2, "frustrated": 0.5, "angry": 0.5},
                "Excuse me.",
            ),
            _row(iemocap_root, 1, "Ses01F_impro01", "F001", "frustrated", {"frustrated": 1, "angry": 1}),
            _row(
                iemocap_root,
                1,
                "Ses01F_impro01",
                "M000",
                "excited",
                {"happy": 0.5, "excited": 1.5, "other": 1},
                "Do you have your forms?",
            ),
            _row(iemocap_root, 2, "Ses02M_script01_1", "F000", "sad", {"neutral": 0.5, "sad": 1.5}),
            _row(iemocap_root, 2, "Ses02M_script01_1", "M000", "angry", {"angry": 2}),
            _row(iemocap_root, 2, "Ses02M_script01_1", "M001", "happy", None),
        ],
    )
    assert df.attrs["excluded"] == {"xxx": 1}
    assert df.attrs["dropped"] == {}


def test_self_evaluations_are_votes_on_request(iemocap_root):
    with pytest.warns(CorpusCountWarning):
        df = load(iemocap_root, self_votes=True).set_index("utt_id")
    assert df.loc["IEM_Ses01F_impro01_F000", "votes_neutral"] == 3.0
    assert df.loc["IEM_Ses01F_impro01_M000", ["votes_happy", "votes_excited"]].tolist() == [1.5, 1.5]


def test_turn_without_audio_is_dropped_with_a_warning(iemocap_root):
    (iemocap_root / "Session2" / "sentences" / "wav" / "Ses02M_script01_1" / "Ses02M_script01_1_M000.wav").unlink()
    with (
        pytest.warns(CorpusDataWarning, match="missing audio file: .*Ses02M_script01_1_M000.wav"),
        pytest.warns(CorpusCountWarning),
    ):
        df = load(iemocap_root)
    assert "IEM_Ses02M_script01_1_M000" not in set(df["utt_id"])
    assert df.attrs["dropped"] == {"missing audio file": 1}


def test_root_may_be_the_parent_of_the_release(iemocap_root):
    with pytest.warns(CorpusCountWarning):
        df = load(iemocap_root.parent)
    assert len(df) == 6


def test_parse_keeps_raw_labels_of_every_turn(iemocap_root):
    turns = parse_emo_evaluation(iemocap_root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt")
    assert [(t["turn"], t["raw"]) for t in turns] == [
        ("Ses01F_impro01_F000", "neu"),
        ("Ses01F_impro01_M000", "exc"),
        ("Ses01F_impro01_F001", "fru"),
        ("Ses01F_impro01_M001", "xxx"),
    ]


def test_no_sessions_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no Session1..Session5 folders"):
        load(tmp_path)


def test_a_label_file_that_does_not_decode_drops_its_dialog_counted(iemocap_root):
    broken = iemocap_root / "Session2" / "dialog" / "EmoEvaluation" / "Ses02M_script01_1.txt"
    broken.write_bytes(codecs.BOM_UTF16_LE + SESSION2.encode("utf-16-le") + b"\x00")  # odd byte count
    transcripts = iemocap_root / "Session1" / "dialog" / "transcriptions" / "Ses01F_impro01.txt"
    transcripts.write_bytes(codecs.BOM_UTF16_BE + TRANSCRIPT1.encode("utf-16-be"))
    with (
        pytest.warns(
            CorpusDataWarning,
            match=r"dropped 3 utterance\(s\), unreadable label file \(.*"
            r"Ses02M_script01_1.txt: not readable as UTF-16-LE text",
        ),
        pytest.warns(CorpusCountWarning),
    ):
        df = load(iemocap_root)
    assert df["utt_id"].tolist() == ["IEM_Ses01F_impro01_F000", "IEM_Ses01F_impro01_F001", "IEM_Ses01F_impro01_M000"]
    assert df["transcript"].tolist() == ["Excuse me.", "", "Do you have your forms?"]
    assert list(df.attrs["dropped"].values()) == [3]
