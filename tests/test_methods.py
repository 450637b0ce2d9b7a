"""The method registry: every table row is registered, composes, trains (two optimiser steps), searches the
hyperparameters of its own components (baselines included), and each searched value reaches the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.features.is10 import IS10Extractor
from rdlr.labels import NUM_CLASSES
from rdlr.methods import (
    FIXED_HPARAMS,
    HPARAM_COMPONENT,
    SEARCH_SPACE,
    TABLE3_METHODS,
    Method,
    get_method,
    list_methods,
    parse_components,
)
from rdlr.models import ModelCard
from rdlr.models.card import model_card
from rdlr.models.extractors import spec_of
from rdlr.train.objective import Objective, training_targets

PAPER_SETS = {
    "batch_size": [1024, 2048, 4096],
    "gamma": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
    "lambda_w": [1, 2, 3, 4],
    "lambda_rd": [0.1, 0.01, 0.001],
    "lambda_ae": [0.5, 0.1, 0.01, 0.001],
}


def test_registry_holds_the_25_out_of_corpus_rows_of_table2():
    ids = list_methods()
    assert len(ids) == 25 and len(set(ids)) == 25
    assert get_method("rdlr_cww_dagger").label == "RDLR + CWW + † (proposed)"
    assert get_method("ce").label == "Out-of-corpus (CE)"
    assert set(TABLE3_METHODS) <= set(ids)


def test_proposed_method_is_loss_11():
    method = get_method("rdlr_cww_dagger")
    assert method.components == {"ce", "cw", "cww", "rd", "lr", "ae", "ls", "pel"}
    assert method.two_stage and method.needs_unlabeled
    assert method.stage1().components == get_method("rd_cww_dagger").components


@pytest.mark.parametrize("method_id", ["lr", "ls_lr", "lr_cww_dagger", "rdlr_dagger", "rdlr_cww_dagger"])
def test_stage1_choice_proposed_is_the_proposed_system_without_lr(method_id):
    method = get_method(method_id)
    proposed = get_method("rd_cww_dagger").components
    assert method.stage1("proposed").components == proposed
    assert method.stage1("same_method").components == method.components - {"lr"}
    assert method.needs_unlabeled_with_stage1("proposed")
    assert method.needs_unlabeled_with_stage1() == method.needs_unlabeled
    assert get_method("self_kd").stage1("proposed").components == {"ce", "cw"}  # self-KD's stays plain CE
    with pytest.raises(ValueError, match="stage-1 choice must be one of same_method, proposed"):
        method.stage1("other")


def test_search_space_uses_the_papers_sets_for_the_methods_own_hyperparameters():
    space = get_method("rdlr_cww_dagger").search_space()
    assert space == {key: PAPER_SETS[key] for key in ("batch_size", "gamma", "lambda_w", "lambda_rd", "lambda_ae")}
    assert get_method("ce").search_space() == {"batch_size": PAPER_SETS["batch_size"]}
    assert get_method("ce").search_space({"batch_size": [64]}) == {"batch_size": [64]}
    for key, values in PAPER_SETS.items():
        assert list(SEARCH_SPACE[key]) == values


def test_composition_strings_build_methods():
    assert get_method("rd+lr+cww+ae+ls+pel").components == {"ce", "rd", "lr", "cww", "ae", "ls", "pel"}
    assert parse_components("rdlr+dagger") == {"ce", "rd", "lr", "ae", "ls", "pel"}
    assert get_method("focal+cw").components == {"focal", "cw"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rdrl", r"unknown method 'rdrl'; valid ids: ce, soft"),
        ("rd+bogus", r"unknown component 'bogus'.*valid: ce, cw"),
        ("ls+unigram", r"both 'ls' and 'unigram'"),
        ("ce+focal", r"both 'ce' and 'focal'"),
        ("self_kd+lr", r"'self_kd' takes its targets"),
    ],
)
def test_bad_method_names_fail_with_the_valid_choices(name, message):
    with pytest.raises(ValueError, match=message):
        get_method(name)


def test_unknown_hyperparameter_is_rejected():
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['lambda_xx'\]"):
        get_method("rd").resolve_hparams({"lambda_xx": 1})
    with pytest.raises(ValueError, match="no stage 1"):
        get_method("ce").stage1()


@pytest.mark.parametrize("method_id", list_methods())
def test_every_method_trains_two_steps_with_finite_loss_and_gradients(method_id):
    torch.manual_seed(0)
    method: Method = get_method(method_id)
    hparams = method.resolve_hparams({"batch_size": 16})
    dim, batch = 12, 16
    x = torch.randn(batch, dim)
    labels = torch.arange(batch) % NUM_CLASSES
    votes = torch.rand(batch, NUM_CLASSES) * 3
    stage1 = torch.randn(batch, NUM_CLASSES) if method.two_stage else None
    target = training_targets(method, hparams, labels, votes, stage1)
    objective = Objective(method, hparams, dim, ae_on_unlabeled=True)
    optimizer = torch.optim.Adam(objective.parameters(), lr=2e-4)
    for _ in range(2):
        terms = objective(x, target, labels, torch.ones(NUM_CLASSES), torch.rand(batch) + 0.5, torch.randn(8, dim))
        loss = torch.stack(list(terms.values())).sum()
        optimizer.zero_grad()
        loss.backward()
        assert torch.isfinite(loss)
        for name, parameter in objective.named_parameters():
            assert parameter.grad is not None, f"{method_id}: {name} got no gradient"
            assert torch.isfinite(parameter.grad).all(), f"{method_id}: {name} has a non-finite gradient"
        optimizer.step()
    expected_terms = {"focal" if method.uses("focal") else "ce"} | (
        method.components & {"rd", "ae", "pel", "proxy_anchor", "contrastive"}
    )
    assert set(terms) == expected_terms


BASELINE_HPARAMS = {
    "focal": {"focusing"},
    "proxy_anchor": {"pa_alpha", "pa_delta", "lambda_pa"},
    "contrastive": {"margin", "lambda_contrastive"},
    "unigram": {"unigram_gamma"},
    "cww": {"lambda_w"},
    "ae": {"lambda_ae"},
}


@pytest.mark.parametrize("method_id", list_methods())
def test_every_method_searches_the_hyperparameters_of_its_components(method_id):
    method = get_method(method_id)
    space = method.search_space()
    expected = {"batch_size"} | {name for name, comp in HPARAM_COMPONENT.items() if method.uses(str(comp))}
    assert set(space) == expected
    assert all(space[name] == list(SEARCH_SPACE[name]) and len(space[name]) >= 2 for name in space)
    if method_id in BASELINE_HPARAMS:  # a baseline row searches its own hyperparameter, not only M
        assert BASELINE_HPARAMS[method_id] <= set(space)
    assert not set(space) & set(FIXED_HPARAMS)  # the paper's fixed values (LS 0.1, λ_PEL, RD's α and δ) stay fixed
    assert "ls_gamma" not in space and FIXED_HPARAMS["ls_gamma"] == 0.1


@torch.no_grad()
def _objective_loss(method: Method, hparams: dict, seed: int = 0) -> float:
    """The summed loss terms of a freshly initialised objective on a fixed batch (random stage-1 logits)."""
    torch.manual_seed(seed)
    dim, batch = 12, 16
    x, labels = torch.randn(batch, dim), torch.arange(batch) % NUM_CLASSES
    stage1 = torch.randn(batch, NUM_CLASSES) if method.two_stage else None
    target = training_targets(method, hparams, labels, torch.rand(batch, NUM_CLASSES) * 3, stage1)
    objective = Objective(method, hparams, dim, ae_on_unlabeled=True)
    objective.eval()  # no dropout: only the hyperparameter differs between two calls
    terms = objective(x, target, labels, torch.ones(NUM_CLASSES), None, torch.randn(8, dim))
    return float(torch.stack(list(terms.values())).sum())


# Each searched hyperparameter on the first table row that uses it. λ_W reaches the corpus weights (6) between
# epochs (tests/train/test_loop.py), M the minibatch size.
FIRST_USER = {
    name: next(method_id for method_id in list_methods() if name in get_method(method_id).search_space())
    for name in SEARCH_SPACE
    if name not in ("batch_size", "lambda_w")
}


@pytest.mark.parametrize(("name", "method_id"), sorted(FIRST_USER.items()))
def test_each_searched_hyperparameter_reaches_the_loss(name, method_id):
    method = get_method(method_id)
    low, high = min(SEARCH_SPACE[name]), max(SEARCH_SPACE[name])
    losses = [_objective_loss(method, method.resolve_hparams({"batch_size": 16, name: value})) for value in (low, high)]
    assert losses[0] != pytest.approx(losses[1], rel=1e-6), f"{method_id}: {name} does not change the loss"


def test_a_method_lists_only_the_hyperparameters_it_uses_and_the_card_shows_its_classes_beside_them() -> None:
    ce, cww_rd = get_method("ce"), get_method("cww_rd")
    assert ce.used_hparams(ce.resolve_hparams({"batch_size": 32})) == {"batch_size": 32}
    assert cww_rd.used_hparams(cww_rd.resolve_hparams()) == {
        "batch_size": 1024,
        "lambda_w": 2,
        "lambda_rd": 0.01,
        "rd_alpha": 1.0,
        "rd_delta": 0.0,
    }
    pel = get_method("pel").used_hparams(get_method("pel").resolve_hparams())
    assert set(pel) == {"batch_size", "lambda_pel", "unlabeled_batch_size"}
    card = ModelCard(
        classes=("low", "high"),
        label_map={"*": {"sad": "low", "angry": "high"}},
        features=(spec_of("is10", IS10Extractor(), 1582),),
        feature_mean=np.zeros(1582, np.float32),
        feature_std=np.ones(1582, np.float32),
        method={"id": "ce", "label": "CE", "components": ["ce"]},
        hparams=ce.used_hparams(ce.resolve_hparams({"batch_size": 32})),
        seed=0,
        training={},
        metrics={"val_ua": 0.5},
    )
    text = model_card(card.to_json("0" * 64))
    table = text.split("| hyperparameter | value |", 1)[1].split("##", 1)[0]
    assert "batch_size" in table and "lambda" not in table and "gamma" not in table
    assert "Classes (output order): low, high; label map: " in text.split("| hyperparameter", 1)[0]
