"""A tiny corpus set of short noisy tones for end-to-end tests (reproduce, the multi-node run): three labeled
corpora A, B, C of 3 speakers × 4 utterances (one per class) and an unlabeled corpus U of 2 × 4, with one manifest;
and the smallest spec that sweeps it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from rdlr.labels import CLASSES

MANIFEST = "manifests/tiny.csv"  # under the corpus root (the spec's --data-root)


def write_corpus(root: Path, emotions: tuple[str, ...] = CLASSES) -> Path:
    """Three labeled corpora (3 speakers × one utterance per emotion of ``emotions``, the paper's four by default)
    and one unlabeled corpus (2 speakers × 4) of short noisy tones."""
    rng = np.random.default_rng(0)
    rows = []
    for corpus in ("A", "B", "C", "U"):
        for speaker in range(3 if corpus != "U" else 2):
            for i in range(len(emotions) if corpus != "U" else 4):
                path = root / "wav" / corpus / f"{corpus}{speaker}_{i}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                t = np.arange(8000) / 16000
                label = "" if corpus == "U" else emotions[i]
                tone = np.sin(2 * np.pi * (120 + 40 * i + 10 * speaker) * t) * (0.1 + 0.05 * i)
                sf.write(path, (tone + 0.01 * rng.normal(size=t.size)).astype(np.float32), 16000)
                rows.append(
                    {
                        "utt_id": path.stem,
                        "path": str(path),
                        "corpus": corpus,
                        "speaker": f"{corpus}{speaker}",
                        "label": label,
                    }
                )
    manifest = root / MANIFEST
    manifest.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def tone_raw(spec_id: str, **changes: Any) -> dict[str, Any]:
    """A one-job spec of the tone corpus as parsed YAML: method ce out of corpus with A held out and U unlabeled,
    is10 features, seed 0, one configuration (M = 8), one epoch; ``changes`` replace or add top-level keys."""
    return {
        "id": spec_id,
        "data": {"source": "manifests", "manifests": [MANIFEST]},
        "features": ["is10"],
        "held_out": ["A"],
        "unlabeled": "U",
        "protocols": {"out_of_corpus": ["ce"]},
        "seeds": [0],
        "search": {"configs": 1, "space": {"batch_size": [8]}},
        "training": {"max_epochs": 1},
        **changes,
    }
