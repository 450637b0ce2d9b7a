"""EMOVO, the Italian emotional speech corpus (EMOVO), as distributed (voice.fub.it/activities/corpora/emovo).

::

    ROOT/f1 f2 f3 m1 m2 m3/EMO-SPK-SENT.wav      e.g. f1/gio-f1-b1.wav   (or ROOT/EMOVO/... as unpacked)

Six actors (three female ``f1``–``f3``, three male ``m1``–``m3``) read 14 sentences (a letter and a digit, e.g.
``b1``, ``n5``) in seven emotions: ``neu`` neutral, ``gio`` (gioia) → happy, ``tri`` (tristezza) → sad,
``rab`` (rabbia) → angry, ``dis`` (disgusto) → disgust, ``pau`` (paura) → fear, ``sor`` (sorpresa) → surprise.
6 × 14 × 7 = 588 files, so 84 utterances per emotion.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files, child, locate
from rdlr.corpora.manifest import ManifestBuilder

CORPUS = "EMOVO"
SPEAKERS: tuple[str, ...] = ("f1", "f2", "f3", "m1", "m2", "m3")
EXPECTED = ExpectedCounts(
    source="EMOVO documentation",
    speakers=6,
    classes={"neutral": 84, "happy": 84, "sad": 84, "angry": 84, "disgust": 84, "fear": 84, "surprise": 84},
    files=588,
)
EMOTIONS: dict[str, str] = {
    "neu": "neutral",
    "gio": "happy",
    "tri": "sad",
    "rab": "angry",
    "dis": "disgust",
    "pau": "fear",
    "sor": "surprise",
}
FILE_NAME = re.compile(r"^([a-z]{3})-([fm]\d)-([a-z]\d)$")


def _has_speakers(folder: Path) -> bool:
    return any(child(folder, speaker) is not None for speaker in SPEAKERS)


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The EMOVO manifest: every utterance of the six actors, with gender."""
    root = Path(root).expanduser().resolve()
    folder = locate(
        root, ["EMOVO"], _has_speakers, "EMOVO", f"speaker folders {' '.join(SPEAKERS)} of EMO-SPK-SENT.wav"
    )
    builder = ManifestBuilder(CORPUS)
    for speaker_dir in (found for speaker in SPEAKERS if (found := child(folder, speaker)) is not None):
        for path in audio_files(speaker_dir):
            match = builder.parse_name(
                FILE_NAME, path.stem.lower(), "EMO-SPK-SENT.wav", f"{speaker_dir.name}/{path.name}"
            )
            if match is None:
                continue
            emotion, speaker, _sentence = match.groups()
            label = builder.label_of(emotion, EMOTIONS)
            if label is None:
                continue
            builder.add(
                utt_id=f"{CORPUS}_{path.stem.lower()}",
                path=path,
                speaker=f"{CORPUS}_{speaker}",
                label=label,
                gender=speaker[0].upper(),
            )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
