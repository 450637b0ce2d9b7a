"""How emotion sounds in the demo corpora: seven acoustic cues moved away from the speaker's neutral voice.

Happy: high, wide F0, faster; angry: loud, flat tilt, fast; sad: low, narrow F0, slow, breathy, soft. Each corpus
weights the cues its own way (:func:`style_factors`), so a classifier trained on three corpora transfers to the
fourth imperfectly.
"""

from __future__ import annotations

import numpy as np

# Emotion cue profiles at full strength, as deviations from neutral (rows follow rdlr.labels.CLASSES):
# F0 level (semitones), log F0-range factor, log duration factor, energy (dB), glottal low-pass pole shift
# (negative = flatter, tenser spectrum), aspiration noise level, log jitter factor.
F0_ST, LOG_RANGE, LOG_TEMPO, ENERGY_DB, TILT, BREATH, LOG_JITTER = range(7)
EMOTION_CUES = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [7.8, np.log(3.1), np.log(0.8), 6.5, -0.04, 0.0, 0.0],
        [-3.9, np.log(0.35), np.log(1.6), -10.4, 0.065, 0.52, np.log(3.3)],
        [5.9, np.log(2.0), np.log(0.75), 14.3, -0.14, 0.0, np.log(2.3)],
    ]
)
# Plausibility limits on the deviations (strong expression and a corpus's cue weighting can multiply them).
CUE_LIMITS = np.array([8.0, np.log(3.0), np.log(1.7), 16.0, 0.15, 0.9, np.log(4.0)])


def style_factors(spread: float, rng: np.random.Generator) -> np.ndarray:
    """A corpus's own weighting of each emotion's cues: log-normal factors with geometric mean 1 per emotion,
    so the corpus's overall expression strength stays ``CorpusStyle.expression``."""
    log_factors = rng.normal(0.0, spread, EMOTION_CUES.shape)
    return np.exp(log_factors - log_factors.mean(axis=1, keepdims=True))


def cue_deviation(profile: np.ndarray, strength: float) -> np.ndarray:
    """One utterance's cue deviations: an emotion's ``profile`` (a row of the corpus's weighted cues) scaled by
    the expression ``strength`` (0 = neutral voice), within :data:`CUE_LIMITS`."""
    return np.clip(profile * strength, -CUE_LIMITS, CUE_LIMITS)
