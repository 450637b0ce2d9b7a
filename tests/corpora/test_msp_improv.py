"""MSP-IMPROV loader on a small tree in the official layout (Evaluation.txt, Audio/sessionN/...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from rdlr.corpora.msp_improv import load, parse_evaluation, rater_emotion
from rdlr.labels import PAPER4, VOCABULARY, label_set
from rdlr.targets import soft_labels

EVALUATION = """UTD-IMPROV-S01A-F01-S-FM01.avi; A; A:4.000000; V:1.833333; D:3.666667 ; N:3.500000;
mspimprov-r11; Angry; Frustrated; A:4.0; V:2.0; D:4.0; N:4.0;
mspimprov-r12; Angry; ; A:4.0; V:2.0; D:3.0; N:3.0;
mspimprov-r12; Angry; ; A:4.0; V:2.0; D:3.0; N:3.0;
mspimprov-r13; Neutral; ; A:3.0; V:3.0; D:3.0; N:4.0;

UTD-IMPROV-S02H-M01-T-MF02.avi; H; A:3.500000; V:4.500000; D:3.000000 ; N:4.000000;
mspimprov-r11; Happy; Excited; A:4.0; V:5.0; D:3.0; N:4.0;
mspimprov-r14; Other; Amused; A:3.0; V:4.0; D:3.0; N:4.0;

UTD-IMPROV-S03N-F06-P-FM03.avi; N; A:2.500000; V:3.000000; D:3.000000 ; N:4.500000;
mspimprov-r20; Neutral; ; A:2.0; V:3.0; D:3.0; N:5.0;
mspimprov-r21; Sad; ; A:2.0; V:2.0; D:3.0; N:4.0;

UTD-IMPROV-S04S-M06-R-MF04.avi; S; A:1.500000; V:1.500000; D:2.000000 ; N:4.000000;
mspimprov-r20; Sad; ; A:1.0; V:1.0; D:2.0; N:4.0;

UTD-IMPROV-S05A-M06-S-MF05.avi; O; A:3.000000; V:3.000000; D:3.000000 ; N:3.000000;
mspimprov-r20; Other; Surprised; A:3.0; V:3.0; D:3.0; N:3.0;

UTD-IMPROV-S06N-F06-S-FM06.avi; X; A:3.000000; V:3.000000; D:3.000000 ; N:3.000000;
mspimprov-r20; Neutral; ; A:3.0; V:3.0; D:3.0; N:3.0;
mspimprov-r21; Happy; ; A:3.0; V:3.0; D:3.0; N:3.0;

UTD-IMPROV-S07A-F01-S-FM07.avi; A; A:4.000000; V:2.000000; D:4.000000 ; N:3.000000;
"""
AUDIO = [
    "session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.wav",
    "session1/S02H/T/MSP-IMPROV-S02H-M01-T-MF02.wav",
    "session6/S03N/P/MSP-IMPROV-S03N-F06-P-FM03.wav",
    "session6/S04S/R/MSP-IMPROV-S04S-M06-R-MF04.wav",
    "session6/S05A/S/MSP-IMPROV-S05A-M06-S-MF05.wav",
    "session6/S06N/S/MSP-IMPROV-S06N-F06-S-FM06.wav",
    "session6/S08H/S/MSP-IMPROV-S08H-F06-S-FM08.wav",
]


@pytest.fixture
def improv_root(tmp_path, write_audio) -> Path:
    root = tmp_path / "MSP-IMPROV"
    root.mkdir()
    (root / "Evaluation.txt").write_text(EVALUATION)
    for relative in AUDIO:
        write_audio(root / "Audio" / relative)
    return root


def _row(root: Path, relative: str, label: str, votes: dict[str, float]) -> dict:
    """The manifest row of one clip; ``votes``: the emotions raters voted for (every other emotion 0)."""
    name = Path(relative).stem
    speaker = name.split("-")[3]
    return {
        "utt_id": f"IMP_{name}",
        "path": str(root.resolve() / "Audio" / relative),
        "corpus": "IMP",
        "speaker": f"IMP_{speaker}",
        "label": label,
        "session": str(int(speaker[1:])),
        "gender": speaker[0],
        **{f"votes_{emotion}": float(votes.get(emotion, 0)) for emotion in VOCABULARY},
    }


def test_manifest_is_parsed_exactly(improv_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="IMP: speakers 4 \\(documented 12, -8\\)"),
        pytest.warns(CorpusDataWarning) as dropped,
    ):
        df = load(improv_root)
    assert_manifest(
        df,
        [
            _row(improv_root, AUDIO[0], "angry", {"neutral": 1, "angry": 2}),
            _row(improv_root, AUDIO[1], "happy", {"happy": 1, "other": 1}),  # Other; Amused: not in the vocabulary
            _row(improv_root, AUDIO[2], "neutral", {"neutral": 1, "sad": 1}),
            _row(improv_root, AUDIO[3], "sad", {"sad": 1}),
            _row(improv_root, AUDIO[4], "other", {"surprise": 1}),  # Other; Surprised
        ],
    )
    assert df.attrs["excluded"] == {"X": 1}
    assert df.attrs["dropped"] == {"audio file without a label in Evaluation.txt": 1, "missing audio file": 1}
    messages = " ".join(str(w.message) for w in dropped)
    assert "MSP-IMPROV-S07A-F01-S-FM07" in messages and "MSP-IMPROV-S08H-F06-S-FM08" in messages


def test_misspelled_label_file_is_found(improv_root):
    (improv_root / "Evaluation.txt").rename(improv_root / "Evalution.txt")
    with pytest.warns(UserWarning):
        assert len(load(improv_root)) == 5


def test_duplicate_rater_lines_count_once(improv_root):
    clips = parse_evaluation(improv_root / "Evaluation.txt")
    assert clips["MSP-IMPROV-S01A-F01-S-FM01"]["raters"] == {
        "mspimprov-r11": "angry",
        "mspimprov-r12": "angry",
        "mspimprov-r13": "neutral",
    }
    assert clips["MSP-IMPROV-S07A-F01-S-FM07"] == {"raw": "A", "raters": {}}


def test_missing_label_file_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no Evaluation.txt"):
        load(tmp_path)


def test_rater_emotions_outside_the_four_classes_are_votes_too() -> None:
    assert rater_emotion("Angry", "Frustrated") == "angry"  # the primary emotion decides
    assert rater_emotion("Other", "Surprised") == "surprise"
    assert rater_emotion("Other", "Amused, Disgusted") == "disgust"  # the first one in the vocabulary
    assert rater_emotion("Other", "Amused") == "other"
    assert rater_emotion("Puzzled", "") == "other"


def test_a_larger_class_set_gets_the_votes_of_other_emotions_and_paper4_keeps_its_own(improv_root) -> None:
    with pytest.warns(UserWarning):
        df = load(improv_root)
    ekman, five = label_set("ekman"), label_set(["neutral", "happy", "sad", "angry", "other"])
    surprise = ekman.vote_matrix(df)[4, ekman.classes.index("surprise")]
    assert surprise == 1  # Other; Surprised: the one rater of S05A
    np.testing.assert_array_equal(five.vote_matrix(df)[1], [0, 1, 0, 0, 1])  # Happy + Other (Amused)
    # paper4: the votes of the four classes as before (neutral, happy, sad, angry per clip), soft labels from them
    paper4 = label_set("paper4").vote_matrix(df)
    expected = np.array([[1, 0, 0, 2], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(paper4, expected)
    assert list(label_set("paper4").classes) == list(PAPER4)
    labels = torch.tensor([3, 1, 0, 2])  # angry, happy, neutral, sad
    soft = soft_labels(torch.from_numpy(paper4[:4]), labels)
    torch.testing.assert_close(soft[0], torch.tensor([1 / 3, 0, 0, 2 / 3]))  # S01A: the rater of Other adds nothing
    torch.testing.assert_close(soft[1], torch.tensor([0.0, 1, 0, 0]))  # S02H: Other (Amused) left out, renormalised
