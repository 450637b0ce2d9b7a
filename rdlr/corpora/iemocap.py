"""IEMOCAP (IEM) in its official layout (``IEMOCAP_full_release``).

::

    ROOT/Session1..5/dialog/EmoEvaluation/<dialog>.txt        labels, one block per turn
    ROOT/Session1..5/sentences/wav/<dialog>/<turn>.wav       audio
    ROOT/Session1..5/dialog/transcriptions/<dialog>.txt      "<turn> [start-end]: text"   (optional)

An EmoEvaluation block starts with ``[start - end]<TAB>turn<TAB>label<TAB>[V, A, D]`` followed by one line
per evaluator, e.g. ``C-E2:<TAB>Neutral;<TAB>()`` (categorical), ``A-E3:<TAB>val 3; act 2; dom 2;<TAB>()``
(dimensional); ``C-F1``/``C-M1`` are the actors' self-evaluations.

Labels: neu → neutral, hap → happy, exc → excited, sad → sad, ang → angry, fru → frustrated, sur → surprise,
fea → fear, dis → disgust, oth → other; xxx (no agreement) is excluded. The paper's class set (``paper4``,
:mod:`rdlr.labels`) merges excited into happy (Section 3.1). Table 1: 10 speakers, 1708/1636/1084/1103
neutral/happy/sad/angry, happy counting 595 hap + 1041 exc.

Votes: every external categorical evaluator (``C-E*``) casts one vote, split equally over the categories
it ticked, one ``votes_<emotion>`` column per emotion above (a class set sums them onto its classes).
Self-evaluations are left out (``self_votes=True`` adds them).

Speaker = session + the gender letter of the turn's speaker (``Ses01F_impro01_M000`` → ``Ses01M``).

A label or transcription file that does not decode (:mod:`rdlr.corpora.text_files`) drops its dialog's turns,
counted under one reason naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files
from rdlr.corpora.manifest import ManifestBuilder, ManifestError
from rdlr.corpora.text_files import UnreadableText, read_text

CORPUS = "IEM"
EXPECTED = ExpectedCounts(
    source="paper Table 1",
    speakers=10,
    classes={"neutral": 1708, "happy": 595, "excited": 1041, "sad": 1084, "angry": 1103},
)
EMOTIONS: dict[str, str] = {
    "neu": "neutral",
    "hap": "happy",
    "exc": "excited",
    "sad": "sad",
    "ang": "angry",
    "fru": "frustrated",
    "sur": "surprise",
    "fea": "fear",
    "dis": "disgust",
    "oth": "other",
}
OTHER_EMOTIONS: dict[str, str] = {"xxx": "no agreement"}
VOTE_EMOTIONS: tuple[str, ...] = tuple(dict.fromkeys(EMOTIONS.values()))
CATEGORIES: dict[str, str] = {
    "neutral": "neutral",
    "neutral state": "neutral",
    "happiness": "happy",
    "happy": "happy",
    "excited": "excited",
    "excitement": "excited",
    "frustration": "frustrated",
    "frustrated": "frustrated",
    "surprise": "surprise",
    "surprised": "surprise",
    "fear": "fear",
    "disgust": "disgust",
    "other": "other",
    "sadness": "sad",
    "sad": "sad",
    "anger": "angry",
    "angry": "angry",
}
TURN_LINE = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)")
EVALUATOR_LINE = re.compile(r"^C-([EFM]\d+):\s*(.*)$")
TRANSCRIPT_LINE = re.compile(r"^(\S+)\s+\[[^\]]*\]:\s?(.*)$")
SESSION_DIR = re.compile(r"^Session(\d+)$")
COMMENT = re.compile(r"\(.*\)\s*$")


def _evaluator_votes(text: str) -> dict[str, float]:
    """The shares of one evaluator's categories, e.g. ``"Frustration; Anger;\\t()"`` → frustrated 0.5, angry 0.5."""
    categories = [part.strip() for part in COMMENT.sub("", text).split(";") if part.strip()]
    votes: dict[str, float] = {}
    for category in categories:
        name = CATEGORIES.get(category.split(":")[0].strip().lower())
        if name is not None:
            votes[name] = votes.get(name, 0.0) + 1.0 / len(categories)
    return votes


def parse_emo_evaluation(path: Path, self_votes: bool = False) -> list[dict[str, object]]:
    """The turns of one EmoEvaluation file: turn name, raw label and vote counts per emotion; :class:`UnreadableText`
    when the file does not decode."""
    turns: list[dict[str, object]] = []
    current: dict[str, object] | None = None
    for line in read_text(path, fallback="latin-1").splitlines():
        line = line.strip()
        turn = TURN_LINE.match(line)
        if turn is not None:
            current = {"turn": turn.group(3), "raw": turn.group(4).lower(), "votes": {}, "evaluators": 0}
            turns.append(current)
            continue
        evaluator = EVALUATOR_LINE.match(line)
        if evaluator is None or current is None:
            continue
        if evaluator.group(1).startswith("E") or self_votes:
            current["evaluators"] = int(current["evaluators"]) + 1  # type: ignore[call-overload]
            votes: dict[str, float] = current["votes"]  # type: ignore[assignment]
            for name, share in _evaluator_votes(evaluator.group(2)).items():
                votes[name] = votes.get(name, 0.0) + share
    return turns


def _read_transcripts(session_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(turn name -> transcript, dialog -> why its transcription file is unreadable) from
    ``dialog/transcriptions/*.txt`` (both empty when absent)."""
    transcripts: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    folder = session_dir / "dialog" / "transcriptions"
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        if path.name.startswith("._"):
            continue
        try:
            text = read_text(path, fallback="latin-1")
        except UnreadableText as error:
            unreadable[path.stem] = f"unreadable transcription file ({error})"
            continue
        for line in text.splitlines():
            match = TRANSCRIPT_LINE.match(line.strip())
            if match is not None:
                transcripts[match.group(1)] = match.group(2).strip()
    return transcripts, unreadable


def _drop_dialog(builder: ManifestBuilder, wav_dir: Path, reason: str) -> None:
    """Drop every turn of a dialog whose label file cannot be read: its audio files, counted under ``reason``."""
    for path in audio_files(wav_dir) if wav_dir.is_dir() else []:
        builder.drop(reason, path.name)


def _session_dirs(root: Path) -> list[tuple[int, Path]]:
    sessions = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        match = SESSION_DIR.match(path.name)
        if match is not None and path.is_dir():
            sessions.append((int(match.group(1)), path))
    if not sessions and (root / "IEMOCAP_full_release").is_dir():
        return _session_dirs(root / "IEMOCAP_full_release")
    return sessions


def load(root: str | Path, self_votes: bool = False, check_audio: bool = True) -> pd.DataFrame:
    """The IEMOCAP manifest: the labeled turns of all sessions with votes, session, gender and transcript."""
    root = Path(root).expanduser().resolve()
    sessions = _session_dirs(root)
    if not sessions:
        raise ManifestError(
            f"IEMOCAP: no Session1..Session5 folders under {root}; point --root at IEMOCAP_full_release"
        )
    builder = ManifestBuilder(CORPUS, OTHER_EMOTIONS)
    for number, session_dir in sessions:
        label_dir = session_dir / "dialog" / "EmoEvaluation"
        if not label_dir.is_dir():
            raise ManifestError(f"IEMOCAP: missing label folder {label_dir}")
        transcripts, unreadable = _read_transcripts(session_dir)
        for label_file in sorted(label_dir.glob("*.txt")):
            if label_file.name.startswith("._"):
                continue
            dialog = label_file.stem
            try:
                turns = parse_emo_evaluation(label_file, self_votes)
            except UnreadableText as error:
                _drop_dialog(builder, session_dir / "sentences" / "wav" / dialog, f"unreadable label file ({error})")
                continue
            for turn in turns:
                name = str(turn["turn"])
                label = EMOTIONS.get(str(turn["raw"]))
                if label is None:
                    builder.exclude(str(turn["raw"]))
                    continue
                gender = name.rsplit("_", 1)[-1][:1].upper()
                if gender not in ("F", "M"):
                    builder.drop("turn name without F/M speaker letter", name)
                    continue
                if dialog in unreadable:
                    builder.drop(unreadable[dialog], name)
                    continue
                votes: dict[str, float] = turn["votes"]  # type: ignore[assignment]
                has_votes = int(turn["evaluators"]) > 0  # type: ignore[call-overload]
                builder.add(
                    utt_id=f"{CORPUS}_{name}",
                    path=session_dir / "sentences" / "wav" / dialog / f"{name}.wav",
                    speaker=f"{CORPUS}_Ses{number:02d}{gender}",
                    label=label,
                    session=str(number),
                    gender=gender,
                    transcript=transcripts.get(name, ""),
                    **{
                        f"votes_{emotion}": (votes.get(emotion, 0.0) if has_votes else np.nan)
                        for emotion in VOTE_EMOTIONS
                    },
                )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
