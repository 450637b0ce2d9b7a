"""Feature tables of the paper's sizes for the scale rehearsal (bench_scale.py).

Rows: the manifests of :mod:`rdlr.corpora.shape` (CRE 4,899 of 91 speakers, IEM 5,531 in 5 sessions × 2 speakers,
IMP 7,798 in 6 × 2, POD 46,161 in its train / val / test partitions, LIB 28,539 unlabeled), so the paper's splits of
Section 3.1 apply as they do to the real corpora. Features are drawn so that training behaves like it does on real
utterance-level features: a weak class signal in a few latent directions, expressed differently by each corpus
(corpus shift of the emotion directions and of the mean), a speaker offset, unreliable labels (a share of each
corpus's rows carry the signal of another class), noise, and IS10-like heterogeneous scales per dimension. Validation
UA therefore plateaus after some epochs and early stopping fires, rather than every trial running to the cap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rdlr.corpora.shape import shaped_manifest
from rdlr.labels import CLASSES
from rdlr.models.folder import write_atomically
from rdlr.train import TrialData

PAPER_CORPORA: tuple[tuple[str, str], ...] = (
    ("cremad", "CRE"),
    ("iemocap", "IEM"),
    ("msp_improv", "IMP"),
    ("msp_podcast", "POD"),
    ("librispeech", "LIB"),
)
LATENT = 24  # latent directions that carry the emotion signal
SIGNAL = 0.35  # class-mean spread in the latent space (weak: UA well below 1)
CORPUS_SKEW = 0.7  # how far each corpus's emotion directions differ from the shared ones
UNRELIABLE = 0.25  # share of labeled rows whose features carry another class's signal
CHUNK = 8192


def paper_manifest() -> pd.DataFrame:
    """Manifest columns of the four labeled corpora and LibriSpeech at the paper's sizes (Table 1)."""
    return pd.concat([shaped_manifest(loader, name) for loader, name in PAPER_CORPORA], ignore_index=True)


def draw_features(meta: pd.DataFrame, dims: int, seed: int = 0) -> np.ndarray:
    """An (N × ``dims``) float32 matrix for ``meta``'s rows (module docstring), built in place chunk by chunk."""
    rng = np.random.default_rng(seed)
    rows = len(meta)
    corpora = sorted(set(meta["corpus"]))
    speakers = sorted(set(meta["speaker"]))
    projection = rng.standard_normal((LATENT, dims), dtype=np.float32) / np.sqrt(LATENT)
    class_means = SIGNAL * rng.standard_normal((len(CLASSES), LATENT), dtype=np.float32)
    corpus_means = {
        c: class_means + CORPUS_SKEW * SIGNAL * rng.standard_normal(class_means.shape, dtype=np.float32)
        for c in corpora
    }
    corpus_shift = {c: 0.5 * rng.standard_normal(dims, dtype=np.float32) for c in corpora}
    speaker_index = pd.Index(speakers).get_indexer(meta["speaker"])
    speaker_shift = 0.3 * rng.standard_normal((len(speakers), dims), dtype=np.float32)
    scale = np.exp(rng.normal(0.0, 1.5, size=dims)).astype(np.float32)
    offset = rng.normal(0.0, 3.0, size=dims).astype(np.float32)

    labels = meta["label"].to_numpy()
    signal_class = np.array([CLASSES.index(label) if label else -1 for label in labels])
    flip = (signal_class >= 0) & (rng.random(rows) < UNRELIABLE)
    signal_class[flip] = (signal_class[flip] + rng.integers(1, len(CLASSES), flip.sum())) % len(CLASSES)

    x = np.empty((rows, dims), dtype=np.float32)
    corpus_of_row = meta["corpus"].to_numpy()
    for start in range(0, rows, CHUNK):
        part = slice(start, min(rows, start + CHUNK))
        latent = 0.5 * rng.standard_normal((part.stop - start, LATENT), dtype=np.float32)
        for corpus in set(corpus_of_row[part]):
            mine = np.flatnonzero(corpus_of_row[part] == corpus)
            labeled = mine[signal_class[part][mine] >= 0]
            latent[labeled] += corpus_means[corpus][signal_class[part][labeled]]
        block = rng.standard_normal((part.stop - start, dims), dtype=np.float32)
        block += latent @ projection
        block += speaker_shift[speaker_index[part]]
        for corpus in set(corpus_of_row[part]):
            block[corpus_of_row[part] == corpus] += corpus_shift[corpus]
        x[part] = block * scale + offset
    return x


def write_tables(folder: Path, dims_list: list[int], seed: int = 0) -> pd.DataFrame:
    """Draw the table of each input dimension into ``folder`` (``x<dims>.npy``, ``meta.csv``); returns the meta."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = paper_manifest()
    meta.to_csv(folder / "meta.csv", index=False)
    for dims in dims_list:
        path = folder / f"x{dims}.npy"
        if not path.exists():
            x = draw_features(meta, dims, seed)

            def save(tmp: str, x: np.ndarray = x) -> None:
                with open(tmp, "wb") as stream:  # a stream: np.save would add ".npy" to a file name
                    np.save(stream, x)

            write_atomically(path, save)
    return meta


def read_table(folder: Path, dims: int) -> tuple[np.ndarray, pd.DataFrame]:
    """The table of ``dims`` dimensions written by :func:`write_tables` (no pickle)."""
    meta = pd.read_csv(folder / "meta.csv", dtype=str, keep_default_na=False)
    return np.load(folder / f"x{dims}.npy", allow_pickle=False), meta


def tiny_trial_data() -> TrialData:
    """64 rows of 16 random features: a training, a validation, a test and an unlabeled corpus (warm-up runs)."""
    corpus = np.repeat(np.array(["A", "B", "C", "U"]), 16)
    labels = np.where(corpus == "U", "", np.array(CLASSES)[np.arange(64) % len(CLASSES)])
    meta = pd.DataFrame({"corpus": corpus, "label": labels})
    roles = pd.Series(corpus).map({"A": "train", "B": "val", "C": "test", "U": "unlabeled"}).to_numpy()
    return TrialData.from_table(np.random.default_rng(0).standard_normal((64, 16), dtype=np.float32), meta, roles)
