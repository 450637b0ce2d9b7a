"""One model trained the way the model tests train it: ``rdlr train``'s code on is10 features, quietly, and the
command line that does the same."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rdlr.models.training import TrainOutcome, train_model


def train_quietly(
    manifests: Sequence[str | os.PathLike[str]],
    method: str,
    out: os.PathLike[str],
    store: os.PathLike[str],
    **options: Any,
) -> TrainOutcome:
    """:func:`rdlr.models.training.train_model` on is10 features with no progress bar and no log lines; ``options``
    are its keyword arguments (``hparams``, ``training``, ``seed``, ...)."""
    return train_model(manifests, "is10", method, out, str(store), progress=False, log=lambda line: None, **options)


def train_args(manifest: os.PathLike[str], store: os.PathLike[str], method: str = "ce") -> list[str]:
    """``rdlr train`` on is10 features of ``manifest`` with ``method``, the features in ``store``; the caller adds
    the other arguments (``--out``, ``--no-progress``, ...)."""
    return ["train", "--manifest", str(manifest), "--features", "is10", "--method", method, "--store", str(store)]
