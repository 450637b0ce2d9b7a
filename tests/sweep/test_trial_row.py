"""A trial's results row carries UA, macro-F1 and per-class recall (None for a class without rows), the results
table orders those columns, and the spec's ``training.pod_test`` reaches the trial's split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from rdlr.labels import CLASSES
from rdlr.results import results_frame
from rdlr.sweep.trial import TrialContext, metric_columns, train_config, worker_rows


def test_metric_columns_keep_ua_f1_and_recall_and_turn_nan_into_none():
    final = {
        "val_ua": 0.5,
        "val_ua/A": 0.4,
        "val_f1": 0.45,
        "test_ua": 0.6,
        "test_ua/D": 0.6,
        "test_f1": 0.55,
        **{f"val_recall/{name}": 0.5 for name in CLASSES},
        "test_recall/neutral": 0.7,
        "test_recall/happy": 0.5,
        "test_recall/sad": float("nan"),
        "test_recall/angry": np.float64(0.6),
        "test_wa": 0.61,
        "confusion": [[1]],
        "epochs": 4,
        "best_epoch": 2,
    }
    columns = metric_columns(final)
    assert set(columns) == set(final) - {"test_wa", "confusion", "epochs", "best_epoch"}
    assert columns["test_recall/sad"] is None and columns["test_recall/angry"] == 0.6
    assert all(value is None or type(value) is float for value in columns.values())
    json.dumps(columns, allow_nan=False)  # the row is written as JSON: no NaN


def test_results_table_orders_f1_and_recall_after_ua():
    row = {
        "spec_id": "s",
        "protocol": "out_of_corpus",
        "features": "is10",
        "method": "ce",
        "held_out": "D",
        "seed": 0,
        "config_id": "c",
        "hparams": "{}",
        "val_ua": 0.5,
        "val_ua/A": 0.5,
        "test_ua": 0.6,
        "test_ua/D": 0.6,
        "test_wa": 0.6,
        "epochs": 3,
        "extra": 1,
        **metric_columns(
            {
                "val_f1": 0.4,
                "test_f1": 0.5,
                **{f"test_recall/{c}": 0.5 for c in reversed(CLASSES)},
                **{f"val_recall/{c}": 0.5 for c in CLASSES},
            }
        ),
    }
    columns = list(results_frame([row]).columns)
    start = columns.index("test_ua/D") + 1
    expected = ["val_f1", "test_f1", *(f"val_recall/{c}" for c in CLASSES), *(f"test_recall/{c}" for c in CLASSES)]
    assert columns[start : start + len(expected)] == expected
    assert columns[start + len(expected) :] == ["test_wa", "epochs", "extra"]


def test_pod_test_of_the_spec_reaches_the_trials_split():
    pod = [("POD", f"p{k}", "happy", partition) for k, partition in enumerate(["train", "val", "test"] * 4)]
    others = [("A", f"a{k % 5}", CLASSES[k % 4], "") for k in range(20)]
    meta = pd.DataFrame(pod + others, columns=["corpus", "speaker", "label", "partition"])
    x = np.zeros((len(meta), 3), dtype=np.float32)
    constants = {"protocol": "out_of_corpus", "held_out": "POD", "method": "ce"}
    tested = {}
    for choice in ("all", "test_partition"):
        context = TrialContext(
            "s", "is10", (0,), 0, {"pod_test": choice}, "cpu", torch.get_num_threads(), "/tmp", table_id="table"
        )
        data = worker_rows(x, meta, context, constants).data
        assert train_config(context).pod_test == choice
        tested[choice] = int((data.roles == "test").sum())
    assert tested == {"all": 12, "test_partition": 4}
