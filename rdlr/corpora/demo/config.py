"""What the demo corpora are made of: sizes and difficulty knobs (:class:`DemoConfig`) and what sets each corpus
apart from the others (:class:`CorpusStyle`, a stand-in for the paper's Table 1)."""

from __future__ import annotations

from dataclasses import dataclass

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
        for name in (
            "speakers_per_corpus",
            "utterances_per_speaker",
            "unlabeled_speakers",
            "unlabeled_utterances_per_speaker",
            "sentences_per_corpus",
        ):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"DemoConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        if not 0.5 <= self.min_duration < self.max_duration:
            raise ValueError(
                f"DemoConfig needs 0.5 <= min_duration < max_duration, got {self.min_duration} and {self.max_duration}"
            )
        if not 0.0 <= self.unreliable_share < 1.0:
            raise ValueError(f"DemoConfig.unreliable_share must be in [0, 1), got {self.unreliable_share}")
        if self.expression_scale < 0 or self.style_spread < 0:
            raise ValueError(
                "DemoConfig.expression_scale and style_spread must be >= 0, got "
                f"{self.expression_scale} and {self.style_spread}"
            )
        unknown = sorted(set(self.vote_corpora) - {style.name for style in CORPUS_STYLES})
        if unknown:
            raise ValueError(
                f"DemoConfig.vote_corpora has unknown corpora {unknown}; valid: "
                f"{', '.join(style.name for style in CORPUS_STYLES)}"
            )
        if self.sample_rate < 16_000:
            raise ValueError(f"DemoConfig.sample_rate must be >= 16000 (formants reach 4 kHz), got {self.sample_rate}")


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

    @property
    def labeled(self) -> bool:
        """Whether the corpus carries emotion labels (every one but the LibriSpeech stand-in)."""
        return self.name != UNLABELED_CORPUS


CORPUS_STYLES: tuple[CorpusStyle, ...] = (
    CorpusStyle("CRE-demo", 1.0, (0.22, 0.26, 0.26, 0.26), 1.00, 1.00, (80.0, 7600.0), (30.0, 40.0), -28.0, 0.0),
    CorpusStyle("IEM-demo", 0.8, (0.31, 0.30, 0.19, 0.20), 0.92, 0.94, (100.0, 7000.0), (20.0, 30.0), -31.0, 0.6),
    CorpusStyle("IMP-demo", 0.65, (0.42, 0.32, 0.13, 0.13), 1.08, 1.06, (150.0, 5500.0), (15.0, 25.0), -26.0, 0.3),
    CorpusStyle("POD-demo", 0.5, (0.50, 0.28, 0.11, 0.11), 0.96, 0.92, (60.0, 4200.0), (10.0, 25.0), -33.0, 0.8),
)
LIB_STYLE = CorpusStyle(
    UNLABELED_CORPUS, 0.3, (0.25, 0.25, 0.25, 0.25), 1.0, 1.05, (60.0, 7800.0), (30.0, 45.0), -28.0, 0.2
)
ALL_STYLES: tuple[CorpusStyle, ...] = (*CORPUS_STYLES, LIB_STYLE)  # in generation order (the RNG streams' index)
