"""Who speaks and what they say in the demo corpora: the phonetic inventory (CV syllables), sentences, and
speakers with their neutral voice and recording channel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rdlr.corpora.demo.config import CorpusStyle

VOWELS: dict[str, tuple[float, float, float, float]] = {  # formants F1..F4 (Hz) of an adult male voice
    "a": (730.0, 1090.0, 2440.0, 3400.0),
    "e": (530.0, 1840.0, 2480.0, 3500.0),
    "i": (270.0, 2290.0, 3010.0, 3700.0),
    "o": (570.0, 840.0, 2410.0, 3300.0),
    "u": (300.0, 870.0, 2240.0, 3300.0),
}
FORMANT_BANDWIDTHS = (60.0, 90.0, 120.0, 180.0)


@dataclass(frozen=True)
class Consonant:
    """A consonant as a noise burst: its band (Hz), duration (s), stop (fast decay) or fricative, gain."""

    band: tuple[float, float]
    duration: float
    stop: bool
    gain: float


CONSONANTS: dict[str, Consonant] = {
    "p": Consonant((400.0, 1800.0), 0.04, True, 0.5),
    "t": Consonant((3000.0, 6500.0), 0.045, True, 0.6),
    "k": Consonant((1500.0, 3200.0), 0.05, True, 0.6),
    "s": Consonant((4000.0, 7500.0), 0.09, False, 0.35),
    "f": Consonant((1200.0, 7000.0), 0.08, False, 0.15),
    "h": Consonant((500.0, 5000.0), 0.07, False, 0.12),
}


@dataclass(frozen=True)
class Sentence:
    """A fixed syllable sequence ("ka", "ti", ...), with a pause after some syllables and accented ones."""

    syllables: tuple[str, ...]
    pause_after: tuple[bool, ...]
    accented: tuple[bool, ...]

    @property
    def transcript(self) -> str:
        return " ".join(self.syllables)


@dataclass(frozen=True)
class Speaker:
    """A speaker's neutral voice and recording channel."""

    speaker_id: str
    gender: str
    f0_hz: float
    f0_range_st: float
    formant_scale: float
    rate: float  # factor on syllable durations
    expressiveness: float
    level_db: float
    tilt: float  # pole of the one-pole glottal low-pass
    jitter: float
    breath: float
    band: tuple[float, float]
    snr_db: float
    noise_pole: float


def draw_speakers(style: CorpusStyle, n: int, sample_rate: int, rng: np.random.Generator) -> list[Speaker]:
    """``n`` speakers of a corpus, genders balanced, voices and channels drawn around the corpus's style."""
    genders = rng.permutation(np.array(["F", "M"] * ((n + 1) // 2))[:n])
    top = 0.45 * sample_rate
    speakers = []
    for i, gender in enumerate(genders):
        female = gender == "F"
        low = style.band[0] * np.exp(rng.normal(0.0, 0.15))
        speakers.append(
            Speaker(
                speaker_id=f"{style.name}_s{i + 1:02d}",
                gender=str(gender),
                f0_hz=(205.0 if female else 115.0) * style.f0_ratio * np.exp(rng.normal(0.0, 0.12)),
                f0_range_st=3.0 * np.exp(rng.normal(0.0, 0.2)),
                formant_scale=(1.15 if female else 1.0) * np.exp(rng.normal(0.0, 0.04)),
                rate=style.tempo * np.exp(rng.normal(0.0, 0.08)),
                expressiveness=np.exp(rng.normal(0.0, 0.2)),
                level_db=style.level_db + rng.normal(0.0, 2.0),
                tilt=0.93 + rng.normal(0.0, 0.015),
                jitter=0.008 * np.exp(rng.normal(0.0, 0.3)),
                breath=0.06 * np.exp(rng.normal(0.0, 0.4)),
                band=(low, min(style.band[1] * np.exp(rng.normal(0.0, 0.08)), top)),
                snr_db=rng.uniform(*style.snr_db),
                noise_pole=style.noise_pole,
            )
        )
    return speakers


def draw_sentence(rng: np.random.Generator) -> Sentence:
    """A sentence of 4-7 random CV syllables, pauses after about 30 % of them, one or two accented."""
    n = int(rng.integers(4, 8))
    consonants, vowels = list(CONSONANTS), list(VOWELS)
    syllables = tuple(consonants[rng.integers(len(consonants))] + vowels[rng.integers(len(vowels))] for _ in range(n))
    pauses = tuple(bool(rng.random() < 0.3) and j < n - 1 for j in range(n))
    accented = np.zeros(n, dtype=bool)
    accented[rng.choice(n, int(rng.integers(1, 3)), replace=False)] = True
    return Sentence(syllables, pauses, tuple(bool(a) for a in accented))
