"""z-normalisation (Section 3.2): training statistics with a std floor relative to the typical std, so held-out
z-scores stay bounded where a dimension is (nearly) constant on the training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from rdlr.train.data import TrialData, normalisation_statistics, prepare
from rdlr.train.statistics import RELATIVE_STD_FLOOR


def near_constant_data(seed: int = 0) -> TrialData:
    """30 dimensions of unit scale, 6 (nearly) constant on the training rows (std 0 or 1e-6) that vary by 1e-3 on
    the held-out corpus: 1000 training stds, but a thousandth of the typical std."""
    rng = np.random.default_rng(seed)
    n_train, n_val, n_test = 200, 40, 100
    n = n_train + n_val + n_test
    x = rng.normal(size=(n, 36))
    x[:, 30:33] = 5.0 + 1e-6 * rng.normal(size=(n, 3))
    x[:, 33:] = 2.0
    x[n_train + n_val :, 30:] += 1e-3 * rng.choice([-1.0, 1.0], size=(n_test, 6))
    roles = np.array(["train"] * n_train + ["val"] * n_val + ["test"] * n_test)
    meta = pd.DataFrame({"corpus": np.where(roles == "test", "held-out", "seen"), "label": "happy"})
    return TrialData.from_table(x.astype(np.float32), meta, roles)


def test_held_out_z_scores_stay_bounded_with_near_constant_training_dims():
    data = near_constant_data()
    prepared = prepare(data, "cpu")
    test = torch.as_tensor(data.indices("test"))
    assert float(prepared.x[test].abs().max()) < 10.0
    train = torch.as_tensor(data.x[data.indices("train")])
    old_std = train.std(dim=0).clamp_min(1e-8)  # the former absolute floor
    old_z = (torch.as_tensor(data.x[data.indices("test")]) - train.mean(dim=0)) / old_std
    assert float(old_z.abs().max()) > 100.0


def test_the_floor_leaves_typical_dimensions_untouched():
    data = near_constant_data()
    train = torch.as_tensor(data.x[data.indices("train")])
    mean, std = normalisation_statistics(train)
    raw = train.std(dim=0)
    floor = RELATIVE_STD_FLOOR * raw[raw > 0].median()
    torch.testing.assert_close(mean, train.mean(dim=0))
    assert torch.equal(std[:30], raw[:30])  # unit-scale dimensions keep their std
    torch.testing.assert_close(std[30:], floor.expand(6))  # (nearly) constant ones get the floor
    assert float(floor) > 1e-4


def test_all_constant_training_rows_give_a_finite_normalisation():
    mean, std = normalisation_statistics(torch.full((5, 3), 7.0))
    assert torch.equal(mean, torch.full((3,), 7.0)) and torch.equal(std, torch.full((3,), RELATIVE_STD_FLOOR))
