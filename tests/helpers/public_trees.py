"""The documented file lists of the freely downloadable corpora, in their official layouts, and a fast writer.

Each ``*_files`` function returns the relative paths of the whole corpus as documented (RAVDESS 1,440, EMOVO 588,
SAVEE 480, TESS 2,800, URDU 400, ShEMO 3,000, ESD 1,750 per speaker); tests write all of them (the count check
then finds nothing to report) or a few (tiny trees for end-to-end runs).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16_000

RAVDESS_EMOTIONS = ("01", "02", "03", "04", "05", "06", "07", "08")
EMOVO_EMOTIONS = ("neu", "gio", "tri", "rab", "dis", "pau", "sor")
EMOVO_SENTENCES = ("b1", "b2", "b3", "d1", "d2", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5")
SAVEE_CODES = {"a": 15, "d": 15, "f": 15, "h": 15, "n": 30, "sa": 15, "su": 15}
TESS_FOLDERS = {  # emotion token -> folder suffix per speaker, as the release spells them
    "angry": ("angry", "angry"),
    "disgust": ("disgust", "disgust"),
    "fear": ("Fear", "fear"),
    "happy": ("happy", "happy"),
    "neutral": ("neutral", "neutral"),
    "ps": ("Pleasant_surprise", "pleasant_surprised"),
    "sad": ("Sad", "sad"),
}
URDU_FOLDERS = {"Angry": "A", "Happy": "H", "Neutral": "N", "Sad": "S"}
URDU_SPEAKERS = tuple(f"SM{i}" for i in range(1, 28)) + tuple(f"SF{i}" for i in range(1, 12))
SHEMO_COUNTS = {"A": 1059, "H": 201, "N": 1028, "S": 449, "W": 225, "F": 38}
SHEMO_SPEAKERS = tuple(f"F{i:02d}" for i in range(1, 32)) + tuple(f"M{i:02d}" for i in range(1, 57))
ESD_EMOTIONS = {"Neutral": 1, "Angry": 351, "Happy": 701, "Sad": 1051, "Surprise": 1401}


def ravdess_files(actors: Iterable[int] = range(1, 25)) -> list[str]:
    """``Audio_Speech_Actors_01-24/Actor_NN/03-01-EE-II-SS-RR-NN.wav``: 60 per actor."""
    names = []
    for actor in actors:
        for emotion in RAVDESS_EMOTIONS:
            for intensity in ("01",) if emotion == "01" else ("01", "02"):
                for statement in ("01", "02"):
                    for repetition in ("01", "02"):
                        stem = f"03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor:02d}"
                        names.append(f"Audio_Speech_Actors_01-24/Actor_{actor:02d}/{stem}.wav")
    return names


def emovo_files(speakers: Iterable[str] = ("f1", "f2", "f3", "m1", "m2", "m3")) -> list[str]:
    """``EMOVO/<spk>/<emo>-<spk>-<sentence>.wav``: 98 per speaker."""
    return [
        f"EMOVO/{spk}/{emo}-{spk}-{sentence}.wav"
        for spk in speakers
        for emo in EMOVO_EMOTIONS
        for sentence in EMOVO_SENTENCES
    ]


def savee_files(speakers: Iterable[str] = ("DC", "JE", "JK", "KL")) -> list[str]:
    """``AudioData/<SPK>/<code><NN>.wav``: 120 per speaker."""
    return [
        f"AudioData/{spk}/{code}{n:02d}.wav"
        for spk in speakers
        for code, count in SAVEE_CODES.items()
        for n in range(1, count + 1)
    ]


def tess_files(words: int = 200) -> list[str]:
    """``<SPK>_<emotion folder>/<SPK>_<word>_<emotion>.wav``, with the release's misnamed ``OA_bite_neutral``."""
    names = []
    for index, speaker in enumerate(("OAF", "YAF")):
        for emotion, folders in TESS_FOLDERS.items():
            for w in range(words):
                word = "bite" if w == 0 else f"word{w:03d}"
                prefix = "OA" if (speaker, emotion, word) == ("OAF", "neutral", "bite") else speaker
                names.append(f"{speaker}_{folders[index]}/{prefix}_{word}_{emotion}.wav")
    return names


def urdu_files() -> list[str]:
    """``<Emotion>/<spk>_F<k>_<E><nnn>.wav``: 100 per emotion over 38 speakers (27 male, 11 female)."""
    names, counter = [], {}
    for e, (folder, letter) in enumerate(URDU_FOLDERS.items()):
        for n in range(1, 101):
            speaker = URDU_SPEAKERS[(e * 100 + n) % len(URDU_SPEAKERS)]
            k = counter[(speaker, letter)] = counter.get((speaker, letter), 0) + 1
            names.append(f"{folder}/{speaker}_F{k}_{letter}{n:03d}.wav")
    return names


def shemo_files() -> list[str]:
    """``female|male/<G><NN><E><NN>.wav``: the corpus paper's count per emotion over 87 speakers."""
    names, counter, position = [], {}, 0
    for letter, count in SHEMO_COUNTS.items():
        for _ in range(count):
            speaker = SHEMO_SPEAKERS[position % len(SHEMO_SPEAKERS)]
            position += 1
            n = counter[(speaker, letter)] = counter.get((speaker, letter), 0) + 1
            names.append(f"{'female' if speaker[0] == 'F' else 'male'}/{speaker}{letter}{n:02d}.wav")
    return names


def esd_split(offset: int) -> str:
    """The split folder of the ``offset``-th utterance (0-based) of an emotion block: 20 / 30 / 300."""
    return "evaluation" if offset < 20 else "test" if offset < 50 else "train"


def esd_files(
    speakers: Iterable[str] = tuple(f"{i:04d}" for i in range(11, 21)),
    split_folders: bool = True,
    per_emotion: int = 350,
) -> list[str]:
    """``<spk>/<Emotion>/<split>/<spk>_<number>.wav``: 350 per emotion and speaker."""
    names = []
    for speaker in speakers:
        for emotion, start in ESD_EMOTIONS.items():
            for offset in range(per_emotion):
                split = f"{esd_split(offset)}/" if split_folders else ""
                names.append(f"{speaker}/{emotion}/{split}{speaker}_{start + offset:06d}.wav")
    return names


def tone(name: str, seconds: float = 0.05) -> np.ndarray:
    """A short tone with a little noise, its pitch and loudness drawn from ``name`` (so files differ)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = (0.05 + 0.1 * rng.random()) * np.sin(2 * np.pi * rng.uniform(100, 300) * t)
    return (wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _template_wav() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone("template"), SAMPLE_RATE, format="WAV")
    return buffer.getvalue()


TEMPLATE_WAV = _template_wav()


def write_tree(root: Path, names: Iterable[str], audio: Callable[[str], np.ndarray] | None = None) -> Path:
    """Write every file of ``names`` under ``root``: the same short WAV (fast), or ``audio(name)`` per file (the
    format from the suffix, .wav or .flac). Returns ``root``."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if audio is None:
            path.write_bytes(TEMPLATE_WAV)
        else:
            sf.write(str(path), audio(name), SAMPLE_RATE)
    return root
