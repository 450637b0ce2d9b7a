"""What a trial worker computes once and reuses: a job's rows, split and prepared for training.

Every trial of a job splits the same feature table the same way (the roles of Section 3.1 depend on the protocol,
the held-out corpus, the split seed and ``pod_test``, not on the hyperparameters or the seed), so a worker process
keeps the :class:`rdlr.train.PreparedRows` of the last :data:`CACHED_TABLES` splits it made: roles, the trial's
rows and their z-normalisation are computed by the first trial and reused by every later trial the worker runs
(Tune reuses a trial's actor for the next trial of its Tuner: ``reuse_actors``). On a GPU the prepared rows stay
on the device between trials.

The table is identified by ``table_id``, the id of its object in Ray's object store (immutable), so two sweeps, or
two feature sets, never share an entry by accident.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pandas as pd

from rdlr.corpora import assign_roles
from rdlr.labels import DEFAULT, LabelSet
from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.train import PreparedRows, TrialData

CACHED_TABLES = 2  # splits kept per worker process (a worker serves one job: one split; a spare for safety)


class SplitKey(NamedTuple):
    """What a trial's rows depend on: the table, how it is split and how it is normalised."""

    table_id: str
    protocol: str
    held_out: str
    split_seed: int
    pod_test: str
    normalization: str = DEFAULT_NORMALIZATION


_cache: OrderedDict[SplitKey, PreparedRows] = OrderedDict()


def split_rows(x: np.ndarray, meta: pd.DataFrame, key: SplitKey, labels: LabelSet = DEFAULT) -> PreparedRows:
    """The rows of ``x`` split by ``key`` (:func:`rdlr.corpora.assign_roles`), as this process made them before
    when it did (least recently used splits beyond :data:`CACHED_TABLES` are dropped)."""
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    rows = PreparedRows(fresh_trial_data(x, meta, key, labels))
    _cache[key] = rows
    while len(_cache) > CACHED_TABLES:
        _cache.popitem(last=False)
    return rows


def fresh_trial_data(x: np.ndarray, meta: pd.DataFrame, key: SplitKey, labels: LabelSet = DEFAULT) -> TrialData:
    """The trial data of ``key`` computed anew (what :func:`split_rows` caches)."""
    roles = assign_roles(meta, key.protocol, key.held_out, seed=key.split_seed, pod_test=key.pod_test)
    return TrialData.from_table(x, meta, roles, labels, normalization=key.normalization)


def clear() -> None:
    """Forget every cached split (tests)."""
    _cache.clear()
