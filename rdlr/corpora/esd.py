"""ESD, the Emotional Speech Dataset (ESD-en, ESD-zh: one corpus per language), as distributed.

Download it from github.com/HLTSingapore/Emotional-Speech-Data and unpack it::

    ROOT/00NN/<Emotion>/<split>/00NN_XXXXXX.wav    Emotion: Angry Happy Neutral Sad Surprise;
                                                   split: train / evaluation / test (some copies lack it)
    ROOT/00NN/00NN.txt                             "00NN_XXXXXX<TAB>transcript<TAB>emotion" (optional)

``ROOT`` may also be the folder holding ``Emotion Speech Dataset/``. Speakers 0001–0010 speak Mandarin, 0011–0020
English (``language="en"``, corpus ``ESD-en``, the default; ``language="zh"`` gives ``ESD-zh``). Each speaker
reads 350 parallel sentences in every emotion: 300 train, 20 evaluation and 30 test utterances, kept in the
``partition`` column as train / val / test. Where a copy lacks the split folders the partition follows the
corpus's numbering: in each emotion's block of 350 utterances (Neutral 000001–000350, Angry 000351–000700, Happy,
Sad, then Surprise), the first 20 are evaluation, the next 30 test and the last 300 train. Neutral, Happy, Sad and
Angry and Surprise are kept: 3,500 utterances per emotion and 17,500 files per language. Gender from
the corpus ReadMe (0011–0014 and 0020 male, 0015–0019 female; 0004–0006, 0008, 0010 male). The transcript files
come in several encodings (UTF-8, UTF-16, Latin-1, GB2312); each is detected (:mod:`rdlr.corpora.text_files`).
A transcript file that does not decode drops its speaker's utterances, counted under one reason naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files, child, locate
from rdlr.corpora.manifest import ManifestBuilder, ManifestError
from rdlr.corpora.text_files import UnreadableText, read_text

LANGUAGES: dict[str, range] = {"en": range(11, 21), "zh": range(1, 11)}
TEXT_FALLBACK: dict[str, str] = {"en": "latin-1", "zh": "gb18030"}
MALE_SPEAKERS: frozenset[int] = frozenset({4, 5, 6, 8, 10, 11, 12, 13, 14, 20})
EMOTION_BLOCKS: dict[str, tuple[int, str]] = {  # folder -> (first utterance number of its block, label)
    "Neutral": (1, "neutral"),
    "Angry": (351, "angry"),
    "Happy": (701, "happy"),
    "Sad": (1051, "sad"),
    "Surprise": (1401, "surprise"),
}
SPLIT_FOLDERS: dict[str, str] = {"train": "train", "evaluation": "val", "test": "test"}
PER_EMOTION = 350
FILE_NAME = re.compile(r"^(\d{4})_(\d{6})$")
EXPECTED = ExpectedCounts(  # per language: 10 English and 10 Mandarin speakers, 350 utterances per emotion each
    source="ESD ReadMe",
    speakers=10,
    classes={label: 10 * PER_EMOTION for _, label in EMOTION_BLOCKS.values()},
    files=10 * PER_EMOTION * len(EMOTION_BLOCKS),  # neutral, angry, happy, sad and surprise
)


def corpus_name(language: str) -> str:
    """``ESD-en`` or ``ESD-zh``."""
    if language not in LANGUAGES:
        raise ManifestError(f"ESD: unknown language {language!r}; valid: {', '.join(LANGUAGES)}")
    return f"ESD-{language}"


def partition_of(number: int, block_start: int) -> str:
    """train / val / test from the utterance number: 20 evaluation, 30 test, 300 train per emotion block."""
    offset = (number - block_start) % PER_EMOTION
    return "val" if offset < 20 else "test" if offset < 50 else "train"


def read_transcripts(speaker_dir: Path, language: str) -> dict[str, str]:
    """Utterance id -> transcript from ``00NN/00NN.txt`` (empty when the file is absent); :class:`UnreadableText`
    when it does not decode."""
    path = speaker_dir / f"{speaker_dir.name}.txt"
    if not path.is_file():
        return {}
    transcripts = {}
    for line in read_text(path, TEXT_FALLBACK[language]).splitlines():
        fields = line.strip().split("\t")
        if len(fields) >= 2 and FILE_NAME.match(fields[0].strip()):
            transcripts[fields[0].strip()] = fields[1].strip()
    return transcripts


def _speaker_dirs(folder: Path, language: str) -> list[Path]:
    return [path for number in LANGUAGES[language] if (path := folder / f"{number:04d}").is_dir()]


def _add_speaker(builder: ManifestBuilder, speaker_dir: Path, language: str) -> None:
    corpus, speaker = builder.corpus, speaker_dir.name
    try:
        transcripts, unreadable = read_transcripts(speaker_dir, language), ""
    except UnreadableText as error:
        transcripts, unreadable = {}, f"unreadable transcript file ({error})"
    for emotion, (block_start, label) in EMOTION_BLOCKS.items():
        emotion_dir = child(speaker_dir, emotion)
        for path in audio_files(emotion_dir, "**/*.wav") if emotion_dir is not None else []:
            match = FILE_NAME.match(path.stem)
            if match is None or match.group(1) != speaker:
                builder.drop("file name not 00NN_XXXXXX.wav of its speaker folder", f"{speaker}/{emotion}/{path.name}")
                continue
            if unreadable:
                builder.drop(unreadable, f"{speaker}/{emotion}/{path.name}")
                continue
            split = SPLIT_FOLDERS.get(path.parent.name.lower())
            builder.add(
                utt_id=f"{corpus}_{path.stem}",
                path=path,
                speaker=f"{corpus}_{speaker}",
                label=label,
                partition=split or partition_of(int(match.group(2)), block_start),
                gender="M" if int(speaker) in MALE_SPEAKERS else "F",
                transcript=transcripts.get(path.stem, ""),
            )


def load(root: str | Path, language: str = "en", check_audio: bool = True) -> pd.DataFrame:
    """The ESD manifest of one language: labeled utterances with partition, gender and transcript."""
    corpus = corpus_name(language)
    root = Path(root).expanduser().resolve()
    first, last = LANGUAGES[language][0], LANGUAGES[language][-1]
    folder = locate(
        root,
        ["Emotion Speech Dataset"],
        lambda f: bool(_speaker_dirs(f, language)),
        "ESD",
        f"speaker folders {first:04d}-{last:04d} with Angry/ Happy/ Neutral/ Sad/ Surprise/ folders",
    )
    builder = ManifestBuilder(corpus)
    for speaker_dir in _speaker_dirs(folder, language):
        _add_speaker(builder, speaker_dir, language)
    return check_counts(builder.build(check_audio), corpus, EXPECTED)
