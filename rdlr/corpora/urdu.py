"""URDU, the Urdu-language speech emotion corpus (URDU), as distributed (github.com/siddiquelatif/URDU-Dataset).

::

    ROOT/Angry Happy Neutral Sad/S<G><n>_F<k>_<E><nnn>.wav      e.g. Angry/SM1_F1_A01.wav

Spontaneous speech from Urdu talk shows: 400 utterances, 100 per emotion, of 38 speakers (27 male, 11 female). The
label is the emotion folder; the file name carries the speaker first (``S`` + gender ``M``/``F`` + speaker number,
e.g. ``SM1``), then the file number (``F1``) and the emotion letter (A, H, N, S) with a running number. A file
whose letter disagrees with its folder is dropped with a warning. All four emotions are the paper's classes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files, child, locate
from rdlr.corpora.manifest import ManifestBuilder

CORPUS = "URDU"
FOLDERS: dict[str, tuple[str, str]] = {
    "Angry": ("A", "angry"),
    "Happy": ("H", "happy"),
    "Neutral": ("N", "neutral"),
    "Sad": ("S", "sad"),
}
EXPECTED = ExpectedCounts(
    source="URDU documentation",
    speakers=38,
    classes={"neutral": 100, "happy": 100, "sad": 100, "angry": 100},
    files=400,
)
FILE_NAME = re.compile(r"^(S([MF])\d+)_F\d+_([A-Z])\d+$")


def _has_emotion_folders(folder: Path) -> bool:
    return any(child(folder, name) is not None for name in FOLDERS)


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The URDU manifest: the 400 utterances with speaker and gender from the file name."""
    root = Path(root).expanduser().resolve()
    folder = locate(
        root,
        ["URDU-Dataset", "URDU-Dataset-master"],
        _has_emotion_folders,
        "URDU",
        "emotion folders Angry/ Happy/ Neutral/ Sad/ of SM1_F1_A01.wav-style files",
    )
    builder = ManifestBuilder(CORPUS)
    for name, (letter, label) in FOLDERS.items():
        emotion_dir = child(folder, name)
        for path in audio_files(emotion_dir) if emotion_dir is not None else []:
            match = builder.parse_name(FILE_NAME, path.stem, "S<G><n>_F<k>_<E><nnn>.wav", f"{name}/{path.name}")
            if match is None:
                continue
            speaker, gender, file_letter = match.groups()
            if file_letter != letter:
                builder.drop("emotion letter of the file name disagrees with its folder", f"{name}/{path.name}")
                continue
            builder.add(
                utt_id=f"{CORPUS}_{path.stem}",
                path=path,
                speaker=f"{CORPUS}_{speaker}",
                label=label,
                gender=gender,
            )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
