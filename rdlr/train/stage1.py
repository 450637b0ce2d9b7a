"""On-disk cache of what stage 2 of a two-stage method (LR (10), self-KD) takes from its stage-1 (pre-trained) model:
the model's logits on the training rows and its final metrics. The model's weights are not kept.

An entry is identified by the stage-1 model's content: the stage-1 method's components, the hyperparameters it
uses, the seed, the training protocol and a fingerprint of the data. Different methods and trials that need the
same pre-trained model (every γ of an LR method shares one stage-1 model per seed) reuse its entry instead of
training it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rdlr.methods import FIXED_HPARAMS, Method

# Raised when the same settings train a different stage-1 model, so that older entries are no longer hits
# (2: the learning rate drops after lr_patience epochs without improvement, not lr_patience + 1).
TRAINING_REVISION = 2


class Stage1Cache:
    """Stage-1 training-set logits and final metrics stored as ``<cache_dir>/stage1-<key>.pt`` (a local folder);
    no-op (always a miss) without a dir."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

    @staticmethod
    def key(
        method: Method,
        hparams: Mapping[str, Any],
        seed: int,
        protocol: Mapping[str, Any],
        data_fingerprint: str,
    ) -> str:
        """Content key: everything that determines the stage-1 model, nothing that does not (e.g. LR's γ)."""
        used = {name: hparams[name] for name in method.hparam_names()}
        fixed = {name: hparams[name] for name in FIXED_HPARAMS}
        payload = {
            "components": sorted(method.components),
            "hparams": used,
            "fixed": fixed,
            "seed": seed,
            "protocol": dict(protocol),
            "data": data_fingerprint,
            "revision": TRAINING_REVISION,
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def entry_path(self, key: str) -> Path | None:
        """The file of the entry under ``key`` (``None`` without a cache folder)."""
        return self.cache_dir / f"stage1-{key}.pt" if self.cache_dir is not None else None

    def load(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key``, or ``None`` (a miss) when there is none or it cannot be trusted.

        The cache folder is shared storage that other nodes and users write, so the file is read with
        ``weights_only=True`` (tensors and plain containers only; nothing in it is called). A file that cannot be
        read that way, or that is not an entry as :meth:`store` writes it, is a miss with a warning: the stage-1
        model is trained again and its entry replaces the file.
        """
        path = self.entry_path(key)
        if path is None or not path.is_file():
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - a damaged or hostile file may make the reader raise anything
            _warn_ignored(path, f"it cannot be read with torch.load(weights_only=True) ({type(error).__name__})")
            return None
        problem = _entry_problem(entry)
        if problem is not None:
            _warn_ignored(path, problem)
            return None
        return entry

    def store(self, key: str, train_logits: torch.Tensor, final: Mapping[str, Any]) -> dict[str, Any]:
        """Write atomically (temp file + rename) so concurrent trials never read a partial file.

        The temporary name ends in ``.tmp``: :mod:`rdlr.sweep.driver`'s node-local mirror skips such files.
        """
        entry = {"train_logits": train_logits.detach().cpu(), "final": dict(final)}
        path = self.entry_path(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(handle)
            torch.save(entry, tmp)
            os.replace(tmp, path)
        return entry


def _entry_problem(entry: Any) -> str | None:
    """Why ``entry`` is not a stage-1 entry as :meth:`Stage1Cache.store` writes it (``None`` when it is one)."""
    if not isinstance(entry, dict) or set(entry) != {"train_logits", "final"}:
        keys = sorted(map(str, entry)) if isinstance(entry, dict) else type(entry).__name__
        return f"it holds {keys}, not the keys ['final', 'train_logits']"
    logits = entry["train_logits"]
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
        return "its 'train_logits' is not a 2-D floating-point tensor"
    if not isinstance(entry["final"], dict):
        return "its 'final' metrics are not a dict"
    return None


def _warn_ignored(path: Path, reason: str) -> None:
    warnings.warn(
        f"ignoring stage-1 cache entry {path}: {reason}; training the stage-1 model again and replacing the file",
        RuntimeWarning,
        stacklevel=3,
    )
