"""Seeded synthetic "emotional speech" corpora so the whole pipeline runs with no downloads.

Four labeled corpora (CRE-demo, IEM-demo, IMP-demo, POD-demo: stand-ins for the paper's CRE/IEM/IMP/POD,
Section 3.1, Table 1) and one unlabeled corpus (LIB-demo, the LibriSpeech stand-in used by AE (12) and PEL (13)).

Acoustic model (source-filter, all vectorised numpy/scipy): a sentence is a fixed sequence of CV syllables.
Each consonant is a band-pass noise burst; each vowel is a band-limited glottal pulse train (closed-form
Dirichlet kernel) with a one-pole spectral tilt, jitter, shimmer and pulsed aspiration noise, filtered by a
cascade of four formant resonators scaled by the speaker's vocal-tract size. F0 follows a declination line
plus a rise-fall accent per vowel. Emotion moves seven cues away from the speaker's neutral voice: F0 level,
F0 range, tempo, energy, spectral tilt, breathiness and jitter (happy: high, wide F0, faster; angry: loud,
flat tilt, fast; sad: low, narrow F0, slow, breathy, soft). Each corpus expresses emotions with its own
strength and its own perturbation of those cues, has its own speaker F0 distribution, sentences and class
balance, and a recording channel (band limit, coloured noise at some SNR, level) per speaker, so a
classifier trained on three corpora transfers to the fourth imperfectly. A share of emotional labels is
"unreliable": the audio is rendered neutral while the label names an emotion (manifest column ``reliable``,
ground truth for tests; training ignores it), the situation labeling reliability (10) is meant to find.
LIB-demo is read speech: each utterance carries a random emotion at mild strength (0.3) and no label.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import butter, lfilter, sosfilt

from rdlr.labels import CLASSES, NUM_CLASSES, VOTE_COLUMNS

GENERATOR_VERSION = 1
MANIFEST_NAME = "manifest.csv"
CONFIG_NAME = "demo_config.json"
UNLABELED_CORPUS = "LIB-demo"


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and difficulty knobs of the demo corpora (the defaults run end to end in minutes on 2 cores)."""

    speakers_per_corpus: int = 8
    utterances_per_speaker: int = 40
    unlabeled_speakers: int = 8
    unlabeled_utterances_per_speaker: int = 25
    sentences_per_corpus: int = 12
    min_duration: float = 1.0
    max_duration: float = 2.0
    unreliable_share: float = 0.15
    expression_scale: float = 1.0
    style_spread: float = 0.6
    vote_corpora: tuple[str, ...] = ("IEM-demo", "IMP-demo")
    sample_rate: int = 16_000

    def __post_init__(self) -> None:
        for name in ("speakers_per_corpus", "utterances_per_speaker", "unlabeled_speakers",
                     "unlabeled_utterances_per_speaker", "sentences_per_corpus"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"DemoConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        if not 0.5 <= self.min_duration < self.max_duration:
            raise ValueError(f"DemoConfig needs 0.5 <= min_duration < max_duration, got "
                             f"{self.min_duration} and {self.max_duration}")
        if not 0.0 <= self.unreliable_share < 1.0:
            raise ValueError(f"DemoConfig.unreliable_share must be in [0, 1), got {self.unreliable_share}")
        if self.expression_scale < 0 or self.style_spread < 0:
            raise ValueError("DemoConfig.expression_scale and style_spread must be >= 0, got "
                             f"{self.expression_scale} and {self.style_spread}")
        unknown = sorted(set(self.vote_corpora) - {style.name for style in CORPUS_STYLES})
        if unknown:
            raise ValueError(f"DemoConfig.vote_corpora has unknown corpora {unknown}; valid: "
                             f"{', '.join(style.name for style in CORPUS_STYLES)}")
        if self.sample_rate < 16_000:
            raise ValueError(f"DemoConfig.sample_rate must be >= 16000 (formants reach 4 kHz), "
                             f"got {self.sample_rate}")


@dataclass(frozen=True)
class CorpusStyle:
    """What makes one demo corpus differ from the others (Table 1 stand-in)."""

    name: str
    expression: float  # mean strength of emotional expression (1 = acted, full cue profile)
    class_prior: tuple[float, float, float, float]  # shares of neutral, happy, sad, angry
    f0_ratio: float  # corpus-wide factor on the speakers' mean F0
    tempo: float  # corpus-wide factor on syllable durations
    band: tuple[float, float]  # channel pass band in Hz (varied per speaker)
    snr_db: tuple[float, float]  # range of per-speaker signal-to-noise ratios
    level_db: float  # mean RMS level of active speech, dBFS
    noise_pole: float  # 0 = white noise, towards 1 = low-frequency (hum/rumble) noise


CORPUS_STYLES: tuple[CorpusStyle, ...] = (
    CorpusStyle("CRE-demo", 1.0, (0.22, 0.26, 0.26, 0.26), 1.00, 1.00, (80.0, 7600.0), (30.0, 40.0), -28.0, 0.0),
    CorpusStyle("IEM-demo", 0.8, (0.31, 0.30, 0.19, 0.20), 0.92, 0.94, (100.0, 7000.0), (20.0, 30.0), -31.0, 0.6),
    CorpusStyle("IMP-demo", 0.65, (0.42, 0.32, 0.13, 0.13), 1.08, 1.06, (150.0, 5500.0), (15.0, 25.0), -26.0, 0.3),
    CorpusStyle("POD-demo", 0.5, (0.50, 0.28, 0.11, 0.11), 0.96, 0.92, (60.0, 4200.0), (10.0, 25.0), -33.0, 0.8),
)
LIB_STYLE = CorpusStyle(UNLABELED_CORPUS, 0.3, (0.25, 0.25, 0.25, 0.25), 1.0, 1.05, (60.0, 7800.0),
                        (30.0, 45.0), -28.0, 0.2)

# Emotion cue profiles at full strength, as deviations from neutral (rows follow CLASSES):
# F0 level (semitones), log F0-range factor, log duration factor, energy (dB), glottal low-pass pole shift
# (negative = flatter, tenser spectrum), aspiration noise level, log jitter factor.
F0_ST, LOG_RANGE, LOG_TEMPO, ENERGY_DB, TILT, BREATH, LOG_JITTER = range(7)
EMOTION_CUES = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [7.8, np.log(3.1), np.log(0.8), 6.5, -0.04, 0.0, 0.0],
    [-3.9, np.log(0.35), np.log(1.6), -10.4, 0.065, 0.52, np.log(3.3)],
    [5.9, np.log(2.0), np.log(0.75), 14.3, -0.14, 0.0, np.log(2.3)],
])
# Plausibility limits on the deviations (strong expression and a corpus's cue weighting can multiply them).
CUE_LIMITS = np.array([8.0, np.log(3.0), np.log(1.7), 16.0, 0.15, 0.9, np.log(4.0)])
F0_BOUNDS_HZ = (50.0, 650.0)

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
SILENCE, CONSONANT, VOWEL = 0, 1, 2


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


def generate_demo_corpora(out_dir: str | Path, seed: int = 0, config: DemoConfig | None = None) -> Path:
    """Write the demo corpora under ``out_dir`` and return the path of ``out_dir/manifest.csv``.

    WAVs (16-bit mono) go to ``out_dir/<corpus>/<speaker>/<utt_id>.wav``. Deterministic given ``seed`` and
    ``config`` (same bytes). When ``out_dir`` already holds a complete output for the same seed and config
    (recorded in ``demo_config.json``, written last) nothing is rewritten; otherwise everything is regenerated
    and stale WAVs of the demo corpora are removed.
    """
    config = config or DemoConfig()
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    out_dir = Path(out_dir).resolve()
    manifest_path = out_dir / MANIFEST_NAME
    marker = out_dir / CONFIG_NAME
    payload = {"generator_version": GENERATOR_VERSION, "seed": int(seed), "config": asdict(config)}
    payload = json.loads(json.dumps(payload))  # tuples become lists, as when read back from the marker
    if _is_complete(manifest_path, marker, payload):
        return manifest_path
    marker.unlink(missing_ok=True)
    rows: list[dict[str, object]] = []
    for index, style in enumerate((*CORPUS_STYLES, LIB_STYLE)):
        rows.extend(_generate_corpus(out_dir, style, index, int(seed), config))
    manifest = pd.DataFrame(rows)
    if not config.vote_corpora:
        manifest = manifest.drop(columns=list(VOTE_COLUMNS))
    _remove_stale_wavs(out_dir, set(manifest["path"]))
    tmp = manifest_path.with_suffix(".csv.tmp")
    manifest.to_csv(tmp, index=False)
    tmp.replace(manifest_path)
    payload["config_hash"] = _hash(payload)
    marker.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return manifest_path


def load_demo(out_dir: str | Path) -> pd.DataFrame:
    """The manifest written by :func:`generate_demo_corpora` (label "" for LIB-demo, votes NaN where absent)."""
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no demo manifest at {path}; create it with "
                                f"rdlr.corpora.demo.generate_demo_corpora({str(out_dir)!r})")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in VOTE_COLUMNS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column].replace("", np.nan))
    frame["reliable"] = frame["reliable"].map({"True": True, "False": False}).astype(bool)
    return frame


def _hash(payload: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _is_complete(manifest_path: Path, marker: Path, payload: dict[str, object]) -> bool:
    """Whether the marker matches ``payload`` and every WAV the manifest lists still exists."""
    if not (manifest_path.is_file() and marker.is_file()):
        return False
    stored = json.loads(marker.read_text())
    if stored.pop("config_hash", None) != _hash(payload) or stored != payload:
        return False
    paths = pd.read_csv(manifest_path, usecols=["path"])["path"]
    return all(Path(path).is_file() for path in paths)


def _remove_stale_wavs(out_dir: Path, keep: set[str]) -> None:
    for style in (*CORPUS_STYLES, LIB_STYLE):
        for wav in (out_dir / style.name).glob("*/*.wav"):
            if str(wav) not in keep:
                wav.unlink()


def _generate_corpus(out_dir: Path, style: CorpusStyle, index: int, seed: int,
                     config: DemoConfig) -> list[dict[str, object]]:
    """Render one corpus; returns its manifest rows."""
    rng = np.random.default_rng([seed, index])
    labeled = style.name != UNLABELED_CORPUS
    n_speakers = config.speakers_per_corpus if labeled else config.unlabeled_speakers
    per_speaker = config.utterances_per_speaker if labeled else config.unlabeled_utterances_per_speaker
    total = n_speakers * per_speaker
    speakers = _draw_speakers(style, n_speakers, config.sample_rate, rng)
    sentences = [_draw_sentence(rng) for _ in range(config.sentences_per_corpus)]
    cues = EMOTION_CUES * _style_factors(config.style_spread, rng)
    if labeled:
        emotions = rng.permutation(np.repeat(np.arange(NUM_CLASSES), _allocate(style.class_prior, total)))
        unreliable = _draw_unreliable(emotions, config.unreliable_share, style.name, rng)
    else:
        emotions = rng.integers(0, NUM_CLASSES, total)
        unreliable = np.zeros(total, dtype=bool)
    sentence_ids = rng.integers(0, len(sentences), total)
    votes = _draw_votes(emotions, unreliable, rng) if style.name in config.vote_corpora else None
    rows = []
    for k in range(total):
        speaker = speakers[k // per_speaker]
        utt_id = f"{speaker.speaker_id}_u{k % per_speaker + 1:03d}"
        utt_rng = np.random.default_rng([seed, index, k // per_speaker, k % per_speaker])
        strength = 0.0 if unreliable[k] else (style.expression * config.expression_scale
                                              * speaker.expressiveness * utt_rng.uniform(0.7, 1.3))
        deviation = np.clip(cues[emotions[k]] * strength, -CUE_LIMITS, CUE_LIMITS)
        audio = _render(sentences[sentence_ids[k]], speaker, deviation, config, utt_rng)
        path = out_dir / style.name / speaker.speaker_id / f"{utt_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.round(audio * 32767).astype(np.int16), config.sample_rate, subtype="PCM_16")
        row: dict[str, object] = {
            "utt_id": utt_id, "path": str(path), "corpus": style.name, "speaker": speaker.speaker_id,
            "label": CLASSES[emotions[k]] if labeled else "", "gender": speaker.gender,
            "transcript": sentences[sentence_ids[k]].transcript,
        }
        row.update({column: (votes[k, c] if votes is not None else np.nan) for c, column in enumerate(VOTE_COLUMNS)})
        row["reliable"] = not unreliable[k]
        rows.append(row)
    return rows


def _style_factors(spread: float, rng: np.random.Generator) -> np.ndarray:
    """A corpus's own weighting of each emotion's cues: log-normal factors with geometric mean 1 per emotion,
    so the corpus's overall expression strength stays ``CorpusStyle.expression``."""
    log_factors = rng.normal(0.0, spread, EMOTION_CUES.shape)
    return np.exp(log_factors - log_factors.mean(axis=1, keepdims=True))


def _allocate(prior: tuple[float, ...], total: int) -> np.ndarray:
    """Integer class counts summing to ``total`` in proportion to ``prior`` (largest remainder)."""
    exact = np.asarray(prior) / np.sum(prior) * total
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[: total - counts.sum()]] += 1
    return counts


def _draw_unreliable(emotions: np.ndarray, share: float, corpus: str, rng: np.random.Generator) -> np.ndarray:
    """Exactly round(share × N) emotional (non-neutral) labels whose audio will be rendered neutral."""
    wanted = int(round(share * len(emotions)))
    candidates = np.flatnonzero(emotions != CLASSES.index("neutral"))
    if wanted > len(candidates):
        raise ValueError(f"unreliable_share={share} asks for {wanted} unreliable labels in {corpus}, which has "
                         f"only {len(candidates)} non-neutral ones; lower DemoConfig.unreliable_share")
    flags = np.zeros(len(emotions), dtype=bool)
    flags[rng.choice(candidates, wanted, replace=False)] = True
    return flags


def _draw_votes(emotions: np.ndarray, unreliable: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulated annotator vote counts (N × 4) whose strict plurality is the label.

    3-6 annotators per utterance; each picks the label with probability 0.7 (0.4 when the audio is neutral
    but the label is not, where neutral gets 0.4 too), otherwise another class, neutral favoured.
    """
    neutral = CLASSES.index("neutral")
    votes = np.zeros((len(emotions), NUM_CLASSES))
    for k, (label, doubtful) in enumerate(zip(emotions, unreliable)):
        probs = np.full(NUM_CLASSES, 0.2 if doubtful else 0.3 / NUM_CLASSES)
        probs[neutral] += 0.4 if doubtful else 0.3 / NUM_CLASSES
        probs[label] = 0.0
        probs = probs / probs.sum() * (0.6 if doubtful else 0.3)
        probs[label] = 0.4 if doubtful else 0.7
        counts = rng.multinomial(rng.integers(3, 7), probs)
        while np.any(np.delete(counts, label) >= counts[label]):
            rival = np.argmax(np.where(np.arange(NUM_CLASSES) == label, -1, counts))
            counts[rival] -= 1
            counts[label] += 1
        votes[k] = counts
    return votes


def _draw_speakers(style: CorpusStyle, n: int, sample_rate: int, rng: np.random.Generator) -> list[Speaker]:
    genders = rng.permutation(np.array(["F", "M"] * ((n + 1) // 2))[:n])
    top = 0.45 * sample_rate
    speakers = []
    for i, gender in enumerate(genders):
        female = gender == "F"
        low = style.band[0] * np.exp(rng.normal(0.0, 0.15))
        speakers.append(Speaker(
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
        ))
    return speakers


def _draw_sentence(rng: np.random.Generator) -> Sentence:
    n = int(rng.integers(4, 8))
    consonants, vowels = list(CONSONANTS), list(VOWELS)
    syllables = tuple(consonants[rng.integers(len(consonants))] + vowels[rng.integers(len(vowels))]
                      for _ in range(n))
    pauses = tuple(bool(rng.random() < 0.3) and j < n - 1 for j in range(n))
    accented = np.zeros(n, dtype=bool)
    accented[rng.choice(n, int(rng.integers(1, 3)), replace=False)] = True
    return Sentence(syllables, pauses, tuple(bool(a) for a in accented))


def _segments(sentence: Sentence, tempo: float, config: DemoConfig,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _render(sentence: Sentence, speaker: Speaker, cues: np.ndarray, config: DemoConfig,
            rng: np.random.Generator) -> np.ndarray:
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
    envelope = voiced * accent_gain[segment] * np.minimum(1.0, np.minimum(
        pos / (0.02 * fs), (lengths[segment] - pos) / (0.03 * fs)))

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

    speech = np.zeros(n)
    tail = int(0.02 * fs)
    for k in np.flatnonzero(kinds != SILENCE):
        start, length = starts[k], lengths[k]
        text = sentence.syllables[syllable[k]]
        if kinds[k] == VOWEL:
            formants = np.asarray(VOWELS[text[1]]) * speaker.formant_scale
            padded = np.concatenate([excitation[start:start + length], np.zeros(tail)])
            out = sosfilt(_formant_sos(formants, fs), padded)[: n - start]
            speech[start:start + len(out)] += out
        else:
            consonant = CONSONANTS[text[0]]
            t = np.arange(length) / length
            shape = np.exp(-4 * t) * np.minimum(1.0, t * length / (0.002 * fs)) if consonant.stop else np.sin(np.pi * t)
            band = _bandpass(consonant.band[0], min(consonant.band[1], 0.45 * fs), fs, 2)
            speech[start:start + length] += consonant.gain * shape * sosfilt(band, rng.standard_normal(length))

    active = kinds[segment] != SILENCE
    level = speaker.level_db + cues[ENERGY_DB] + rng.normal(0.0, 1.0)
    speech *= 10 ** (level / 20) / np.sqrt(np.mean(speech[active] ** 2))
    noise = lfilter([1.0], [1.0, -speaker.noise_pole], rng.standard_normal(n))
    noise *= 10 ** ((level - speaker.snr_db) / 20) / np.sqrt(np.mean(noise**2))
    signal = sosfilt(_bandpass(speaker.band[0], speaker.band[1], fs, 4), speech + noise)
    peak = np.abs(signal).max()
    return signal * (0.99 / peak) if peak > 0.99 else signal
