"""rdlr: cross-corpus speech emotion recognition with relative difficulty and labeling reliability.

Reproduces Ahn et al., "Speech Emotion Recognition Incorporating Relative Difficulty and Labeling Reliability",
Sensors 2024, 24, 4111, and exposes its loss components for use on other corpora.
"""

import importlib
from typing import Any

__all__ = ["labels", "load_model", "losses", "methods", "metrics", "model", "targets"]
__version__ = "0.1.0"


SUBMODULES = frozenset({"labels", "losses", "methods", "metrics", "model", "targets"})


def __getattr__(name: str) -> Any:
    """``rdlr.losses``, ``rdlr.load_model`` and the other public names, imported on first use so that
    ``import rdlr`` (and so ``rdlr --help``) loads neither torch nor the feature extractors."""
    if name in SUBMODULES:
        return importlib.import_module(f"rdlr.{name}")
    if name == "load_model":
        from rdlr.models import load_model

        return load_model
    raise AttributeError(f"module 'rdlr' has no attribute {name!r}")
