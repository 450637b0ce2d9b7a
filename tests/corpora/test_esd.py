"""ESD loader: split folders or the corpus numbering, transcripts in their encodings, one language per corpus."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.esd import load, partition_of
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError, summarize
from tests.helpers.public_trees import esd_files, write_tree

FILES = [
    "0011/Neutral/evaluation/0011_000001.wav",
    "0011/Angry/train/0011_000400.wav",
    "0011/Happy/test/0011_000721.wav",
    "0011/Sad/train/0011_001100.wav",
    "0011/Surprise/train/0011_001500.wav",
    "0011/Neutral/train/0012_000060.wav",
    "0015/Neutral/0015_000005.wav",
    "0015/Sad/0015_001080.wav",
    "0015/Angry/0015_000700.wav",
    "0001/Neutral/train/0001_000060.wav",  # a Mandarin speaker: not part of ESD-en
]


@pytest.fixture
def esd_root(tmp_path, write_audio) -> Path:
    folder = tmp_path / "ESD" / "Emotion Speech Dataset"
    for name in FILES:
        write_audio(folder / name)
    (folder / "0011" / "0011.txt").write_text(
        "0011_000001\tThe nine the eggs, I keep.\tNeutral\n0011_000400\tI'm so tired!\tAngry\n", encoding="utf-16"
    )
    (folder / "0015" / "0015.txt").write_bytes("0015_000005\tA caf\u00e9 by the door.\tNeutral\n".encode("latin-1"))
    (folder / "0001" / "0001.txt").write_bytes("0001_000060\t\u4f60\u597d\u4e16\u754c\t\u4e2d\u7acb\n".encode("gb2312"))
    return tmp_path / "ESD"


def test_english_manifest_is_parsed_exactly(esd_root, assert_manifest):
    with (
        pytest.warns(CorpusCountWarning, match="ESD-en: speakers 2 \\(documented 10, -8\\)"),
        pytest.warns(CorpusDataWarning, match="of its speaker folder: 0011/Neutral/0012_000060.wav"),
    ):
        df = load(esd_root)
    folder = esd_root.resolve() / "Emotion Speech Dataset"
    spec = [
        ("0011/Neutral/evaluation/0011_000001", "neutral", "val", "M", "The nine the eggs, I keep."),
        ("0011/Angry/train/0011_000400", "angry", "train", "M", "I'm so tired!"),
        ("0011/Happy/test/0011_000721", "happy", "test", "M", ""),
        ("0011/Sad/train/0011_001100", "sad", "train", "M", ""),
        ("0011/Surprise/train/0011_001500", "surprise", "train", "M", ""),
        ("0015/Neutral/0015_000005", "neutral", "val", "F", "A caf\u00e9 by the door."),
        ("0015/Angry/0015_000700", "angry", "train", "F", ""),
        ("0015/Sad/0015_001080", "sad", "test", "F", ""),
    ]
    assert_manifest(
        df,
        [
            {
                "utt_id": f"ESD-en_{name[-11:]}",
                "path": str(folder / f"{name}.wav"),
                "corpus": "ESD-en",
                "speaker": f"ESD-en_{name[:4]}",
                "label": label,
                "partition": partition,
                "gender": gender,
                "transcript": transcript,
            }
            for name, label, partition, gender, transcript in spec
        ],
    )
    assert df.attrs["excluded"] == {}


def test_mandarin_speakers_are_their_own_corpus(esd_root):
    with pytest.warns(CorpusCountWarning, match="ESD-zh: speakers 1"):
        df = load(esd_root, language="zh")
    assert df[["utt_id", "speaker", "gender", "partition"]].values.tolist() == [
        ["ESD-zh_0001_000060", "ESD-zh_0001", "F", "train"]
    ]
    assert df["transcript"].tolist() == ["\u4f60\u597d\u4e16\u754c"]


def test_numbering_gives_the_same_partitions_as_the_split_folders(tmp_path):
    with_folders = write_tree(tmp_path / "a", esd_files(["0020"]))
    without = write_tree(tmp_path / "b", esd_files(["0020"], split_folders=False))
    with pytest.warns(CorpusCountWarning) as caught:
        a, b = load(with_folders), load(without)
    assert "ESD-en: audio files 1750 (documented 17500, -15750)" in str(caught[0].message)
    assert a["partition"].value_counts().to_dict() == {"train": 1500, "test": 150, "val": 100}
    assert a["partition"].tolist() == b["partition"].tolist() and a["utt_id"].tolist() == b["utt_id"].tolist()
    assert [partition_of(n, 1401) for n in (1401, 1420, 1421, 1450, 1451, 1750)] == [
        "val",
        "val",
        "test",
        "test",
        "train",
        "train",
    ]


def test_bad_layout_and_language_are_clear_errors(esd_root, tmp_path):
    with pytest.raises(ManifestError, match="ESD: not the official layout .*speaker folders 0011-0020"):
        load(tmp_path / "nothing")
    with pytest.raises(ManifestError, match="ESD: unknown language 'fr'; valid: en, zh"):
        load(esd_root, language="fr")


def test_transcripts_in_any_marked_encoding_load_and_a_broken_one_drops_its_speaker(tmp_path, write_audio):
    folder = tmp_path / "ESD"
    for name in (
        "0011/Neutral/0011_000001.wav",
        "0012/Neutral/0012_000001.wav",
        "0013/Neutral/0013_000001.wav",
        "0013/Sad/0013_001051.wav",
        "0013/Surprise/0013_001401.wav",
    ):
        write_audio(folder / name)
    line = "{}_000001\tThe nine the eggs, I keep.\tNeutral\n"
    (folder / "0011" / "0011.txt").write_bytes(codecs.BOM_UTF16_LE + line.format("0011").encode("utf-16-le"))
    (folder / "0012" / "0012.txt").write_bytes(codecs.BOM_UTF32_LE + line.format("0012").encode("utf-32-le"))
    broken = folder / "0013" / "0013.txt"
    broken.write_bytes(codecs.BOM_UTF16_LE + line.format("0013").encode("utf-16-le")[:-1])  # odd byte count
    with (
        pytest.warns(
            CorpusDataWarning,
            match=rf"ESD-en: dropped 3 utterance\(s\), unreadable transcript file "
            rf"\({re.escape(str(broken.resolve()))}: not readable as UTF-16-LE text "
            r"\(odd number of bytes at byte \d+\); save it again as UTF-8\): "
            r"0013/Neutral/0013_000001.wav, 0013/Sad/0013_001051.wav, "
            r"0013/Surprise/0013_001401.wav$",
        ),
        pytest.warns(CorpusCountWarning),
    ):
        df = load(folder)
    assert dict(zip(df["utt_id"], df["transcript"])) == {
        "ESD-en_0011_000001": "The nine the eggs, I keep.",
        "ESD-en_0012_000001": "The nine the eggs, I keep.",
    }
    assert list(df.attrs["dropped"].values()) == [3] and df.attrs["excluded"] == {}
    assert "dropped: unreadable transcript file" in summarize(df)


def test_upper_case_extensions_are_found(tmp_path, write_audio):
    folder = tmp_path / "ESD"
    for name in ("0011/Neutral/0011_000001.WAV", "0011/Angry/0011_000351.Wav", "0011/Sad/0011_001051.wav"):
        write_audio(folder / name)
    with pytest.warns(CorpusCountWarning):
        df = load(folder)
    assert df["label"].tolist() == ["neutral", "angry", "sad"]
    assert [Path(path).suffix for path in df["path"]] == [".WAV", ".Wav", ".wav"]
