"""Reading utterances for feature extraction: any soundfile format, downmixed to mono, resampled to 16 kHz."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from rdlr.corpora.audio_files import DIRECTORY, EMPTY, MISSING, NOT_REGULAR, TRUNCATED, audio_file_problem
from rdlr.features.base import UtteranceError

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.1
SILENCE_PEAK = 1e-4
# Reason heads of the errors table for each file problem (the kind is the text before " (" or ":").
_FILE_REASONS = {MISSING: "missing file", DIRECTORY: "directory, not an audio file",
                 NOT_REGULAR: "not a regular file", EMPTY: "empty audio", TRUNCATED: "truncated audio"}


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Average the channels of ``samples`` (frames × channels or frames) and resample to 16 kHz, float32."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if sample_rate != SAMPLE_RATE:
        divisor = gcd(int(sample_rate), SAMPLE_RATE)
        mono = resample_poly(mono, SAMPLE_RATE // divisor, int(sample_rate) // divisor)
    return np.ascontiguousarray(mono, dtype=np.float32)


def load_audio(path: str | Path) -> np.ndarray:
    """The utterance at ``path`` as 16 kHz mono float32 in [-1, 1].

    Raises :class:`UtteranceError` naming the file for anything that cannot yield features: a missing path,
    a directory, an empty (0-byte or sample-less) or truncated file, a corrupt or unsupported one, one shorter
    than ``MIN_SECONDS``, or digital silence.
    """
    path = Path(path)
    problem = audio_file_problem(path)
    if problem is not None:
        detail = f" ({problem.detail})" if problem.detail else ""
        raise UtteranceError(f"{_FILE_REASONS[problem.kind]}{detail}: {path}")
    try:
        samples, sample_rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise UtteranceError(f"unreadable audio ({error}): {path}") from None
    if samples.size == 0:
        raise UtteranceError(f"empty audio: {path}")
    audio = to_mono_16k(samples, sample_rate)
    if audio.size < MIN_SECONDS * SAMPLE_RATE:
        raise UtteranceError(f"too short ({audio.size / SAMPLE_RATE:.3f} s < {MIN_SECONDS} s): {path}")
    if not np.isfinite(audio).all():
        raise UtteranceError(f"non-finite samples: {path}")
    if np.abs(audio).max() < SILENCE_PEAK:
        raise UtteranceError(f"silent audio (peak < {SILENCE_PEAK}): {path}")
    return audio
