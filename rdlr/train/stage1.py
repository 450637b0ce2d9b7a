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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rdlr.methods import FIXED_HPARAMS, Method


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
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def _path(self, key: str) -> Path | None:
        return self.cache_dir / f"stage1-{key}.pt" if self.cache_dir is not None else None

    def load(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        return torch.load(path, map_location="cpu", weights_only=True)

    def store(self, key: str, train_logits: torch.Tensor, final: Mapping[str, Any]) -> dict[str, Any]:
        """Write atomically (temp file + rename) so concurrent trials never read a partial file.

        The temporary name ends in ``.tmp``: :mod:`rdlr.sweep.driver`'s node-local mirror skips such files.
        """
        entry = {"train_logits": train_logits.detach().cpu(), "final": dict(final)}
        path = self._path(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(handle)
            torch.save(entry, tmp)
            os.replace(tmp, path)
        return entry
