"""The per-worker cache of a job's split and prepared rows (rdlr.sweep.worker_rows) returns what a fresh computation
returns, made once per key, and keeps at most CACHED_TABLES splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.sweep import worker_rows
from rdlr.sweep.worker_rows import CACHED_TABLES, SplitKey, fresh_trial_data, split_rows
from rdlr.train.data import prepare
from tests.helpers.synthetic import synthetic_table


@pytest.fixture(autouse=True)
def empty_cache():
    worker_rows.clear()
    yield
    worker_rows.clear()


def key(held_out: str, table_id: str = "table-1") -> SplitKey:
    return SplitKey(table_id, "out_of_corpus", held_out, split_seed=0, pod_test="all")


def test_cached_rows_equal_a_fresh_computation():
    x, meta = synthetic_table(rows_per_corpus=30, dim=16, unlabeled=12)
    cached = split_rows(x, meta, key("B"))
    assert split_rows(x, meta, key("B")) is cached  # computed once, reused by the next trial
    fresh = fresh_trial_data(x, meta, key("B"))
    for name in ("x", "labels", "corpus", "roles"):
        assert np.array_equal(getattr(cached.data, name), getattr(fresh, name)), name
    for unlabeled in (True, False):
        mine, theirs = cached.get("cpu", unlabeled), prepare(fresh, "cpu", unlabeled=unlabeled)
        assert torch.equal(mine.x, theirs.x) and torch.equal(mine.labels, theirs.labels)
        assert torch.equal(mine.mean, theirs.mean) and torch.equal(mine.std, theirs.std)
        assert mine.blocks == theirs.blocks
        assert all(np.array_equal(mine.roles[role], theirs.roles[role]) for role in theirs.roles)


def test_each_split_and_table_has_its_own_entry_and_the_cache_is_bounded():
    x, meta = synthetic_table(rows_per_corpus=30, dim=16, unlabeled=12)
    first = split_rows(x, meta, key("A"))
    other_table = split_rows(x + 1, meta, key("A", table_id="table-2"))
    assert other_table is not first and not np.array_equal(other_table.data.x, first.data.x)
    assert not np.array_equal(split_rows(x, meta, key("B")).data.roles, first.data.roles)
    assert CACHED_TABLES == 2
    assert split_rows(x, meta, key("A")) is not first  # the least recently used split was dropped
