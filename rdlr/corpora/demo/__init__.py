"""Seeded synthetic "emotional speech" corpora so the whole pipeline runs with no downloads.

Four labeled corpora (CRE-demo, IEM-demo, IMP-demo, POD-demo: stand-ins for the paper's CRE/IEM/IMP/POD,
Section 3.1, Table 1) and one unlabeled corpus (LIB-demo, the LibriSpeech stand-in used by AE (12) and PEL (13)).

A sentence is a fixed sequence of CV syllables spoken by a speaker with a neutral voice (:mod:`.voices`),
rendered by a source-filter model (:mod:`.synthesis`). Emotion moves seven cues away from the speaker's neutral
voice (:mod:`.emotions`): F0 level, F0 range, tempo, energy, spectral tilt, breathiness and jitter. Each corpus
(:mod:`.config`) expresses emotions with its own strength and its own perturbation of those cues, has its own
speaker F0 distribution, sentences and class balance, and a recording channel (band limit, coloured noise at some
SNR, level) per speaker, so a classifier trained on three corpora transfers to the fourth imperfectly. A share of
emotional labels is "unreliable" (:mod:`.annotation`): the audio is rendered neutral while the label names an
emotion (manifest column ``reliable``, ground truth for tests; training ignores it), the situation labeling
reliability (10) is meant to find. LIB-demo is read speech: each utterance carries a random emotion at mild
strength (0.3) and no label. :func:`generate_demo_corpora` (:mod:`.generate`) writes it all.
"""

from rdlr.corpora.demo.config import CORPUS_STYLES, LIB_STYLE, UNLABELED_CORPUS, CorpusStyle, DemoConfig
from rdlr.corpora.demo.generate import CONFIG_NAME, GENERATOR_VERSION, MANIFEST_NAME, generate_demo_corpora

__all__ = [
    "CONFIG_NAME",
    "CORPUS_STYLES",
    "GENERATOR_VERSION",
    "LIB_STYLE",
    "MANIFEST_NAME",
    "UNLABELED_CORPUS",
    "CorpusStyle",
    "DemoConfig",
    "generate_demo_corpora",
]
