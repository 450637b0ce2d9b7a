"""The learning-rate drop of Section 3.2 (DESIGN: "lr × 0.1 after 2 epochs without a better validation UA"): the
epochs at which the rate drops, counted against a slow loop written from that rule, for a scripted sequence of
validation UAs and for a real trial's history; and the protocol values TrainConfig refuses."""

from __future__ import annotations

import pytest
import torch

from rdlr.train import TrainConfig, run_trial
from rdlr.train.schedule import PlateauDrop
from tests.helpers.synthetic import synthetic_trial_data


def design_rates(val_uas: list[float], lr: float, patience: int = 2, factor: float = 0.1) -> list[float]:
    """The learning rate each epoch trains with, by DESIGN's rule: after ``patience`` epochs in a row without a
    better validation UA than any before, the rate is multiplied by ``factor``; counting starts again after a drop."""
    rates, best, counted_from = [], float("-inf"), 0  # counted_from: the epoch of the last improvement or drop
    for epoch, val_ua in enumerate(val_uas, start=1):
        rates.append(lr)
        if val_ua > best:
            best, counted_from = val_ua, epoch
        elif epoch - counted_from == patience:
            lr *= factor
            counted_from = epoch
    return rates


def drop_epochs(rates: list[float]) -> list[int]:
    """Epochs after which the rate dropped (the next epoch trained with a smaller one)."""
    return [epoch for epoch, (now, then) in enumerate(zip(rates, rates[1:]), start=1) if then < now]


def test_the_rate_drops_after_two_epochs_without_improvement():
    val_uas = [0.30, 0.40, 0.40, 0.35, 0.50, 0.45, 0.45, 0.45, 0.45, 0.60, 0.60]  # a tie is no improvement
    weights = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([{"params": [weights], "lr": 2e-4}, {"params": [], "lr": 2e-2}])
    schedule = PlateauDrop(optimizer, patience=2, factor=0.1)
    rates, proxy_rates = [], []
    for val_ua in val_uas:
        rates.append(optimizer.param_groups[0]["lr"])
        proxy_rates.append(optimizer.param_groups[1]["lr"])
        schedule.step(val_ua)
    expected = design_rates(val_uas, 2e-4)
    assert drop_epochs(expected) == [4, 7, 9]  # the rule as read: epochs 3-4, 6-7 and 8-9 bring nothing better
    assert rates == pytest.approx(expected, rel=1e-12)
    assert proxy_rates == pytest.approx([100 * rate for rate in expected], rel=1e-12)  # every group drops


@pytest.mark.slow
def test_a_trial_drops_its_rate_where_the_rule_says():
    data = synthetic_trial_data(rows_per_corpus=40)
    config = TrainConfig(max_epochs=16, patience=12)  # a long plateau: several drops before early stopping
    result = run_trial(data, "ce", {"batch_size": 32}, seed=0, config=config)
    rates = [record["lr"] for record in result.history]
    expected = design_rates([record["val_ua"] for record in result.history], config.lr)
    assert len(drop_epochs(expected)) >= 2
    assert drop_epochs(rates) == drop_epochs(expected)
    assert rates == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr_patience": 0}, "lr_patience must be ≥ 1"),
        ({"lr_factor": 1.0}, r"lr_factor must be in \(0, 1\)"),
        ({"lr_factor": 0.0}, r"lr_factor must be in \(0, 1\)"),
    ],
)
def test_train_config_refuses_a_schedule_that_cannot_drop(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)
