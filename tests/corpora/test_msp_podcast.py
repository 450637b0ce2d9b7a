"""MSP-Podcast v1.8 loader on a small tree in the official layout (Labels/labels_concensus.csv, Audios/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError
from rdlr.corpora.msp_podcast import load

HEADER = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
ROWS = [
    ("MSP-PODCAST_0001_0008.wav", "N", "127", "Female", "Train"),
    ("MSP-PODCAST_0001_0019.wav", "H", "127", "Female", "Train"),
    ("MSP-PODCAST_0002_0033.wav", "A", "Unknown", "Unknown", "Train"),
    ("MSP-PODCAST_0002_0034.wav", "S", "Unknown", "Unknown", "Development"),
    ("MSP-PODCAST_0003_0001.wav", "C", "250", "Male", "Train"),
    ("MSP-PODCAST_0003_0002.wav", "X", "250", "Male", "Test1"),
    ("MSP-PODCAST_0004_0010.wav", "S", "31", "Male", "Test1"),
    ("MSP-PODCAST_0005_0001.wav", "N", "4", "Female", "Test2"),
    ("MSP-PODCAST_0006_0001.wav", "U", "5", "Female", "Development"),
]


@pytest.fixture
def podcast_root(tmp_path, write_audio) -> Path:
    root = tmp_path / "MSP-PODCAST-Publish-1.8"
    (root / "Labels").mkdir(parents=True)
    lines = [HEADER] + [f"{name},{emo},3.2,4.0,3.6,{spk},{gender},{split}\n" for name, emo, spk, gender, split in ROWS]
    (root / "Labels" / "labels_concensus.csv").write_text("".join(lines))
    for name, *_ in ROWS:
        write_audio(root / "Audios" / name)
    return root


def _row(root: Path, stem: str, speaker: str, label: str, gender: str, partition: str) -> dict:
    return {
        "utt_id": f"POD_{stem}",
        "path": str(root.resolve() / "Audios" / f"{stem}.wav"),
        "corpus": "POD",
        "speaker": speaker,
        "label": label,
        "partition": partition,
        "gender": gender,
    }


def test_manifest_is_parsed_exactly(podcast_root, assert_manifest):
    with pytest.warns(CorpusCountWarning) as counted:
        df = load(podcast_root)
    r = podcast_root
    assert_manifest(
        df,
        [
            _row(r, "MSP-PODCAST_0001_0008", "POD_127", "neutral", "F", "train"),
            _row(r, "MSP-PODCAST_0001_0019", "POD_127", "happy", "F", "train"),
            _row(r, "MSP-PODCAST_0002_0033", "POD_unknown_MSP-PODCAST_0002_0033", "angry", "", "train"),
            _row(r, "MSP-PODCAST_0002_0034", "POD_unknown_MSP-PODCAST_0002_0034", "sad", "", "val"),
            _row(r, "MSP-PODCAST_0003_0001", "POD_250", "contempt", "M", "train"),
            _row(r, "MSP-PODCAST_0004_0010", "POD_31", "sad", "M", "test"),
            _row(r, "MSP-PODCAST_0005_0001", "POD_4", "neutral", "F", "test"),
            _row(r, "MSP-PODCAST_0006_0001", "POD_5", "surprise", "F", "val"),
        ],
    )
    assert df.attrs["excluded"] == {"X": 1}
    messages = " ".join(str(w.message) for w in counted)
    assert "POD: neutral 2 (documented 26009, -26007)" in messages
    assert "POD: known speakers 5 (documented 1285, -1280)" in messages


def test_unknown_speakers_never_share_an_id(podcast_root):
    with pytest.warns(CorpusCountWarning):
        df = load(podcast_root)
    unknown = df[df["speaker"].str.startswith("POD_unknown_")]
    assert len(unknown) == 2 and unknown["speaker"].nunique() == 2


def test_missing_audio_is_dropped_with_a_warning(podcast_root):
    (podcast_root / "Audios" / "MSP-PODCAST_0004_0010.wav").unlink()
    with (
        pytest.warns(CorpusDataWarning, match="missing audio file: .*MSP-PODCAST_0004_0010.wav"),
        pytest.warns(CorpusCountWarning),
    ):
        df = load(podcast_root)
    assert len(df) == 7


def test_corrected_spelling_and_validation_partition(podcast_root):
    labels = podcast_root / "Labels"
    text = (labels / "labels_concensus.csv").read_text().replace("Development", "Validation")
    (labels / "labels_concensus.csv").unlink()
    (labels / "labels_consensus.csv").write_text(text)
    with pytest.warns(CorpusCountWarning):
        df = load(podcast_root)
    assert df.set_index("utt_id").loc["POD_MSP-PODCAST_0002_0034", "partition"] == "val"


def test_unknown_split_set_is_a_clear_error(podcast_root):
    path = podcast_root / "Labels" / "labels_concensus.csv"
    path.write_text(path.read_text().replace("Test2", "Holdout"))
    with pytest.raises(ManifestError, match="unknown Split_Set value\\(s\\) \\['holdout'\\]"):
        load(podcast_root)


def test_missing_column_is_a_clear_error(podcast_root):
    path = podcast_root / "Labels" / "labels_concensus.csv"
    path.write_text(path.read_text().replace("SpkrID", "Speaker"))
    with pytest.raises(ManifestError, match="missing column\\(s\\) \\['SpkrID'\\]"):
        load(podcast_root)


def test_missing_label_file_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no Labels/labels_concensus.csv"):
        load(tmp_path)


def test_file_names_without_extension_point_at_the_wav(podcast_root):
    path = podcast_root / "Labels" / "labels_concensus.csv"
    path.write_text(path.read_text().replace("MSP-PODCAST_0001_0008.wav", "MSP-PODCAST_0001_0008"))
    with pytest.warns(CorpusCountWarning):
        df = load(podcast_root).set_index("utt_id")
    assert df.loc["POD_MSP-PODCAST_0001_0008", "path"].endswith("Audios/MSP-PODCAST_0001_0008.wav")
