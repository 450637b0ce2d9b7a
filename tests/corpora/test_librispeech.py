"""LibriSpeech loader on a small train-clean-100 tree (speaker/chapter/*.flac + .trans.txt, SPEAKERS.TXT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.librispeech import load
from rdlr.corpora.manifest import CorpusDataWarning, ManifestError

SPEAKERS = """; Some speakers have also been recorded for the other subsets
;ID  |SEX| SUBSET           |MINUTES| NAME
14   | F | train-clean-360  | 25.03 | Kristin LeMoine
19   | F | train-clean-100  | 25.19 | Kara Shallenberg
26   | M | train-clean-100  | 25.08 | Denny Sayers
"""
UTTERANCES = {
    ("19", "198"): {"19-198-0000": "NORTHANGER ABBEY", "19-198-0001": "THIS LITTLE WORK WAS FINISHED IN THE YEAR"},
    ("26", "495"): {"26-495-0000": "IN THE BEGINNING"},
}


@pytest.fixture
def libri_root(tmp_path, write_audio) -> Path:
    root = tmp_path / "LibriSpeech"
    subset = root / "train-clean-100"
    for (speaker, chapter), utterances in UTTERANCES.items():
        chapter_dir = subset / speaker / chapter
        for utt in utterances:
            write_audio(chapter_dir / f"{utt}.flac")
        (chapter_dir / f"{speaker}-{chapter}.trans.txt").write_text(
            "".join(f"{utt} {text}\n" for utt, text in utterances.items())
        )
    (root / "SPEAKERS.TXT").write_text(SPEAKERS)
    return root


def test_manifest_is_parsed_exactly(libri_root, assert_manifest):
    with pytest.warns(CorpusCountWarning, match="LIB: utterances 3 \\(documented 28539, -28536\\)"):
        df = load(libri_root)
    subset = libri_root.resolve() / "train-clean-100"
    rows = []
    for (speaker, chapter), utterances in UTTERANCES.items():
        for utt, text in utterances.items():
            rows.append(
                {
                    "utt_id": f"LIB_{utt}",
                    "path": str(subset / speaker / chapter / f"{utt}.flac"),
                    "corpus": "LIB",
                    "speaker": f"LIB_{speaker}",
                    "label": "",
                    "gender": {"19": "F", "26": "M"}[speaker],
                    "transcript": text,
                }
            )
    assert_manifest(df, rows)
    assert df.attrs["excluded"] == {}


@pytest.mark.parametrize("level", ["parent", "librispeech", "subset"])
def test_root_may_be_any_level_of_the_tree(libri_root, level):
    root = {"parent": libri_root.parent, "librispeech": libri_root, "subset": libri_root / "train-clean-100"}[level]
    with pytest.warns(CorpusCountWarning):
        df = load(root)
    assert df["utt_id"].tolist() == ["LIB_19-198-0000", "LIB_19-198-0001", "LIB_26-495-0000"]


def test_missing_subset_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no train-clean-100/ folder"):
        load(tmp_path)


def test_a_transcript_file_that_does_not_decode_drops_its_chapter_counted(libri_root):
    broken = libri_root / "train-clean-100" / "19" / "198" / "19-198.trans.txt"
    broken.write_bytes(b"\xff\xfe" + "19-198-0000 NORTHANGER ABBEY\n".encode("utf-16-le") + b"\x00")
    with (
        pytest.warns(
            CorpusDataWarning,
            match=r"LIB: dropped 2 utterance\(s\), unreadable transcript file \(.*"
            r"19-198.trans.txt: not readable as UTF-16-LE text .*: "
            r"19-198-0000.flac, 19-198-0001.flac$",
        ),
        pytest.warns(CorpusCountWarning),
    ):
        df = load(libri_root)
    assert df["utt_id"].tolist() == ["LIB_26-495-0000"] and list(df.attrs["dropped"].values()) == [2]
