"""EmoDB, the Berlin Database of Emotional Speech (EMODB), as distributed.

::

    ROOT/wav/SSTTTEv.wav      SS speaker, TTT text, E emotion letter, v version (e.g. 03a01Fa.wav)
    ROOT/erkennung.txt        tab-separated, decimal comma: Nr., Satz (file), erkannt (%), natuerlich (%)

Emotions: W (Wut) → angry, F (Freude) → happy, T (Trauer) → sad, N → neutral, A (Angst) → fear, E (Ekel) →
disgust, L (Langeweile) → boredom. 10 speakers, 535 files: 79 N, 71 F, 62 T, 127 W, 69 A, 46 E, 81 L (339 of the
paper's four classes). The optional
``reliability`` column is the share of listeners who recognised the intended emotion (``erkannt`` / 100), a
per-utterance labeling-reliability signal.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files
from rdlr.corpora.manifest import ManifestBuilder, ManifestError
from rdlr.corpora.text_files import read_text

CORPUS = "EMODB"
EXPECTED = ExpectedCounts(
    source="EmoDB file list",
    speakers=10,
    classes={"neutral": 79, "happy": 71, "sad": 62, "angry": 127, "fear": 69, "disgust": 46, "boredom": 81},
)
EMOTIONS: dict[str, str] = {
    "W": "angry",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
    "A": "fear",
    "E": "disgust",
    "L": "boredom",
}  # Wut, Freude, Trauer, Neutral, Angst, Ekel, Langeweile
SPEAKER_GENDERS: dict[str, str] = {
    "03": "M",
    "08": "F",
    "09": "F",
    "10": "M",
    "11": "M",
    "12": "M",
    "13": "F",
    "14": "F",
    "15": "M",
    "16": "F",
}
FILE_NAME = re.compile(r"^(\d{2})([a-z]\d{2})([A-Z])([a-z])$")


def _number(text: str) -> float:
    """``"65,00\\xa0\\xa0"`` -> 65.0 (German decimal comma, non-breaking spaces)."""
    cleaned = text.replace("\xa0", "").replace(" ", "").replace(",", ".")
    return float(cleaned) if cleaned else np.nan


def read_recognition(path: Path) -> dict[str, float]:
    """File stem -> share of listeners (0..1) who recognised the intended emotion, from ``erkennung.txt``."""
    shares: dict[str, float] = {}
    for number, line in enumerate(read_text(path, fallback="latin-1").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 3 or not fields[1].strip().lower().endswith(".wav"):
            continue
        try:
            shares[Path(fields[1].strip()).stem] = _number(fields[2]) / 100.0
        except ValueError:
            raise ManifestError(f"{path}:{number}: 'erkannt' value {fields[2]!r} is not a number") from None
    return shares


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The EmoDB manifest: every utterance of ``ROOT/wav`` with gender and, when shipped, reliability."""
    root = Path(root).expanduser().resolve()
    audio_dir = root / "wav"
    if not audio_dir.is_dir():
        raise ManifestError(f"EmoDB: no wav/ folder under {root}; point --root at the EmoDB folder")
    recognition_file = root / "erkennung.txt"
    recognition = read_recognition(recognition_file) if recognition_file.is_file() else None
    builder = ManifestBuilder(CORPUS)
    for path in audio_files(audio_dir):
        match = builder.parse_name(FILE_NAME, path.stem, "SSTTTEv.wav", path.name)
        if match is None:
            continue
        speaker, _text, emotion, _version = match.groups()
        label = builder.label_of(emotion, EMOTIONS)
        if label is None:
            continue
        extra = {} if recognition is None else {"reliability": recognition.get(path.stem, np.nan)}
        builder.add(
            utt_id=f"{CORPUS}_{path.stem}",
            path=path,
            speaker=f"{CORPUS}_{speaker}",
            label=label,
            gender=SPEAKER_GENDERS.get(speaker, ""),
            **extra,
        )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
