"""What every feature extractor is: a small configured object that turns a batch of utterances into vectors.

An extractor is built in the driver (cheap: config only) and ``setup`` is called once per Ray actor to load
models there. Its ``config_hash`` is part of the feature store's cache key, so changing any setting re-extracts.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np


class UtteranceError(Exception):
    """An utterance that cannot be turned into features (corrupt, empty, too short, silent, unsupported).

    The pipeline records ``str(error)`` as the reason in the errors table and carries on.
    """


@dataclass(frozen=True)
class ExtractorConfig:
    """Base for extractor settings; subclasses add fields. Everything here goes into the cache key."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self) -> str:
        payload = json.dumps({"type": type(self).__name__, **self.to_dict()}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class Extracted:
    """One utterance's outcome: a float32 ``vector`` of length ``dim``, or an ``error`` reason.

    ``extras`` carries string provenance stored beside the vector (e.g. ``transcript``, ``asr_model``).
    """

    vector: np.ndarray | None = None
    error: str | None = None
    extras: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Output:
    """One feature set in an extractor's vectors: its store ``name``, its own ``config`` (the store's cache key
    of that feature set) and ``part``, which of the extractor's equal-width slices of each vector holds it."""

    name: str
    config: ExtractorConfig
    part: int = 0


class Extractor(ABC):
    """A feature extractor: ``name`` (feature-set name in the store), ``dim``, ``config``.

    ``extract`` takes utterance records (dicts with at least ``utt_id`` and ``path``, plus ``transcript``
    where the manifest has one) and returns one :class:`Extracted` per record, in order. Per-utterance
    failures are returned, never raised, so one bad file cannot stop a batch.
    """

    name: ClassVar[str]
    gpu_capable: ClassVar[bool] = True  # False: no model on a device (openSMILE); its actors never ask for a GPU
    layered: ClassVar[bool] = False  # True: an encoder by layer, whose outputs() name their own feature sets
    dim: int
    config: ExtractorConfig

    def outputs(self) -> list[Output]:
        """The feature sets this extractor's vectors hold, each with its own config: the whole vector as feature
        set ``name`` for most; an encoder asked for several layers returns one per layer, and its vectors are the
        layers' vectors concatenated in ``part`` order (:mod:`rdlr.features.layers`)."""
        return [Output(self.name, self.config)]

    def check_models(self) -> None:  # noqa: B027 (a hook: extractors without a model need nothing)
        """Raise ``FileNotFoundError`` (one line naming the path) when a model file that :meth:`setup` loads is
        not on this machine; nothing is loaded. Called in the driver before Ray starts; no model: nothing to do."""

    def setup(self, device: str = "cpu") -> None:  # noqa: B027 (a hook: extractors without a model load nothing)
        """Load models onto ``device``; called once per worker before the first batch."""

    @abstractmethod
    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        """Features for each record of ``batch``, in order."""
