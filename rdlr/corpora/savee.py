"""SAVEE, the Surrey Audio-Visual Expressed Emotion database: its audio (SAVEE).

Download ``AudioData`` from the SAVEE site (kahlan.eps.surrey.ac.uk/savee, free registration)::

    ROOT/AudioData/DC JE JK KL/<code><NN>.wav     e.g. AudioData/JK/sa07.wav   (or ROOT/DC/... unpacked in place)
    ROOT/ALL/<SPK>_<code><NN>.wav                 the flat copy some mirrors ship (also accepted)

Four male speakers (DC, JE, JK, KL), 15 sentences per emotion and 30 neutral: 120 files each, 480 in all. Codes:
``a`` anger → angry, ``h`` happiness → happy, ``n`` neutral, ``sa`` sadness → sad, ``d`` disgust, ``f`` fear and
``su`` surprise. So 120 neutral and 60 utterances of every other emotion.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files, child, locate
from rdlr.corpora.manifest import ManifestBuilder

CORPUS = "SAVEE"
SPEAKERS: tuple[str, ...] = ("DC", "JE", "JK", "KL")
EXPECTED = ExpectedCounts(
    source="SAVEE documentation",
    speakers=4,
    classes={"neutral": 120, "happy": 60, "sad": 60, "angry": 60, "disgust": 60, "fear": 60, "surprise": 60},
    files=480,
)
EMOTIONS: dict[str, str] = {
    "a": "angry",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "d": "disgust",
    "f": "fear",
    "su": "surprise",
}
FILE_NAME = re.compile(r"^(?:(DC|JE|JK|KL)_)?(a|d|f|h|n|sa|su)(\d{2})$")


def _speaker_folders(folder: Path) -> list[Path]:
    return [found for speaker in SPEAKERS if (found := child(folder, speaker)) is not None]


def _flat_folder(folder: Path) -> Path | None:
    """The flat copy's folder (``ALL/`` or ``folder`` itself) when it holds ``SPK_codeNN.wav`` files."""
    for candidate in (child(folder, "ALL"), folder):
        if candidate is not None and any(FILE_NAME.match(p.stem) for p in audio_files(candidate, "[DJK]*_*.wav")):
            return candidate
    return None


def _files(folder: Path) -> list[tuple[str | None, Path]]:
    """(speaker from the folder, or ``None`` when the file name carries it; path) for every audio file."""
    speaker_dirs = _speaker_folders(folder)
    if speaker_dirs:
        return [(d.name.upper(), path) for d in speaker_dirs for path in audio_files(d)]
    flat = _flat_folder(folder)
    return [(None, path) for path in audio_files(flat)] if flat is not None else []


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The SAVEE manifest: every utterance of the four speakers."""
    root = Path(root).expanduser().resolve()
    folder = locate(
        root,
        ["AudioData"],
        lambda f: bool(_speaker_folders(f) or _flat_folder(f)),
        "SAVEE",
        f"speaker folders {' '.join(SPEAKERS)} of <code><NN>.wav (or ALL/<SPK>_<code><NN>.wav)",
    )
    builder = ManifestBuilder(CORPUS)
    for folder_speaker, path in _files(folder):
        match = FILE_NAME.match(path.stem)
        speaker = folder_speaker or (match.group(1) if match else None)
        if match is None or speaker is None:
            builder.drop("file name not <code><NN>.wav in a speaker folder, or SPK_<code><NN>.wav", path.name)
            continue
        _, code, number = match.groups()
        label = builder.label_of(code, EMOTIONS)
        if label is None:
            continue
        builder.add(
            utt_id=f"{CORPUS}_{speaker}_{code}{number}",
            path=path,
            speaker=f"{CORPUS}_{speaker}",
            label=label,
            gender="M",
        )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
