"""rdlr: cross-corpus speech emotion recognition with relative difficulty and labeling reliability.

Reproduces Ahn et al., "Speech Emotion Recognition Incorporating Relative Difficulty and Labeling Reliability",
Sensors 2024, 24, 4111, and exposes its loss components for use on other corpora.
"""

from rdlr import labels, losses, methods, metrics, model, targets

__all__ = ["labels", "losses", "methods", "metrics", "model", "targets"]
__version__ = "0.1.0"
