"""MSP-IMPROV (IMP) in its official layout.

::

    ROOT/Evaluation.txt                                            consensus + per-evaluator labels
    ROOT/Audio/session1..6/S01A/{S,R,T,P}/MSP-IMPROV-S01A-F01-S-FM01.wav

``Evaluation.txt`` (some copies spell it ``Evalution.txt``) holds one block per clip: a consensus line
``UTD-IMPROV-S01A-F01-S-FM01.avi; A; A:4.0; V:2.5; D:3.0 ; N:3.2;`` (categorical label A H S N, or O other /
X no agreement) followed by one line per evaluator ``<rater>; Angry; <other emotions>; A:..; V:..; D:..; N:..;``.

Labels: A → angry, H → happy, S → sad, N → neutral (the paper's four, Section 3.1), O → other; X (no agreement) is
excluded. Table 1: 12 speakers,
3477/2644/885/792. Votes: one per evaluator (a rater listed twice for a clip counts once) for its primary emotion
(Angry, Happy, Sad, Neutral or Other); a rater whose primary emotion is Other votes for the first emotion it names
beside it that is in the vocabulary (``Other; Surprised`` → surprise), else for other. The manifest has one
``votes_<emotion>`` column per emotion of the vocabulary (:data:`rdlr.labels.VOCABULARY`), so a class set sums them
onto its classes (:meth:`rdlr.labels.LabelSet.vote_matrix`); the paper's four classes get the votes they always had.
Speaker = gender + session from the file name (``...-F01-...`` → ``F01``, session 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.csv_manifest import LABEL_ALIASES
from rdlr.corpora.layout import audio_files
from rdlr.corpora.manifest import ManifestBuilder, ManifestError
from rdlr.corpora.text_files import read_text
from rdlr.labels import VOCABULARY

CORPUS = "IMP"
EXPECTED = ExpectedCounts(
    source="paper Table 1",
    speakers=12,
    classes={"neutral": 3477, "happy": 2644, "sad": 885, "angry": 792},
)
EMOTIONS: dict[str, str] = {"N": "neutral", "H": "happy", "S": "sad", "A": "angry", "O": "other"}
OTHER_EMOTIONS: dict[str, str] = {"X": "no agreement"}
OTHER = "other"
LABEL_FILES: tuple[str, ...] = ("Evaluation.txt", "Evalution.txt")
CLIP_PREFIX = "UTD-IMPROV-"
FILE_NAME = re.compile(r"^MSP-IMPROV-([A-Z0-9]+)-([FM])(\d{2})-([A-Z])-(\S+)$")


def find_label_file(root: Path) -> Path:
    """``Evaluation.txt`` in ``root`` or one folder below it; a clear error when there is none."""
    for pattern in LABEL_FILES + tuple(f"*/{name}" for name in LABEL_FILES):
        hits = sorted(root.glob(pattern))
        if hits:
            return hits[0]
    raise ManifestError(f"MSP-IMPROV: no Evaluation.txt under {root}; point --root at the MSP-IMPROV folder")


def parse_evaluation(path: Path) -> dict[str, dict[str, object]]:
    """Clip name (``MSP-IMPROV-...``) -> consensus letter and per-evaluator primary emotions."""
    clips: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for number, line in enumerate(read_text(path, fallback="latin-1").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [part.strip() for part in line.split(";")]
        if line.startswith(CLIP_PREFIX):
            if len(parts) < 2 or not parts[1]:
                raise ManifestError(f"{path}:{number}: no consensus label in {line!r}")
            name = "MSP-IMPROV-" + parts[0][len(CLIP_PREFIX) :].rsplit(".", 1)[0]
            current = clips.setdefault(name, {"raw": parts[1].upper(), "raters": {}})
        elif current is not None and len(parts) >= 2:
            raters: dict[str, str] = current["raters"]  # type: ignore[assignment]
            raters.setdefault(parts[0], rater_emotion(parts[1], parts[2] if len(parts) > 2 else ""))
    return clips


def rater_emotion(primary: str, named: str) -> str:
    """The vocabulary emotion of one rater's vote: its primary emotion (``Angry`` → angry), or for ``Other`` the
    first emotion of ``named`` (the rater's other emotions, comma-separated) that is in the vocabulary but not
    other (``Surprised`` → surprise), else other; a primary emotion outside the vocabulary is other too."""
    emotion = LABEL_ALIASES.get(primary.strip().lower(), OTHER)
    if emotion != OTHER:
        return emotion
    for text in named.split(","):
        candidate = LABEL_ALIASES.get(text.strip().lower())
        if candidate is not None and candidate != OTHER:
            return candidate
    return OTHER


def _votes(raters: dict[str, str]) -> dict[str, float]:
    """One ``votes_<emotion>`` per emotion of the vocabulary: the raters who voted for it (NaN without raters)."""
    if not raters:
        return {f"votes_{name}": np.nan for name in VOCABULARY}
    return {f"votes_{name}": float(sum(emotion == name for emotion in raters.values())) for name in VOCABULARY}


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The MSP-IMPROV manifest: labeled clips of ``Evaluation.txt`` with votes, session and gender."""
    root = Path(root).expanduser().resolve()
    clips = parse_evaluation(find_label_file(root))
    audio = {path.stem: path for path in audio_files(root, "**/MSP-IMPROV-*.wav")}
    builder = ManifestBuilder(CORPUS, OTHER_EMOTIONS)
    for name, clip in sorted(clips.items()):
        label = EMOTIONS.get(str(clip["raw"]))
        if label is None:
            builder.exclude(str(clip["raw"]))
            continue
        match = FILE_NAME.match(name)
        if match is None:
            builder.drop("clip name not MSP-IMPROV-<sentence>-<F|M><session>-<type>-<id>", name)
            continue
        if name not in audio:
            builder.drop("missing audio file", name)
            continue
        gender, session = match.group(2), int(match.group(3))
        builder.add(
            utt_id=f"{CORPUS}_{name}",
            path=audio[name],
            speaker=f"{CORPUS}_{gender}{session:02d}",
            label=label,
            session=str(session),
            gender=gender,
            **_votes(clip["raters"]),  # type: ignore[arg-type]
        )
    for stem in sorted(set(audio) - set(clips)):
        builder.drop("audio file without a label in Evaluation.txt", stem)
    return check_counts(builder.build(check_audio), CORPUS, EXPECTED)
