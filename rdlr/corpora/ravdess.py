"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song: its speech audio (RAVDESS).

Download ``Audio_Speech_Actors_01-24.zip`` (zenodo.org/record/1188976) and unpack it::

    ROOT/Audio_Speech_Actors_01-24/Actor_NN/MM-VV-EE-II-SS-RR-AA.wav     (or ROOT/Actor_NN/... unpacked in place)

The seven two-digit fields of the file name, as the corpus documents them: modality (01 audio-video, 02 video
only, 03 audio only), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad,
05 angry, 06 fearful, 07 disgust, 08 surprised), intensity (01 normal, 02 strong; neutral has no strong take),
statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), repetition (01, 02) and actor
(01–24; odd numbers male, even female).

Kept: audio-only speech (03-01) of every emotion (calm → calm, fearful → fear, surprised → surprise); files of
another modality or of song are dropped with a warning. 24 actors × 60 files = 1,440: per actor 4 neutral and 8
of every other emotion, so 96 neutral and 192 of each other emotion.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files, locate
from rdlr.corpora.manifest import ManifestBuilder

CORPUS = "RAVDESS"
ARCHIVE_FOLDER = "Audio_Speech_Actors_01-24"
EXPECTED = ExpectedCounts(
    source="RAVDESS documentation",
    speakers=24,
    classes={
        "neutral": 96,
        "happy": 192,
        "sad": 192,
        "angry": 192,
        "calm": 192,
        "fear": 192,
        "disgust": 192,
        "surprise": 192,
    },
    files=1440,
)
EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
AUDIO_ONLY_SPEECH = ("03", "01")
FILE_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def _has_actors(folder: Path) -> bool:
    return any(path.is_dir() for path in folder.glob("Actor_*"))


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The RAVDESS speech manifest: audio-only speech of the 24 actors, with gender."""
    root = Path(root).expanduser().resolve()
    folder = locate(root, [ARCHIVE_FOLDER], _has_actors, "RAVDESS", "Actor_NN/ folders of MM-VV-EE-II-SS-RR-AA.wav")
    builder = ManifestBuilder(CORPUS)
    for path in audio_files(folder, "Actor_*/*.wav"):
        match = builder.parse_name(FILE_NAME, path.stem, "MM-VV-EE-II-SS-RR-AA.wav", path.name)
        if match is None:
            continue
        modality, channel, emotion, _intensity, _statement, _repetition, actor = match.groups()
        if (modality, channel) != AUDIO_ONLY_SPEECH:
            builder.drop("not audio-only speech (03-01-...)", path.name)
            continue
        label = builder.label_of(emotion, EMOTIONS)
        if label is None:
            continue
        builder.add(
            utt_id=f"{CORPUS}_{path.stem}",
            path=path,
            speaker=f"{CORPUS}_{actor}",
            label=label,
            gender="M" if int(actor) % 2 else "F",
        )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
