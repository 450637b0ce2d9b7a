"""TESS, the Toronto Emotional Speech Set (TESS), as distributed (tspace.library.utoronto.ca/handle/1807/24487).

::

    ROOT/OAF_angry/OAF_back_angry.wav ...     one folder per speaker and emotion (names vary in case and spelling:
    ROOT/YAF_pleasant_surprised/...           OAF_Sad, OAF_Pleasant_surprise, ...)
    ROOT/OAF_back_angry.wav ...               or every file in one folder

File names are ``SPK_word_emotion.wav``: two female speakers, OAF (aged 64) and YAF (aged 26), said 200 target
words in seven emotions: 2,800 files. Emotions: ``angry``, ``happy``, ``neutral``, ``sad``, ``disgust``, ``fear``
and ``ps`` (pleasant surprise) → surprise; 400 utterances per emotion. One file of the release is
misnamed ``OA_bite_neutral.wav``: the speaker is taken from the ``OAF_*``/``YAF_*`` folder when there is one, and
``OA`` is read as OAF otherwise. Some mirrors hold the corpus twice (a nested copy); a file found twice raises, so
point ``--root`` at one copy.

With only two speakers TESS cannot be split into train/val/test speakers: use it as a training or held-out corpus
of the out-of-corpus protocol, not for the within-corpus row.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files
from rdlr.corpora.manifest import ManifestBuilder, ManifestError

CORPUS = "TESS"
SPEAKERS: tuple[str, ...] = ("OAF", "YAF")
SPEAKER_TYPOS: dict[str, str] = {"OA": "OAF"}
EXPECTED = ExpectedCounts(
    source="TESS documentation",
    speakers=2,
    classes={"neutral": 400, "happy": 400, "sad": 400, "angry": 400, "disgust": 400, "fear": 400, "surprise": 400},
    files=2800,
)
EMOTIONS: dict[str, str] = {
    "angry": "angry",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "disgust": "disgust",
    "fear": "fear",
    "ps": "surprise",
}  # ps: pleasant surprise
FILE_NAME = re.compile(r"^([A-Za-z]+)_([A-Za-z0-9']+)_([A-Za-z]+)$")
SPEAKER_FOLDER = re.compile(r"^(OAF|YAF)_", re.IGNORECASE)


def _speaker(path: Path, from_name: str) -> str | None:
    """OAF/YAF: from the ``OAF_*``/``YAF_*`` folder when the file is in one, else from the file name."""
    folder = SPEAKER_FOLDER.match(path.parent.name)
    if folder is not None:
        return folder.group(1).upper()
    speaker = SPEAKER_TYPOS.get(from_name.upper(), from_name.upper())
    return speaker if speaker in SPEAKERS else None


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The TESS manifest: every utterance of the two speakers."""
    root = Path(root).expanduser().resolve()
    paths = audio_files(root, "**/*.wav") if root.is_dir() else []
    if not any(FILE_NAME.match(path.stem) for path in paths):
        raise ManifestError(
            f"TESS: not the official layout under {root}: expected SPK_word_emotion.wav files "
            "(in OAF_*/YAF_* folders or in one folder); point --root at the unpacked TESS folder"
        )
    builder = ManifestBuilder(CORPUS)
    seen: dict[str, Path] = {}
    for path in paths:
        match = FILE_NAME.match(path.stem)
        speaker = _speaker(path, match.group(1)) if match else None
        if match is None or speaker is None:
            builder.drop("file name not OAF_word_emotion.wav / YAF_word_emotion.wav", str(path.relative_to(root)))
            continue
        word, emotion = match.group(2).lower(), match.group(3).lower()
        utt_id = f"{CORPUS}_{speaker}_{word}_{emotion}"
        if utt_id in seen:
            raise ManifestError(
                f"TESS: {path.name} is found twice ({seen[utt_id]} and {path}); the folder holds two "
                "copies of the corpus: point --root at one of them"
            )
        seen[utt_id] = path
        label = builder.label_of(emotion, EMOTIONS)
        if label is None:
            continue
        builder.add(utt_id=utt_id, path=path, speaker=f"{CORPUS}_{speaker}", label=label, gender="F")
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
