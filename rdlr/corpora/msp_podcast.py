"""MSP-Podcast (POD) release 1.8 in its official layout.

::

    ROOT/Labels/labels_concensus.csv     (spelled so in the release; labels_consensus.csv is accepted too)
        FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set
    ROOT/Audios/<FileName>

EmoClass letters: N → neutral, H → happy, S → sad, A → angry (the paper's four, Section 3.1), C → contempt,
D → disgust, F → fear, U → surprise, O → other; X (no agreement) is excluded. Split_Set Train / Development (or
Validation) / Test1 / Test2 → partition train / val / test / test. Utterances whose SpkrID is ``Unknown`` are
kept, each with its own speaker id ``POD_unknown_<utterance>`` so that no two of them (and no known speaker) are
merged.
Table 1 counts 1285 labeled speakers and 26009/14285/2649/3218 neutral/happy/sad/angry utterances.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rdlr.corpora.checks import ExpectedCounts, check_counts, count_mismatches, report_mismatches
from rdlr.corpora.manifest import ManifestBuilder, ManifestError
from rdlr.corpora.text_files import read_csv_text

CORPUS = "POD"
EXPECTED = ExpectedCounts(
    source="paper Table 1",
    classes={"neutral": 26009, "happy": 14285, "sad": 2649, "angry": 3218},
)
KNOWN_SPEAKERS = ExpectedCounts(source="paper Section 3.1", speakers=1285)
EMOTIONS: dict[str, str] = {
    "N": "neutral",
    "H": "happy",
    "S": "sad",
    "A": "angry",
    "C": "contempt",
    "D": "disgust",
    "F": "fear",
    "U": "surprise",
    "O": "other",
}
OTHER_EMOTIONS: dict[str, str] = {"X": "no agreement"}
PARTITIONS: dict[str, str] = {
    "train": "train",
    "development": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "test1": "test",
    "test2": "test",
}
LABEL_FILES: tuple[str, ...] = ("labels_concensus.csv", "labels_consensus.csv")
REQUIRED = ("FileName", "EmoClass", "SpkrID", "Gender", "Split_Set")
UNKNOWN_SPEAKERS = {"", "unknown", "-1", "nan"}
GENDERS: dict[str, str] = {"female": "F", "male": "M", "f": "F", "m": "M"}


def find_label_file(root: Path) -> Path:
    """``Labels/labels_concensus.csv`` (or its corrected spelling); a clear error when absent."""
    for folder in (root / "Labels", root):
        for name in LABEL_FILES:
            if (folder / name).is_file():
                return folder / name
    raise ManifestError(
        f"MSP-Podcast: no Labels/labels_concensus.csv under {root}; point --root at the MSP-PODCAST release folder"
    )


def _audio_dir(root: Path) -> Path:
    for name in ("Audios", "Audio"):
        if (root / name).is_dir():
            return root / name
    raise ManifestError(f"MSP-Podcast: no Audios/ folder under {root}")


def load(root: str | Path, check_audio: bool = True) -> pd.DataFrame:
    """The MSP-Podcast manifest: labeled utterances with partition, speaker and gender."""
    root = Path(root).expanduser().resolve()
    label_file = find_label_file(root)
    audio_dir = _audio_dir(root)
    table = read_csv_text(label_file)
    missing = [name for name in REQUIRED if name not in table.columns]
    if missing:
        raise ManifestError(f"{label_file}: missing column(s) {missing}; found {list(table.columns)}")
    splits = table["Split_Set"].str.strip().str.lower()
    unknown = sorted(set(splits) - set(PARTITIONS))
    if unknown:
        raise ManifestError(
            f"{label_file}: unknown Split_Set value(s) {unknown}; expected Train, Development/Validation, Test1, Test2"
        )
    builder = ManifestBuilder(CORPUS, OTHER_EMOTIONS)
    for file_name, raw, speaker, gender, split in zip(
        table["FileName"].str.strip(),
        table["EmoClass"].str.strip().str.upper(),
        table["SpkrID"].str.strip(),
        table["Gender"].str.strip().str.lower(),
        splits,
    ):
        label = builder.label_of(raw, EMOTIONS)
        if label is None:
            continue
        stem = Path(file_name).stem
        audio_name = file_name if Path(file_name).suffix else f"{file_name}.wav"
        known = speaker.lower() not in UNKNOWN_SPEAKERS
        builder.add(
            utt_id=f"{CORPUS}_{stem}",
            path=audio_dir / audio_name,
            speaker=f"{CORPUS}_{speaker}" if known else f"{CORPUS}_unknown_{stem}",
            label=label,
            partition=PARTITIONS[split],
            gender=GENDERS.get(gender, ""),
        )
    df = check_counts(builder.build(check_audio), CORPUS, EXPECTED)
    known = df[~df["speaker"].str.startswith(f"{CORPUS}_unknown_")]
    report_mismatches(
        df,
        [f"{CORPUS}: known {message} [{KNOWN_SPEAKERS.source}]" for message in count_mismatches(known, KNOWN_SPEAKERS)],
    )
    return df
