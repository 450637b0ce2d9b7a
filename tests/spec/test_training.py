"""The spec's training section reaches the options of the paper's ambiguous readings (TrainConfig), a stage-1
model that needs unlabeled speech is caught before Ray starts, and the baselines' own search sets can be
overridden and are checked."""

from __future__ import annotations

import copy

import pytest

from rdlr.spec.core import SpecError, SweepSpec
from rdlr.train import TrainConfig
from tests.helpers.specs import demo_raw

MINIMAL = demo_raw("mini", protocols={"out_of_corpus": ["ce", "lr"]})


def build(**sections: object) -> SweepSpec:
    return SweepSpec.from_dict({**copy.deepcopy(MINIMAL), **sections})


def test_training_options_reach_the_train_config() -> None:
    options = {
        "ae_reduction": "sum",
        "proxy_lr_factor": 10,
        "lr_stage1": "same_method",
        "lr_on_smoothed": "replace",
        "pod_test": "test_partition",
    }
    spec = build(training=options)
    config = TrainConfig(**spec.training)
    assert (config.ae_reduction, config.proxy_lr_factor, config.lr_on_smoothed, config.pod_test) == (
        "sum",
        10,
        "replace",
        "test_partition",
    )
    assert TrainConfig().ae_reduction == "mean" and TrainConfig().proxy_lr_factor == 100.0
    assert (TrainConfig().lr_stage1, TrainConfig().lr_on_smoothed, TrainConfig().pod_test) == (
        "same_method",
        "smooth_again",
        "all",
    )


@pytest.mark.parametrize(
    ("training", "match"),
    [
        ({"ae_reduction": "none"}, r"training: ae_reduction must be one of 'mean', 'sum', got 'none'"),
        ({"lr_stage1": "ce"}, r"training: lr_stage1 must be one of 'same_method', 'proposed'"),
        ({"lr_on_smoothed": "twice"}, r"training: lr_on_smoothed must be one of 'smooth_again', 'replace'"),
        ({"pod_test": "half"}, r"training: pod_test must be one of 'all', 'test_partition'"),
        ({"proxy_lr_factor": 0}, r"training: proxy_lr_factor must be > 0"),
        ({"proxy_lr_factor": "big"}, r"training.proxy_lr_factor: expected float \(default 100.0\)"),
    ],
)
def test_bad_training_options_name_the_valid_choices(training: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        build(training=training)


def test_a_proposed_stage1_needs_the_unlabeled_corpus() -> None:
    assert build(training={"lr_stage1": "proposed"}, unlabeled="LIB-demo").training["lr_stage1"] == "proposed"
    build()  # LR's own stage 1 (CE) needs no unlabeled speech
    with pytest.raises(SpecError, match=r"method 'lr' uses AE \(12\) / PEL \(13\) \(itself or in its stage-1 model\)"):
        build(training={"lr_stage1": "proposed"})


def test_baseline_search_sets_can_be_overridden_and_are_checked() -> None:
    spec = build(
        protocols={"out_of_corpus": ["focal", "unigram"]},
        search={"space": {"focusing": [1, 3], "unigram_gamma": [0.2]}},
    )
    spaces = {job.method: job.space for job in spec.jobs()}
    assert spaces["focal"]["focusing"] == [1, 3] and spaces["unigram"]["unigram_gamma"] == [0.2]
    with pytest.raises(SpecError, match=r"search.space.unigram_gamma: unigram smoothing's γ must be in \[0, 1\]"):
        build(search={"space": {"unigram_gamma": [1.5]}})
