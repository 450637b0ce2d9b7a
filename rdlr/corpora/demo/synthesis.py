"""One demo utterance as a waveform: a source-filter model, all vectorised numpy/scipy.

A sentence is a sequence of CV syllables. Each consonant is a band-pass noise burst; each vowel is a band-limited
glottal pulse train (closed-form Dirichlet kernel) with a one-pole spectral tilt, jitter, shimmer and pulsed
aspiration noise, filtered by a cascade of four formant resonators scaled by the speaker's vocal-tract size. F0
follows a declination line plus a rise-fall accent per vowel. The emotion's cue deviations
(:mod:`rdlr.corpora.demo.emotions`) shift F0 level and range, tempo, energy, tilt, breathiness and jitter; the
speaker's channel adds coloured noise at its SNR and limits the band.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from rdlr.corpora.demo.config import DemoConfig
from rdlr.corpora.demo.emotions import BREATH, ENERGY_DB, F0_ST, LOG_JITTER, LOG_RANGE, LOG_TEMPO, TILT
from rdlr.corpora.demo.voices import CONSONANTS, FORMANT_BANDWIDTHS, VOWELS, Sentence, Speaker

SILENCE, CONSONANT, VOWEL = 0, 1, 2
F0_BOUNDS_HZ = (50.0, 650.0)


def _segments(
    sentence: Sentence, tempo: float, config: DemoConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kinds, lengths (samples) and syllable index of the utterance's segments, total duration in range."""
    kinds, seconds, syllable = [SILENCE], [rng.uniform(0.08, 0.2)], [-1]
    for j, text in enumerate(sentence.syllables):
        vowel = 0.13 * tempo * rng.uniform(0.85, 1.15) * (1.25 if sentence.accented[j] else 1.0)
        kinds += [CONSONANT, VOWEL]
        seconds += [CONSONANTS[text[0]].duration * np.sqrt(tempo), vowel]
        syllable += [j, j]
        if sentence.pause_after[j]:
            kinds.append(SILENCE)
            seconds.append(0.12 * tempo * rng.uniform(0.7, 1.3))
            syllable.append(-1)
    kinds.append(SILENCE)
    seconds.append(rng.uniform(0.08, 0.2))
    syllable.append(-1)
    total = sum(seconds)
    target = np.clip(total, config.min_duration + 0.01, config.max_duration - 0.01)
    lengths = np.floor(np.asarray(seconds) * target / total * config.sample_rate).astype(int)
    return np.asarray(kinds), lengths, np.asarray(syllable)


@lru_cache(maxsize=512)
def _bandpass(low: float, high: float, sample_rate: int, order: int) -> np.ndarray:
    return butter(order, [low, high], btype="band", fs=sample_rate, output="sos")


def _formant_sos(formants: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cascade of unit-DC-gain two-pole resonators at ``formants`` (Hz)."""
    radius = np.exp(-np.pi * np.asarray(FORMANT_BANDWIDTHS) / sample_rate)
    c = 2 * radius * np.cos(2 * np.pi * formants / sample_rate)
    zeros = np.zeros_like(c)
    return np.stack([1 - c + radius**2, zeros, zeros, np.ones_like(c), -c, radius**2], axis=1)


def _held_noise(n: int, hold: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise held constant over ``hold`` samples (about one glottal period): jitter and shimmer."""
    return np.repeat(rng.standard_normal(n // hold + 1), hold)[:n]


def render(
    sentence: Sentence, speaker: Speaker, cues: np.ndarray, config: DemoConfig, rng: np.random.Generator
) -> np.ndarray:
    """One utterance in [-1, 1]: ``cues`` are the emotion's deviations from the speaker's neutral voice."""
    fs = config.sample_rate
    kinds, lengths, syllable = _segments(sentence, speaker.rate * np.exp(cues[LOG_TEMPO]), config, rng)
    n = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    segment = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(n) - starts[segment]
    tau = pos / lengths[segment]
    voiced = kinds[segment] == VOWEL
    accent_gain = np.array([1.4 if s >= 0 and sentence.accented[s] else 1.0 for s in syllable])
    envelope = (
        voiced
        * accent_gain[segment]
        * np.minimum(1.0, np.minimum(pos / (0.02 * fs), (lengths[segment] - pos) / (0.03 * fs)))
    )

    f0_range = speaker.f0_range_st * np.exp(cues[LOG_RANGE])
    accent = np.where(accent_gain > 1.0, rng.uniform(0.5, 1.0, len(kinds)), rng.uniform(0.0, 0.3, len(kinds)))
    semitones = cues[F0_ST] + f0_range * (0.35 - 0.7 * np.arange(n) / n + accent[segment] * np.sin(np.pi * tau))
    jitter = speaker.jitter * np.exp(cues[LOG_JITTER])
    hold = int(fs / speaker.f0_hz)
    f0 = np.clip(speaker.f0_hz * 2.0 ** (semitones / 12) * (1 + jitter * _held_noise(n, hold, rng)), *F0_BOUNDS_HZ)
    theta = 2 * np.pi * np.mod(np.cumsum(f0) / fs, 1.0)
    harmonics = max(1, int(0.45 * fs / f0.max()))
    half = np.sin(theta / 2)
    safe = np.abs(half) > 1e-9
    pulses = np.where(safe, np.sin((harmonics + 0.5) * theta) / np.where(safe, half, 1.0), 2 * harmonics + 1)
    tilt = float(np.clip(speaker.tilt + cues[TILT], 0.5, 0.99))
    source = lfilter([1 - tilt], [1, -tilt], pulses) * (1 + 6 * jitter * _held_noise(n, hold, rng))
    source /= np.sqrt(np.mean(source[voiced] ** 2))
    breath = speaker.breath + cues[BREATH]
    excitation = (source + breath * rng.standard_normal(n) * (0.6 + 0.4 * np.cos(theta))) * envelope

    speech = _articulate(sentence, speaker, kinds, starts, lengths, syllable, excitation, fs, rng)
    active = kinds[segment] != SILENCE
    level = speaker.level_db + cues[ENERGY_DB] + rng.normal(0.0, 1.0)
    speech *= 10 ** (level / 20) / np.sqrt(np.mean(speech[active] ** 2))
    noise = lfilter([1.0], [1.0, -speaker.noise_pole], rng.standard_normal(n))
    noise *= 10 ** ((level - speaker.snr_db) / 20) / np.sqrt(np.mean(noise**2))
    signal = sosfilt(_bandpass(speaker.band[0], speaker.band[1], fs, 4), speech + noise)
    peak = np.abs(signal).max()
    return signal * (0.99 / peak) if peak > 0.99 else signal


def _articulate(
    sentence: Sentence,
    speaker: Speaker,
    kinds: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    syllable: np.ndarray,
    excitation: np.ndarray,
    fs: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The vocal tract: each vowel's excitation through its formant cascade (ringing on for 20 ms), each
    consonant a shaped band-pass noise burst; segments in order."""
    n = len(excitation)
    speech = np.zeros(n)
    tail = int(0.02 * fs)
    for k in np.flatnonzero(kinds != SILENCE):
        start, length = starts[k], lengths[k]
        text = sentence.syllables[syllable[k]]
        if kinds[k] == VOWEL:
            formants = np.asarray(VOWELS[text[1]]) * speaker.formant_scale
            padded = np.concatenate([excitation[start : start + length], np.zeros(tail)])
            out = sosfilt(_formant_sos(formants, fs), padded)[: n - start]
            speech[start : start + len(out)] += out
        else:
            consonant = CONSONANTS[text[0]]
            t = np.arange(length) / length
            shape = np.exp(-4 * t) * np.minimum(1.0, t * length / (0.002 * fs)) if consonant.stop else np.sin(np.pi * t)
            band = _bandpass(consonant.band[0], min(consonant.band[1], 0.45 * fs), fs, 2)
            speech[start : start + length] += consonant.gain * shape * sosfilt(band, rng.standard_normal(length))
    return speech
