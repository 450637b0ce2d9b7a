"""CREMA-D (CRE) in its official layout (github.com/CheyneyComputerScience/CREMA-D).

::

    ROOT/AudioWAV/1001_DFA_ANG_XX.wav          ActorID_Sentence_Emotion_Level
    ROOT/VideoDemographics.csv                 ActorID, Age, Sex (Male/Female), Race, Ethnicity   (optional)
    ROOT/processedResults/tabulatedVotes.csv   per clip and stimulus type: A D F H N S vote counts   (optional)
    ROOT/finishedResponses.csv                 the individual responses (fallback for the votes)     (optional)

The label is the emotion the actor was asked to portray (ANG DIS FEA HAP NEU SAD → angry, disgust, fear, happy,
neutral, sad). 91 actors; Table 1 lists 1087/1271/1270/1271 neutral/happy/sad/angry utterances (the paper's four
classes, Section 3.1); 1271 each of disgust and fear.

Votes: ``tabulatedVotes.csv`` has one row per clip and stimulus type; its row name is
``100000 * queryType + clipNum`` with queryType 1 = voice only, 2 = face only, 3 = audio-visual. Speech
emotion recognition uses the voice-only ratings by default (``vote_modality``). Without the tabulated file,
the votes are counted from ``finishedResponses.csv`` (``queryType``, ``clipName``, ``respEmo``), which
keeps the responses the authors' tabulation drops for taking longer than 10 s.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files
from rdlr.corpora.manifest import ManifestBuilder, ManifestError
from rdlr.corpora.text_files import read_csv_text

CORPUS = "CRE"
EXPECTED = ExpectedCounts(
    source="paper Table 1",
    speakers=91,
    classes={"neutral": 1087, "happy": 1271, "sad": 1270, "angry": 1271, "disgust": 1271, "fear": 1271},
)
EMOTIONS: dict[str, str] = {
    "NEU": "neutral",
    "HAP": "happy",
    "SAD": "sad",
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fear",
}
FILE_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
VOTE_LETTERS: dict[str, str] = {"N": "votes_neutral", "H": "votes_happy", "S": "votes_sad", "A": "votes_angry"}
OTHER_VOTE_LETTERS: dict[str, str] = {"D": "votes_disgust", "F": "votes_fear"}  # read where the file has them
MODALITIES: dict[str, tuple[int, ...]] = {"voice": (1,), "face": (2,), "audiovisual": (3,), "all": (1, 2, 3)}
QUERY_TYPE_BASE = 100_000


def _read_genders(root: Path) -> dict[str, str]:
    """Actor id -> F/M from ``VideoDemographics.csv`` (empty when the file is absent)."""
    path = root / "VideoDemographics.csv"
    if not path.is_file():
        return {}
    table = read_csv_text(path)
    missing = {"ActorID", "Sex"} - set(table.columns)
    if missing:
        raise ManifestError(f"{path}: missing column(s) {sorted(missing)}; expected ActorID, Age, Sex, Race, Ethnicity")
    sex = table["Sex"].str.strip().str.lower().map({"male": "M", "female": "F"}).fillna("")
    return dict(zip(table["ActorID"].str.strip(), sex))


def _votes_from_tabulated(path: Path, query_types: tuple[int, ...]) -> pd.DataFrame:
    """Clip name -> vote counts per emotion from ``processedResults/tabulatedVotes.csv``."""
    table = read_csv_text(path)
    row_name = table.columns[0]
    if row_name in VOTE_LETTERS or row_name == "fileName":
        raise ManifestError(
            f"{path}: the first column must hold the row names (100000 * queryType + clipNum) that tell voice, "
            "face and audio-visual ratings apart; use the file as shipped in processedResults/"
        )
    missing = {"fileName", *VOTE_LETTERS} - set(table.columns)
    if missing:
        raise ManifestError(f"{path}: missing column(s) {sorted(missing)}; expected the CREMA-D tabulated votes")
    query_type = pd.to_numeric(table[row_name], errors="coerce") // QUERY_TYPE_BASE
    table = table[query_type.isin(query_types)]
    letters = {**VOTE_LETTERS, **{k: v for k, v in OTHER_VOTE_LETTERS.items() if k in table.columns}}
    votes = table[list(letters)].apply(pd.to_numeric, errors="raise").astype(float)
    votes.columns = [letters[letter] for letter in votes.columns]
    votes["clip"] = table["fileName"].str.strip().to_numpy()
    return votes.groupby("clip").sum()


def _votes_from_responses(path: Path, query_types: tuple[int, ...]) -> pd.DataFrame:
    """Clip name -> vote counts per emotion counted from the individual responses in ``finishedResponses.csv``."""
    table = read_csv_text(path)
    missing = {"queryType", "clipName", "respEmo"} - set(table.columns)
    if missing:
        raise ManifestError(f"{path}: missing column(s) {sorted(missing)}; expected the CREMA-D finished responses")
    query_type = pd.to_numeric(table["queryType"], errors="coerce")
    table = table[query_type.isin(query_types)]
    letters = table["respEmo"].str.strip().str[:1].str.upper()
    clips = table["clipName"].str.strip().str.replace(r"\.[A-Za-z0-9]+$", "", regex=True)
    frame = pd.DataFrame({"clip": clips.to_numpy(), "letter": letters.to_numpy()})
    counts = pd.crosstab(frame["clip"], frame["letter"])
    votes = pd.DataFrame(index=counts.index)
    for letter, column in {**VOTE_LETTERS, **OTHER_VOTE_LETTERS}.items():
        votes[column] = counts[letter].astype(float) if letter in counts.columns else 0.0
    return votes


def read_votes(root: Path, vote_modality: str = "voice") -> pd.DataFrame | None:
    """Per-clip vote counts per emotion, or ``None`` when CREMA-D's rating files are absent."""
    if vote_modality not in MODALITIES:
        raise ManifestError(f"unknown vote_modality {vote_modality!r}; valid: {', '.join(MODALITIES)}")
    query_types = MODALITIES[vote_modality]
    for candidate in (root / "processedResults" / "tabulatedVotes.csv", root / "tabulatedVotes.csv"):
        if candidate.is_file():
            return _votes_from_tabulated(candidate, query_types)
    responses = root / "finishedResponses.csv"
    if responses.is_file():
        return _votes_from_responses(responses, query_types)
    return None


def load(root: str | Path, vote_modality: str = "voice", check_audio: bool = True) -> pd.DataFrame:
    """The CREMA-D manifest: every utterance of ``ROOT/AudioWAV``, votes and gender where shipped."""
    root = Path(root).expanduser().resolve()
    audio_dir = root / "AudioWAV"
    if not audio_dir.is_dir():
        raise ManifestError(f"CREMA-D: no AudioWAV/ folder under {root}; point --root at the CREMA-D checkout")
    genders = _read_genders(root)
    votes = read_votes(root, vote_modality)
    builder = ManifestBuilder(CORPUS)
    for path in audio_files(audio_dir):
        match = builder.parse_name(FILE_NAME, path.stem, "ActorID_Sentence_Emotion_Level.wav", path.name)
        if match is None:
            continue
        actor, _sentence, emotion, _level = match.groups()
        label = builder.label_of(emotion, EMOTIONS)
        if label is None:
            continue
        columns = list(votes.columns) if votes is not None else list(VOTE_LETTERS.values())
        row_votes = dict.fromkeys(columns, np.nan)
        if votes is not None and path.stem in votes.index:
            row_votes = {column: float(votes.at[path.stem, column]) for column in columns}
        builder.add(
            utt_id=f"{CORPUS}_{path.stem}",
            path=path,
            speaker=f"{CORPUS}_{actor}",
            label=label,
            gender=genders.get(actor, ""),
            **row_votes,
        )
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
