"""Reading utterances for feature extraction: any soundfile format, downmixed to mono, resampled to 16 kHz.

Samples are floats in [-1, 1], what openSMILE and the encoders expect (openSMILE converts them to int16, where a
value beyond ±1 wraps around). A float file whose samples exceed ±1 (int16-scale floats, say) is peak-normalised:
divided by its peak, which keeps the waveform's shape (clipping would flatten it); the first such file of a process
is named in a :class:`LoudFloatWarning`. Resampling can overshoot ±1 by a little on full-scale audio; that
overshoot is clipped. Recordings longer than :data:`MAX_SECONDS` are refused before their samples are read: the
features are of whole utterances, and openSMILE's IS10 needs about 5 MB of memory per second of audio.
:func:`decode_audio` reads a WAV or FLAC file held in memory (``rdlr serve``'s request bodies) the same way, and
an utterance record may carry such a decoded signal as ``audio`` (:func:`record_audio`).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from rdlr.corpora.audio_files import DIRECTORY, EMPTY, MISSING, NOT_REGULAR, TRUNCATED, audio_file_problem
from rdlr.features.base import UtteranceError

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.1
SILENCE_PEAK = 1e-4
MAX_SECONDS = 120.0
DECODED_FORMATS = ("WAV", "WAVEX", "RF64", "FLAC")  # decode_audio's formats: WAV and FLAC
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


def within_unit_range(samples: np.ndarray, path: str | Path) -> np.ndarray:
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


class UnsupportedAudio(UtteranceError):
    """Bytes that are no audio file soundfile reads, or audio in a format :func:`decode_audio` does not take."""


class AudioTooLong(UtteranceError):
    """A recording longer than :data:`MAX_SECONDS`."""


def too_long(frames: int, sample_rate: int, where: str | Path) -> AudioTooLong:
    return AudioTooLong(
        f"too long ({frames / sample_rate:.1f} s > {MAX_SECONDS:g} s; split the recording into utterances): {where}"
    )


def checked_signal(samples: np.ndarray, sample_rate: int, where: str | Path) -> np.ndarray:
    """Decoded ``samples`` as 16 kHz mono float32 in [-1, 1], or :class:`UtteranceError` naming ``where`` for
    samples that cannot yield features (none, non-finite, too short, digital silence)."""
    if samples.size == 0:
        raise UtteranceError(f"empty audio: {where}")
    if not np.isfinite(samples).all():
        raise UtteranceError(f"non-finite samples: {where}")
    audio = to_mono_16k(within_unit_range(samples, where), sample_rate)
    if audio.size < MIN_SECONDS * SAMPLE_RATE:
        raise UtteranceError(f"too short ({audio.size / SAMPLE_RATE:.3f} s < {MIN_SECONDS} s): {where}")
    if np.abs(audio).max() < SILENCE_PEAK:
        raise UtteranceError(f"silent audio (peak < {SILENCE_PEAK}): {where}")
    return audio


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
            raise too_long(info.frames, info.samplerate, path)
        samples, sample_rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise UtteranceError(f"unreadable audio ({error}): {path}") from None
    return checked_signal(samples, sample_rate, path)


def decode_audio(data: bytes, where: str) -> np.ndarray:
    """The WAV or FLAC file held in ``data`` (bytes in memory, e.g. a request body) as :func:`load_audio` reads a
    file; ``where`` names it in errors. :class:`UnsupportedAudio` for other bytes, :class:`AudioTooLong` beyond
    ``MAX_SECONDS`` (checked from the header, before the samples are decoded), else as :func:`load_audio`."""
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as error:
        reason = getattr(error, "error_string", None) or str(error)  # libsndfile's reason, without the stream's repr
        raise UnsupportedAudio(f"not an audio file ({reason}); send WAV or FLAC: {where}") from None
    if info.format not in DECODED_FORMATS:
        raise UnsupportedAudio(
            f"unsupported audio format {info.format} ({info.format_info}); send WAV or FLAC: {where}"
        )
    if info.samplerate <= 0:
        raise UnsupportedAudio(f"invalid sample rate {info.samplerate}: {where}")
    if info.frames > MAX_SECONDS * info.samplerate:
        raise too_long(info.frames, info.samplerate, where)
    try:
        samples, sample_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise UtteranceError(f"unreadable audio ({error}): {where}") from None
    return checked_signal(samples, sample_rate, where)


def record_audio(record: Mapping[str, Any]) -> np.ndarray:
    """The signal of an utterance record: its ``audio`` when the caller decoded it already (``rdlr serve`` decodes
    request bodies in memory, :func:`decode_audio`), else the file at its ``path`` (:func:`load_audio`)."""
    audio = record.get("audio")
    return load_audio(record["path"]) if audio is None else audio
