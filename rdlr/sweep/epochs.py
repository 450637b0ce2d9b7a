"""Epochs per model for the plan's cost model: what finished sweeps of similar size measured, else an estimate.

A model trains until its mean validation UA has not improved for ``patience`` epochs, at most ``max_epochs``
(Section 3.2): its best epoch + ``patience`` epochs. The best epoch measured so far hardly moves with the training
rows: the rehearsal's paper-size trials (``benchmarks/bench_scale.py``: 14 and 4 steps per epoch, best epochs
6-8), EmoDB within-corpus (13 steps: 7-10) and the demo's two-stage row (12 steps: 7-15 under its max_epochs 15).
So the estimate (:func:`estimate`) takes :data:`BEST_EPOCH`, later when an epoch has fewer than :data:`FEW_STEPS`
steps (the same number of steps as :data:`BEST_EPOCH` epochs of :data:`FEW_STEPS` steps), plus ``patience``, at most
``max_epochs``.

Finished sweeps (``<storage>/<spec id>/results.csv``, :func:`finished_models`) give measured epochs instead: the
models of the same job first, else models of the same kind (with or without the AE decoder of (12)) whose epochs
had a number of steps within a factor :data:`SIMILAR` of this job's, trained under the same ``patience``; their
median, at most ``max_epochs``. Models stopped by a smaller ``max_epochs`` of their own only bound the epochs from
below and are left out.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rdlr.io.storage import Storage
from rdlr.methods import get_method
from rdlr.results import GROUP_KEYS, NORMALIZATION, SPEC_FILE, normalization_of
from rdlr.train.batches import steps_per_epoch
from rdlr.train.config import TrainConfig

BEST_EPOCH = 7
FEW_STEPS = 4
SIMILAR = 2.0

JobKey = tuple[str, ...]  # the values of rdlr.results.GROUP_KEYS: job_key (a Job), row_key (a results row)


def job_key(job: Any) -> JobKey:
    """A job's :data:`rdlr.results.GROUP_KEYS` values (feature set, normalisation, protocol, method, held out)."""
    return tuple(str(getattr(job, key)) for key in GROUP_KEYS)


def row_key(row: Mapping[str, Any]) -> JobKey:
    """The job of a results row (a row without a normalisation has the paper's)."""
    return tuple(normalization_of(row) if key == NORMALIZATION else str(row[key]) for key in GROUP_KEYS)


def estimate(train_rows: int, batch: int, max_epochs: int, patience: int) -> float:
    """Epochs of one model when no finished sweep says: best epoch :data:`BEST_EPOCH` (later with fewer than
    :data:`FEW_STEPS` steps per epoch) + ``patience``, at most ``max_epochs``."""
    steps = max(1, steps_per_epoch(train_rows, batch))
    best = max(BEST_EPOCH, math.ceil(BEST_EPOCH * FEW_STEPS / steps))
    return float(min(max_epochs, best + patience))


@dataclass(frozen=True)
class FinishedModel:
    """One model of an earlier sweep: its spec and job, its method's kind, steps per epoch and epochs (its stage-1
    model's too, for a two-stage method), and the ``max_epochs`` and ``patience`` it trained under."""

    spec_id: str
    job: JobKey
    kind: str
    steps: int
    epochs: int
    max_epochs: int
    patience: int
    stage1_epochs: int | None = None


@dataclass(frozen=True)
class Epochs:
    """The epochs the plan assumes per model (:meth:`__call__`), from ``finished`` models where there are any."""

    finished: tuple[FinishedModel, ...] = ()

    def __call__(
        self,
        spec_id: str,
        job: JobKey,
        kind: str,
        train_rows: int,
        batch: int,
        training: TrainConfig,
        stage1: bool = False,
    ) -> tuple[float, str]:
        """(epochs, where from) of one model of ``job`` (``kind``: of the model trained), or of its stage-1 model
        with ``stage1``: ``"same job"``, ``"similar models"`` or ``"estimated"`` (:func:`estimate`)."""
        steps = max(1, steps_per_epoch(train_rows, batch))
        usable = [m for m in self.finished if m.patience == training.patience
                  and (m.max_epochs >= training.max_epochs or m.epochs < m.max_epochs)]  # fmt: skip
        same = [m.stage1_epochs if stage1 else m.epochs for m in usable if (m.spec_id, m.job) == (spec_id, job)]
        similar = [m.epochs for m in usable if m.kind == kind and 1 / SIMILAR <= m.steps / steps <= SIMILAR]
        for values, source in ((same, "same job"), (similar, "similar models")):
            values = [v for v in values if v is not None]
            if values:
                return float(min(training.max_epochs, statistics.median(values))), source
        return estimate(train_rows, batch, training.max_epochs, training.patience), "estimated"

    def describe(self) -> str:
        """Where measured epochs come from, in words."""
        specs = sorted({m.spec_id for m in self.finished})
        return f"{len(self.finished)} finished models of {', '.join(specs)}" if specs else "no finished sweep"


def finished_models(storage: str | None, log: Any = lambda line: None) -> tuple[FinishedModel, ...]:
    """Every finished model under ``storage`` (``<spec id>/results.csv`` beside its ``spec.yaml``) whose row says
    how many training rows it had (``train_rows``, written since issue 29); a folder that cannot be read is
    skipped with a line to ``log``."""
    if storage is None:
        return ()
    root = Storage(storage)
    if root.is_local and not root.exists():
        return ()
    models: list[FinishedModel] = []
    for spec_id in _spec_folders(root):
        folder = root.child(spec_id)
        try:
            models += _models_of(spec_id, folder)
        except (OSError, ValueError, KeyError, TypeError) as error:
            log(f"plan: epochs of {folder.uri} not read ({error})")
    return tuple(models)


def _spec_folders(root: Storage) -> list[str]:
    import pyarrow.fs as pafs

    infos = root.fs.get_file_info(pafs.FileSelector(root.root, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory and not i.base_name.startswith("."))


def _models_of(spec_id: str, folder: Storage) -> list[FinishedModel]:
    """The finished models of one spec folder: the rows of ``results.csv`` and those written since (``trials/``,
    :meth:`rdlr.sweep.files.SweepFiles.load_rows`) that record their training rows."""
    from rdlr.io.safe_text import MAX_BYTES, parse_yaml
    from rdlr.sweep.files import SweepFiles

    if not folder.exists(SPEC_FILE):
        return []
    spec = parse_yaml(folder.read(SPEC_FILE, limit=MAX_BYTES + 1), f"{folder.uri}/{SPEC_FILE}") or {}
    training = TrainConfig(**{k: v for k, v in (spec.get("training") or {}).items()
                              if k in ("max_epochs", "patience")})  # fmt: skip
    models = []
    for row in SweepFiles(folder.uri.rsplit("/", 1)[0], spec_id).load_rows().values():
        method = _known_method(str(row.get("method")))
        if method is None or row.get("train_rows") is None or row.get("epochs") is None:
            continue
        batch = int(json.loads(row["hparams"]).get("batch_size", 0)) if row.get("hparams") else 0
        stage1 = row.get("stage1_epochs")
        models.append(FinishedModel(
            spec_id, row_key(row),
            "ae" if method.uses("ae") else "plain", max(1, steps_per_epoch(int(row["train_rows"]), batch or 1)),
            int(row["epochs"]), training.max_epochs, training.patience,
            None if stage1 is None or stage1 != stage1 else int(stage1),
        ))  # fmt: skip
    return models


def _known_method(method_id: str) -> Any:
    try:
        return get_method(method_id)
    except (KeyError, ValueError):
        return None
