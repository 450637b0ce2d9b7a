"""CREMA-D loader on a small tree in the official layout (AudioWAV/, VideoDemographics.csv, rating files)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.cremad import load
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError

CLIPS = [
    "1001_DFA_ANG_XX",
    "1001_IEO_HAP_LO",
    "1001_IEO_DIS_MD",
    "1002_TIE_NEU_XX",
    "1002_TIE_SAD_XX",
    "1002_TIE_FEA_XX",
]
TABULATED_HEADER = '"","A","D","F","H","N","S","fileName","numResponses","agreement","emoVote","meanEmoResp"\n'
# (row name, A D F H N S, clip): row name = 100000 * queryType + clipNum (1 voice, 2 face, 3 audio-visual)
TABULATED_ROWS = [
    (100001, (6, 2, 0, 0, 1, 0), "1001_DFA_ANG_XX"),
    (100002, (0, 0, 0, 7, 3, 0), "1001_IEO_HAP_LO"),
    (100004, (0, 0, 0, 0, 9, 1), "1002_TIE_NEU_XX"),
    (200001, (9, 0, 0, 0, 0, 0), "1001_DFA_ANG_XX"),
    (300004, (0, 0, 0, 0, 5, 5), "1002_TIE_NEU_XX"),
]


def _tabulated(path: Path) -> None:
    lines = [TABULATED_HEADER]
    for row_name, votes, clip in TABULATED_ROWS:
        counts = ",".join(str(v) for v in votes)
        total = sum(votes)
        lines.append(f'"{row_name}",{counts},"{clip}",{total},{max(votes) / total},"X",50.5\n')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))


@pytest.fixture
def cremad_root(tmp_path, write_audio, write_empty_wav) -> Path:
    root = tmp_path / "CREMA-D"
    for clip in CLIPS:
        write_audio(root / "AudioWAV" / f"{clip}.wav")
    write_empty_wav(root / "AudioWAV" / "1002_MTI_SAD_XX.wav")
    write_audio(root / "AudioWAV" / "readme_take2.wav")
    (root / "VideoDemographics.csv").write_text(
        '"ActorID","Age","Sex","Race","Ethnicity"\n'
        '1001,51,"Male","Caucasian","Not Hispanic"\n'
        '1002,21,"Female","Caucasian","Not Hispanic"\n'
    )
    _tabulated(root / "processedResults" / "tabulatedVotes.csv")
    return root


def _rows(root: Path, votes: dict[str, tuple[float, ...]]) -> list[dict[str, object]]:
    spec = [
        ("1001_DFA_ANG_XX", "1001", "angry", "M"),
        ("1001_IEO_DIS_MD", "1001", "disgust", "M"),
        ("1001_IEO_HAP_LO", "1001", "happy", "M"),
        ("1002_TIE_FEA_XX", "1002", "fear", "F"),
        ("1002_TIE_NEU_XX", "1002", "neutral", "F"),
        ("1002_TIE_SAD_XX", "1002", "sad", "F"),
    ]
    rows = []
    for clip, actor, label, gender in spec:
        n, h, s, a, d, f = votes.get(clip, (math.nan,) * 6)
        rows.append(
            {
                "utt_id": f"CRE_{clip}",
                "path": str(root.resolve() / "AudioWAV" / f"{clip}.wav"),
                "corpus": "CRE",
                "speaker": f"CRE_{actor}",
                "label": label,
                "gender": gender,
                "votes_neutral": n,
                "votes_happy": h,
                "votes_sad": s,
                "votes_angry": a,
                "votes_disgust": d,
                "votes_fear": f,
            }
        )
    return rows


def test_manifest_is_parsed_exactly(cremad_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="CRE: speakers 2 \\(documented 91"),
        pytest.warns(CorpusDataWarning) as dropped,
    ):
        df = load(cremad_root)
    voice = {
        "1001_DFA_ANG_XX": (1, 0, 0, 6, 2, 0),
        "1001_IEO_HAP_LO": (3, 7, 0, 0, 0, 0),
        "1002_TIE_NEU_XX": (9, 0, 1, 0, 0, 0),
    }
    assert_manifest(df, _rows(cremad_root, voice))
    assert df.attrs["excluded"] == {}
    assert df.attrs["dropped"] == {"empty audio file": 1, "file name not ActorID_Sentence_Emotion_Level.wav": 1}
    messages = " ".join(str(w.message) for w in dropped)
    assert "1002_MTI_SAD_XX.wav" in messages and "readme_take2.wav" in messages
    assert any("neutral 1 (documented 1087, -1086)" in m for m in df.attrs["count_warnings"])


def test_votes_of_all_modalities_are_summed(cremad_root):
    with pytest.warns(UserWarning):
        df = load(cremad_root, vote_modality="all").set_index("utt_id")
    assert df.loc["CRE_1001_DFA_ANG_XX", ["votes_neutral", "votes_angry"]].tolist() == [1.0, 15.0]
    assert df.loc["CRE_1002_TIE_NEU_XX", ["votes_neutral", "votes_sad"]].tolist() == [14.0, 6.0]


def test_votes_from_finished_responses_when_not_tabulated(cremad_root):
    (cremad_root / "processedResults" / "tabulatedVotes.csv").unlink()
    header = (
        '"","localid","pos","ans","ttr","queryType","numTries","clipNum","questNum","subType","clipName",'
        '"sessionNums","respEmo","respLevel","dispEmo","dispVal","dispLevel"\n'
    )
    responses = [
        ("1", "A", "1001_DFA_ANG_XX"),
        ("1", "A", "1001_DFA_ANG_XX"),
        ("1", "N", "1001_DFA_ANG_XX"),
        ("2", "S", "1001_DFA_ANG_XX"),
        ("1", "H", "1002_TIE_SAD_XX"),
        ("1", "D", "1002_TIE_SAD_XX"),
    ]
    lines = [header] + [
        f'"{i}","p{i}",{i},"{emo}_50",1200,{query},0,1,{i},4,"{clip}",7,"{emo}",50,"ANG","MD",50\n'
        for i, (query, emo, clip) in enumerate(responses, 1)
    ]
    (cremad_root / "finishedResponses.csv").write_text("".join(lines))
    with pytest.warns(UserWarning):
        df = load(cremad_root).set_index("utt_id")
    assert df.loc["CRE_1001_DFA_ANG_XX", ["votes_neutral", "votes_happy", "votes_sad", "votes_angry"]].tolist() == [
        1.0,
        0.0,
        0.0,
        2.0,
    ]
    assert df.loc["CRE_1002_TIE_SAD_XX", ["votes_neutral", "votes_happy", "votes_sad", "votes_angry"]].tolist() == [
        0.0,
        1.0,
        0.0,
        0.0,
    ]
    assert df.loc["CRE_1002_TIE_NEU_XX", ["votes_neutral", "votes_angry"]].isna().all()


def test_without_rating_files_votes_and_gender_are_empty(cremad_root):
    (cremad_root / "processedResults" / "tabulatedVotes.csv").unlink()
    (cremad_root / "VideoDemographics.csv").unlink()
    with pytest.warns(UserWarning):
        df = load(cremad_root)
    assert df[["votes_neutral", "votes_happy", "votes_sad", "votes_angry"]].isna().all().all()
    assert (df["gender"] == "").all()


def test_missing_audio_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no AudioWAV/ folder under"):
        load(tmp_path)


def test_unknown_vote_modality_lists_the_valid_ones(cremad_root):
    with pytest.raises(ManifestError, match="valid: voice, face, audiovisual, all"):
        load(cremad_root, vote_modality="ears")


def test_tabulated_votes_without_row_names_are_rejected(cremad_root):
    path = cremad_root / "processedResults" / "tabulatedVotes.csv"
    path.write_text('"A","D","F","H","N","S","fileName"\n1,0,0,0,0,0,"1001_DFA_ANG_XX"\n')
    with pytest.raises(ManifestError, match="row names"):
        load(cremad_root)
