"""Stacked copies (benchmarks/support/stacked_copies.py, the experiment of benchmarks/bench_stacked.py) against the
trainer's own epochs: with dropout off, the same initial weights and the same minibatch order, K = 3 copies trained
as one batched network equal 3 trials trained one after another by rdlr.train.loop, to 1e-5 in weights and logits,
for CE (+ LS, class weights) and CE + AE (12).

Both sides train in float64: in float32 a batched and a single matrix product may round differently, and Adam turns
a gradient that is rounding noise (|g| ≫ eps, sign flipped) into a step of ±lr, so float32 equality would depend on
the BLAS; float64 leaves the check to the algorithm (mixed gradients or crossed batch orders differ by > 1e-3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmarks.support.stacked_copies import StackedNetworks, StackedTraining, init_copies, train_stacked
from rdlr.methods import get_method
from rdlr.model import Decoder, EmotionClassifier
from rdlr.train import PreparedRows, TrainConfig, TrialData
from rdlr.train.loop import _build_training, _train_epoch

SEEDS = (3, 4, 5)
EPOCHS = 2
TOLERANCE = 1e-5
CONFIG = TrainConfig()
DIM = 32


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core machine, two spinning threads make these small steps ~10× slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data() -> TrialData:
    """150 training rows (batches of 64: two full and one short per epoch), validation and unlabeled rows."""
    rng = np.random.default_rng(0)
    roles = np.array(["train"] * 150 + ["val"] * 6 + ["unlabeled"] * 40)
    labels = np.where(roles == "unlabeled", -1, rng.integers(4, size=len(roles)))
    x = rng.normal(size=(len(roles), DIM)).astype(np.float32)
    x[labels >= 0, labels[labels >= 0]] += 1.5
    return TrialData(x=x, labels=labels, corpus=np.array(["A"] * len(roles)), roles=roles)


def _dropout_off(module: nn.Module) -> None:
    for child in module.modules():
        if isinstance(child, nn.Dropout):
            child.p = 0.0


def _separate(data: TrialData, method_id: str, hparams: dict) -> list:
    """Each seed trained on its own by the trainer's code (rdlr.train.loop), dropout off, in float64."""
    runs = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        run = _build_training(PreparedRows(data), get_method(method_id), hparams, CONFIG, None)
        _dropout_off(run.objective.double())
        run.prepared.x, run.train_targets = run.prepared.x.double(), run.train_targets.double()
        run.optimizer = torch.optim.Adam(run.objective.param_groups(CONFIG.lr))
        for _ in range(EPOCHS):
            _train_epoch(run, generator, "cpu")
        runs.append(run)
    return runs


def _stacked(separate_run, method_id: str, hparams: dict, formulation: str, seeds=SEEDS) -> StackedNetworks:
    method = get_method(method_id)
    objectives = init_copies(method, hparams, DIM, seeds, CONFIG)
    for objective in objectives:
        _dropout_off(objective.double())
    decoders = [objective.decoder for objective in objectives] if method.uses("ae") else None
    networks = StackedNetworks([objective.classifier for objective in objectives], decoders, formulation)
    prepared = separate_run.prepared
    run = StackedTraining(
        networks=networks,
        optimizer=torch.optim.Adam(networks.parameters(), lr=CONFIG.lr),
        x=prepared.x,
        train_rows=prepared.train,
        targets=separate_run.train_targets,
        generators=[torch.Generator().manual_seed(seed) for seed in seeds],
        batch_size=hparams["batch_size"],
        class_weights=separate_run.class_weights,
        lambda_ae=hparams["lambda_ae"] if method.uses("ae") else None,
        unlabeled_rows=prepared.unlabeled,
        unlabeled_batch_size=hparams["unlabeled_batch_size"],
    )
    history = train_stacked(run, EPOCHS)
    assert len(history) == EPOCHS and history[0].shape == (len(seeds), 2 if method.uses("ae") else 1)
    return networks


def _max_difference(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> float:
    assert first.keys() == second.keys()
    return max(float((first[name] - second[name]).abs().max()) for name in first)


def _logits(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    classifier = EmotionClassifier(DIM).double()
    classifier.load_state_dict(state)
    with torch.no_grad():
        return classifier.eval()(x).logits


CASES = {"ls": {}, "ae": {"lambda_ae": 0.5}}  # ls: CE + LS (9) + class weights; ae: + AE (12) on unlabeled rows


@pytest.fixture(scope="module", params=sorted(CASES))
def trained(request, data):
    method_id = request.param
    hparams = get_method(method_id).resolve_hparams({"batch_size": 64, **CASES[method_id]})
    return method_id, hparams, _separate(data, method_id, hparams)


@pytest.mark.slow
@pytest.mark.parametrize("formulation", ["vmap", "bmm"])
def test_stacked_copies_equal_separate_trials(trained, formulation):
    method_id, hparams, runs = trained
    networks = _stacked(runs[0], method_id, hparams, formulation)
    x = runs[0].prepared.x
    with torch.no_grad():
        stacked_logits, _ = networks.classify(x.expand(len(SEEDS), *x.shape))
    for k, run in enumerate(runs):
        separate_state = run.objective.classifier.state_dict()
        assert _max_difference(networks.classifier_state(k), separate_state) < TOLERANCE
        separate_logits = _logits(separate_state, x)
        assert float((_logits(networks.classifier_state(k), x) - separate_logits).abs().max()) < TOLERANCE
        assert float((stacked_logits[k] - separate_logits).abs().max()) < TOLERANCE
        if run.objective.decoder is not None:
            assert _max_difference(networks.decoder_state(k), run.objective.decoder.state_dict()) < TOLERANCE
            Decoder(1024, DIM).load_state_dict(networks.decoder_state(k))


@pytest.mark.slow
def test_the_tolerance_tells_copies_apart(trained):
    """The check can fail: the trials differ from each other by far more than the tolerance, so a copy trained on
    another copy's minibatch order (here: copy 1 given copy 0's seed for its generator) does not pass."""
    method_id, hparams, runs = trained
    states = [run.objective.classifier.state_dict() for run in runs]
    assert _max_difference(states[0], states[1]) > 100 * TOLERANCE
    crossed = _stacked(runs[0], method_id, hparams, "bmm", seeds=(SEEDS[0], SEEDS[0]))
    assert _max_difference(crossed.classifier_state(1), states[1]) > 100 * TOLERANCE


def test_dropout_masks_differ_between_copies():
    """With dropout on, identical copies given identical rows still see different masks (``randomness='different'``
    of vmap; independent masks per copy in the bmm formulation)."""
    torch.manual_seed(0)
    classifier = EmotionClassifier(DIM)
    x = torch.randn(2, 16, DIM)
    x[1] = x[0]
    for formulation in ("vmap", "bmm"):
        networks = StackedNetworks([classifier, classifier], formulation=formulation)
        logits, _ = networks.classify(x)
        assert not torch.allclose(logits[0], logits[1])
        networks.train(False)
        logits, _ = networks.classify(x)
        assert torch.allclose(logits[0], logits[1])


def test_mismatched_inputs_are_clear_errors():
    classifiers = [EmotionClassifier(DIM) for _ in range(2)]
    with pytest.raises(ValueError, match="formulation"):
        StackedNetworks(classifiers, formulation="loop")
    with pytest.raises(ValueError, match="2 classifiers but 1 decoders"):
        StackedNetworks(classifiers, [Decoder(1024, DIM)])
    networks = StackedNetworks(classifiers)
    with pytest.raises(ValueError, match="no decoder"):
        networks.decode(torch.zeros(2, 3, 1024))
    with pytest.raises(ValueError, match="2 copies but 1 generators"):
        StackedTraining(
            networks,
            torch.optim.Adam(networks.parameters()),
            torch.zeros(4, DIM),
            torch.arange(4),
            torch.zeros(4, 4),
            [torch.Generator()],
            batch_size=2,
        )
