"""Reading utterances for feature extraction: any soundfile format, downmixed to mono, resampled to 16 kHz.

Samples are floats in [-1, 1], what openSMILE and the encoders expect (openSMILE converts them to int16, where a
value beyond ±1 wraps around). A float file whose samples exceed ±1 (int16-scale floats, say) is peak-normalised:
divided by its peak, which keeps the waveform's shape (clipping would flatten it); the first such file of a process
is named in a :class:`LoudFloatWarning`. Resampling can overshoot ±1 by a little on full-scale audio; that
overshoot is clipped. Recordings longer than :data:`MAX_SECONDS` are refused before their samples are read: the
features are of whole utterances, and openSMILE's IS10 needs about 5 MB of memory per second of audio.
"""

from __future__ import annotations

import warnings
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
MAX_SECONDS = 120.0
# Reason heads of the errors table for each file problem (the kind is the text before " (" or ":").
_FILE_REASONS = {
    MISSING: "missing file",
    DIRECTORY: "directory, not an audio file",
    NOT_REGULAR: "not a regular file",
    EMPTY: "empty audio",
    TRUNCATED: "truncated audio",
}


class LoudFloatWarning(UserWarning):
    """A float audio file whose samples exceed ±1 was peak-normalised (warned once per process)."""


_warned_loud = False


def within_unit_range(samples: np.ndarray, path: Path) -> np.ndarray:
    """``samples`` divided by their peak when it exceeds 1 (see the module docstring), else unchanged."""
    global _warned_loud
    peak = float(np.abs(samples).max())
    if peak <= 1.0:
        return samples
    if not _warned_loud:
        _warned_loud = True
        warnings.warn(
            f"{path}: float samples reach {peak:.6g}, beyond ±1; peak-normalised (divided by {peak:.6g}) "
            "so that no int16 conversion wraps around; later such files are scaled the same way without "
            "a warning",
            LoudFloatWarning,
            stacklevel=3,
        )
    return samples / np.float32(peak)


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Average the channels of ``samples`` (frames × channels or frames) and resample to 16 kHz, float32."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if sample_rate != SAMPLE_RATE:
        divisor = gcd(int(sample_rate), SAMPLE_RATE)
        mono = np.clip(resample_poly(mono, SAMPLE_RATE // divisor, int(sample_rate) // divisor), -1.0, 1.0)
    return np.ascontiguousarray(mono, dtype=np.float32)


def load_audio(path: str | Path) -> np.ndarray:
    """The utterance at ``path`` as 16 kHz mono float32 in [-1, 1] (float files beyond ±1 peak-normalised).

    Raises :class:`UtteranceError` naming the file for anything that cannot yield features: a missing path,
    a directory, an empty (0-byte or sample-less) or truncated file, a corrupt or unsupported one, one shorter
    than ``MIN_SECONDS`` or longer than ``MAX_SECONDS``, non-finite samples, or digital silence.
    """
    path = Path(path)
    problem = audio_file_problem(path)
    if problem is not None:
        detail = f" ({problem.detail})" if problem.detail else ""
        raise UtteranceError(f"{_FILE_REASONS[problem.kind]}{detail}: {path}")
    try:
        info = sf.info(str(path))
        if info.samplerate > 0 and info.frames > MAX_SECONDS * info.samplerate:  # UtteranceError is no ValueError
            raise UtteranceError(
                f"too long ({info.frames / info.samplerate:.1f} s > {MAX_SECONDS:g} s; split the "
                f"recording into utterances): {path}"
            )
        samples, sample_rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise UtteranceError(f"unreadable audio ({error}): {path}") from None
    if samples.size == 0:
        raise UtteranceError(f"empty audio: {path}")
    if not np.isfinite(samples).all():
        raise UtteranceError(f"non-finite samples: {path}")
    audio = to_mono_16k(within_unit_range(samples, path), sample_rate)
    if audio.size < MIN_SECONDS * SAMPLE_RATE:
        raise UtteranceError(f"too short ({audio.size / SAMPLE_RATE:.3f} s < {MIN_SECONDS} s): {path}")
    if np.abs(audio).max() < SILENCE_PEAK:
        raise UtteranceError(f"silent audio (peak < {SILENCE_PEAK}): {path}")
    return audio
