"""ShEMO, the Sharif Emotional Speech Database (SHEMO), Persian, as distributed (github.com/mansourehk/ShEMO).

::

    ROOT/female/F01A01.wav ...     from female.zip
    ROOT/male/M01N03.wav ...       from male.zip

3,000 semi-natural utterances of radio plays, 87 speakers (31 female, 56 male). The file name is gender (F/M) and
speaker number, the emotion letter, and the utterance's number for that speaker and emotion: ``F03S02`` is the
second sad utterance of female speaker 03. Letters: A anger → angry, H happiness → happy, N neutral, S sadness →
sad, W surprise, F fear. The corpus paper counts 1,059 anger, 201 happiness,
1,028 neutral, 449 sadness, 225 surprise and 38 fear utterances.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files, child, locate
from rdlr.corpora.manifest import ManifestBuilder

CORPUS = "SHEMO"
FOLDERS: tuple[str, ...] = ("female", "male")
EXPECTED = ExpectedCounts(
    source="ShEMO paper",
    speakers=87,
    classes={"neutral": 1028, "happy": 201, "sad": 449, "angry": 1059, "surprise": 225, "fear": 38},
    files=3000,
)
EMOTIONS: dict[str, str] = {"A": "angry", "H": "happy", "N": "neutral", "S": "sad", "W": "surprise", "F": "fear"}
FILE_NAME = re.compile(r"^(([FM])\d{2})([A-Z])(\d+)$")


def _has_gender_folders(folder: Path) -> bool:
    return any(child(folder, name) is not None for name in FOLDERS)


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The ShEMO manifest: every utterance with speaker and gender from the file name."""
    root = Path(root).expanduser().resolve()
    folder = locate(
        root, ["ShEMO"], _has_gender_folders, "ShEMO", "female/ and male/ folders of F01A01.wav-style files"
    )
    builder = ManifestBuilder(CORPUS)
    for name in FOLDERS:
        gender_dir = child(folder, name)
        for path in audio_files(gender_dir) if gender_dir is not None else []:
            match = builder.parse_name(FILE_NAME, path.stem.upper(), "<G><NN><E><NN>.wav", f"{name}/{path.name}")
            if match is None:
                continue
            speaker, gender, letter, _number = match.groups()
            label = builder.label_of(letter, EMOTIONS)
            if label is None:
                continue
            builder.add(
                utt_id=f"{CORPUS}_{path.stem.upper()}",
                path=path,
                speaker=f"{CORPUS}_{speaker}",
                label=label,
                gender=gender,
            )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
