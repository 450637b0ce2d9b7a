"""LibriSpeech train-clean-100 (LIB), the unlabeled corpus for AE and PEL (Section 3.1, Eqs. (12), (13)).

::

    ROOT/train-clean-100/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
    ROOT/train-clean-100/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt    "<utt id> TRANSCRIPT"
    ROOT/SPEAKERS.TXT                                                         "ID | SEX | SUBSET | ..." (optional)

``ROOT`` may be the ``LibriSpeech`` folder, its parent, or the subset folder itself. Every utterance is
unlabeled (label ``""``). The paper uses its 28,539 utterances (251 speakers).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts
from rdlr.corpora.layout import audio_files
from rdlr.corpora.manifest import ManifestBuilder, ManifestError
from rdlr.corpora.text_files import UnreadableText, read_text

CORPUS = "LIB"
SUBSET = "train-clean-100"
EXPECTED = ExpectedCounts(source="paper Section 3.1 / LibriSpeech", speakers=251, total=28539)


def find_subset(root: Path, subset: str = SUBSET) -> Path:
    """The subset folder: ``ROOT/<subset>``, ``ROOT/LibriSpeech/<subset>`` or ``ROOT`` itself."""
    for candidate in (root / subset, root / "LibriSpeech" / subset):
        if candidate.is_dir():
            return candidate
    if root.name == subset and root.is_dir():
        return root
    raise ManifestError(f"LibriSpeech: no {subset}/ folder under {root}; point --root at the LibriSpeech folder")


def read_speaker_genders(subset_dir: Path) -> dict[str, str]:
    """Speaker id -> F/M from ``SPEAKERS.TXT`` next to the subset folder (empty when absent)."""
    for path in (subset_dir.parent / "SPEAKERS.TXT", subset_dir / "SPEAKERS.TXT"):
        if path.is_file():
            genders = {}
            for line in read_text(path, fallback="latin-1").splitlines():
                fields = [field.strip() for field in line.split("|")]
                if line.startswith(";") or len(fields) < 2:
                    continue
                if fields[1] in ("F", "M"):
                    genders[fields[0]] = fields[1]
            return genders
    return {}


def read_transcripts(chapter_dir: Path) -> dict[str, str]:
    """Utterance id -> transcript from the chapter's ``*.trans.txt``; :class:`UnreadableText` when one does not
    decode."""
    transcripts = {}
    for path in sorted(chapter_dir.glob("*.trans.txt")):
        for line in read_text(path, fallback="latin-1").splitlines():
            utt, _, text = line.strip().partition(" ")
            if utt:
                transcripts[utt] = text.strip()
    return transcripts


def load(root: str | Path, subset: str = SUBSET, check_audio: bool = True) -> pd.DataFrame:
    """The LibriSpeech manifest: every utterance of ``subset``, unlabeled, with its transcript."""
    root = Path(root).expanduser().resolve()
    subset_dir = find_subset(root, subset)
    genders = read_speaker_genders(subset_dir)
    builder = ManifestBuilder(CORPUS)
    for chapter_dir in sorted(path for path in subset_dir.glob("*/*") if path.is_dir()):
        speaker = chapter_dir.parent.name
        try:
            transcripts, unreadable = read_transcripts(chapter_dir), ""
        except UnreadableText as error:
            transcripts, unreadable = {}, f"unreadable transcript file ({error})"
        for path in audio_files(chapter_dir, "*.flac"):
            if unreadable:
                builder.drop(unreadable, path.name)
                continue
            builder.add(
                utt_id=f"{CORPUS}_{path.stem}",
                path=path,
                speaker=f"{CORPUS}_{speaker}",
                label="",
                gender=genders.get(speaker, ""),
                transcript=transcripts.get(path.stem, ""),
            )
    df = builder.build(check_audio)
    if subset == SUBSET:
        check_counts(df, CORPUS, EXPECTED)
    return df
