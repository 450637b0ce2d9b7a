"""M against the training rows: steps per epoch, the data-sized default of rdlr train, the sweeps' warning."""

from rdlr.train.batches import data_sized_batch, few_steps_warning, steps_per_epoch


def test_steps_count_the_last_partial_minibatch():
    assert steps_per_epoch(270, 32) == 9 and steps_per_epoch(270, 1024) == 1 and steps_per_epoch(14_044, 4096) == 4


def test_data_sized_batch_keeps_a_default_that_trains_and_shrinks_one_that_does_not():
    assert data_sized_batch(14_000, 1024) == 1024
    assert data_sized_batch(270, 1024) == 32  # EmoDB's training speakers: the README's M 32
    assert data_sized_batch(790, 1024) == 64 and steps_per_epoch(790, 64) >= 8
    assert data_sized_batch(20, 1024) == 8


def test_few_steps_warning_names_rows_m_and_steps():
    line = few_steps_warning("job x", 790, [1024, 2048, 4096])
    assert "790 training rows" in line and "M 1024: 1" in line and "M 4096: 1" in line and "job x" in line
    assert few_steps_warning("job x", 14_044, [1024, 2048, 4096]) is None
