"""rdlr: cross-corpus speech emotion recognition with relative difficulty and labeling reliability.

Reproduces Ahn et al., "Speech Emotion Recognition Incorporating Relative Difficulty and Labeling Reliability",
Sensors 2024, 24, 4111, and exposes its loss components for use on other corpora.
"""

from typing import Any

from rdlr import labels, losses, methods, metrics, model, targets

__all__ = ["labels", "load_model", "losses", "methods", "metrics", "model", "targets"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``rdlr.load_model``, imported on first use so that ``import rdlr`` does not load the feature extractors."""
    if name == "load_model":
        from rdlr.models import load_model

        return load_model
    raise AttributeError(f"module 'rdlr' has no attribute {name!r}")
