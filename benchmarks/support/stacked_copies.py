"""Several seeds or configurations of one job trained in one process as one batched network (an experiment).

K copies of the classifier F of Section 3.2 (and of the decoder H of the AE loss (12)) are stacked along a leading
dimension (:func:`torch.func.stack_module_state`) and trained by one Adam over the stacked parameters. Adam is
element-wise, so with one learning rate each copy's update is exactly the one its own Adam would make; the loss is
the sum over copies of each copy's own loss (11), so no gradient crosses copies. Each copy draws its own minibatch
order and unlabeled rows from its own generator, in the order :mod:`rdlr.train.loop` draws them, and
:func:`init_copies` seeds each copy's weights as :func:`rdlr.train.run_trial` does: copy k with seed s sees the same
initial weights and rows as the trial of seed s (dropout masks differ).

Two formulations of the batched forward pass compute the same thing: ``vmap`` (:func:`torch.func.functional_call`
of the modules under :func:`torch.vmap`) and ``bmm`` (each linear layer as one :func:`torch.baddbmm`).
Not covered: per-copy learning-rate schedules and early stopping of the full protocol (Section 3.2).

Not adopted by the trainer (issue 11, measured on an H200 with bench_stacked.py): 4 stacked copies train 3.3× (CE)
and 2.3× (CE + AE) as fast as one trial at M = 1024, but 4 trials sharing the GPU as separate processes (Ray's
fractional GPUs, what the specs ask for) already do 4.1×, and 8 do 6.5×; and in float32 the copies drift from their
separate trials by ~1e-3 after one epoch (Adam turns rounding differences of the batched products into ±lr steps),
so "equal in results" holds in float64 only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state

from rdlr import losses
from rdlr.methods import Method
from rdlr.model import ENCODER_DEPTH, Decoder, EmotionClassifier
from rdlr.train.config import TrainConfig
from rdlr.train.objective import Objective

FORMULATIONS: tuple[str, ...] = ("vmap", "bmm")
Batched = Callable[[dict[str, torch.Tensor], torch.Tensor], Any]


def init_copies(
    method: Method,
    hparams: Mapping[str, Any],
    input_dim: int,
    seeds: Sequence[int],
    config: TrainConfig = TrainConfig(),
) -> list[Objective]:
    """One freshly initialised objective (11) per seed, drawn as :func:`rdlr.train.run_trial` draws it (torch's
    global generator seeded with the seed, then the networks built in the same order)."""
    objectives = []
    for seed in seeds:
        torch.manual_seed(seed)
        objectives.append(
            Objective(method, hparams, input_dim, config.ae_on_unlabeled, config.ae_reduction, config.proxy_lr_factor)
        )
    return objectives


def _linear_layers(module: nn.Module) -> list[str]:
    """The names of ``module``'s linear layers in the order the forward pass applies them."""
    return [name for name, child in module.named_modules() if isinstance(child, nn.Linear)]


def _dropout_rate(module: nn.Module) -> float:
    rates = {child.p for child in module.modules() if isinstance(child, nn.Dropout)}
    if len(rates) > 1:
        raise ValueError(f"the stacked forward pass needs one dropout rate in the classifier, got {sorted(rates)}")
    return rates.pop() if rates else 0.0


class StackedNetworks:
    """K copies of F (and of H when ``decoders`` are given) as stacked parameters, leaves of shape (K, ...).

    ``params`` maps ``classifier.<name>`` and ``decoder.<name>`` to the stacked tensors; :meth:`classify` and
    :meth:`decode` take (K, R, ·) inputs, copy k's rows through copy k's weights."""

    def __init__(
        self,
        classifiers: Sequence[EmotionClassifier],
        decoders: Sequence[Decoder] | None = None,
        formulation: str = "vmap",
    ) -> None:
        if formulation not in FORMULATIONS:
            raise ValueError(f"formulation must be one of {', '.join(FORMULATIONS)}, got {formulation!r}")
        if decoders is not None and len(decoders) != len(classifiers):
            raise ValueError(f"{len(classifiers)} classifiers but {len(decoders)} decoders: give one per copy")
        self.copies = len(classifiers)
        self.formulation = formulation
        self.training = True
        self.dropout = _dropout_rate(classifiers[0])
        self._template = copy.deepcopy(classifiers[0]).to("meta")
        self._decoder_template = copy.deepcopy(decoders[0]).to("meta") if decoders is not None else None
        self.params: dict[str, torch.Tensor] = {}
        for prefix, modules in (("classifier", classifiers), ("decoder", decoders)):
            if modules is not None:
                stacked, _ = stack_module_state(list(modules))  # F and H have no buffers
                self.params.update({f"{prefix}.{name}": value for name, value in stacked.items()})
        self._layers = {
            prefix: _linear_layers(template)
            for prefix, template in (("classifier", self._template), ("decoder", self._decoder_template))
            if template is not None
        }
        self._vmapped_classifier = torch.vmap(self._classifier_call, randomness="different")
        self._vmapped_decoder = torch.vmap(self._decoder_call, randomness="different")

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    @property
    def has_decoder(self) -> bool:
        return self._decoder_template is not None

    def _part(self, prefix: str) -> dict[str, torch.Tensor]:
        start = len(prefix) + 1
        return {name[start:]: value for name, value in self.params.items() if name.startswith(prefix + ".")}

    def _classifier_call(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = functional_call(self._template, params, (x,))
        return out.logits, out.encoding

    def _decoder_call(self, params: dict[str, torch.Tensor], encoding: torch.Tensor) -> torch.Tensor:
        return functional_call(self._decoder_template, params, (encoding,))

    def _bmm_forward(self, prefix: str, h: torch.Tensor, dropout: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The layers of ``prefix`` as batched matrix products: ReLU (and dropout) after every layer but the last,
        as :mod:`rdlr.model` builds F and H; returns the output and the hidden state after ``ENCODER_DEPTH``
        layers (F'(x) for the classifier)."""
        params, layers, encoding = self._part(prefix), self._layers[prefix], h
        for index, layer in enumerate(layers):
            h = torch.baddbmm(params[f"{layer}.bias"].unsqueeze(1), h, params[f"{layer}.weight"].transpose(1, 2))
            if index < len(layers) - 1:
                h = F.dropout(torch.relu(h), dropout, training=dropout > 0)
            if index == ENCODER_DEPTH - 1:
                encoding = h
        return h, encoding

    def train(self, mode: bool = True) -> None:
        """Dropout on (training) or off, as :meth:`torch.nn.Module.train`."""
        self._template.train(mode)
        self.training = mode

    def classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (K, R, C) and F'(x) (K, R, 1024) of every copy on its own rows ``x`` (K, R, D)."""
        if self.formulation == "vmap":
            return self._vmapped_classifier(self._part("classifier"), x)
        return self._bmm_forward("classifier", x, self.dropout if self.training else 0.0)

    def decode(self, encoding: torch.Tensor) -> torch.Tensor:
        """H(F'(x)) (K, R, D) of every copy, for the AE loss (12)."""
        if not self.has_decoder:
            raise ValueError("these stacked networks have no decoder H: stack them with decoders for the AE loss")
        if self.formulation == "vmap":
            return self._vmapped_decoder(self._part("decoder"), encoding)
        return self._bmm_forward("decoder", encoding, 0.0)[0]

    def classifier_state(self, copy_index: int) -> dict[str, torch.Tensor]:
        """Copy ``copy_index``'s F as a plain :class:`EmotionClassifier` state dict (detached, cloned)."""
        return {name: value[copy_index].detach().clone() for name, value in self._part("classifier").items()}

    def decoder_state(self, copy_index: int) -> dict[str, torch.Tensor]:
        """Copy ``copy_index``'s H as a plain :class:`Decoder` state dict (detached, cloned)."""
        return {name: value[copy_index].detach().clone() for name, value in self._part("decoder").items()}


@dataclass
class StackedTraining:
    """What K stacked copies train on: the rows on the device (``x``; ``train_rows`` and ``unlabeled_rows`` index
    it), the training targets Ȳ (one row per training row) and class weights β of (5) shared by the copies, the
    weight λ_AE of (12) (None: CE only), minibatch sizes M and M', and one generator per copy."""

    networks: StackedNetworks
    optimizer: torch.optim.Optimizer
    x: torch.Tensor
    train_rows: torch.Tensor
    targets: torch.Tensor
    generators: list[torch.Generator]
    batch_size: int
    class_weights: torch.Tensor | None = None
    lambda_ae: float | None = None
    unlabeled_rows: torch.Tensor | None = None
    unlabeled_batch_size: int = 32

    def __post_init__(self) -> None:
        if len(self.generators) != self.networks.copies:
            raise ValueError(f"{self.networks.copies} copies but {len(self.generators)} generators: give one per copy")
        if self.lambda_ae is not None and not self.networks.has_decoder:
            raise ValueError("lambda_ae is set but the stacked networks have no decoder H")


def _copy_losses(
    run: StackedTraining, x: torch.Tensor, targets: torch.Tensor, x_unlabeled: torch.Tensor | None
) -> torch.Tensor:
    """(K, terms): each copy's L_cls of (5) and λ_AE L_AE (12) on its own minibatch, with :mod:`rdlr.losses`."""
    labeled = x.shape[1]
    inputs = x if x_unlabeled is None else torch.cat([x, x_unlabeled], dim=1)
    logits, encoding = run.networks.classify(inputs)

    def copy_cross_entropy(lg: torch.Tensor, tg: torch.Tensor) -> torch.Tensor:
        labels = tg.argmax(1) if run.class_weights is not None else None  # one-hot targets: the label is the argmax
        return losses.cross_entropy(lg, tg, run.class_weights, labels=labels)

    cross_entropy = torch.vmap(copy_cross_entropy)
    terms = [cross_entropy(logits[:, :labeled], targets)]
    if run.lambda_ae is not None:
        reconstruction = torch.vmap(losses.reconstruction_loss)  # reduction "mean", as TrainConfig's default
        terms.append(run.lambda_ae * reconstruction(inputs, run.networks.decode(encoding)))
    return torch.stack(terms, dim=1)


def train_epoch(run: StackedTraining) -> torch.Tensor:
    """One pass of every copy over the training rows in its own random order (minibatches of M, each with M'
    unlabeled rows drawn with replacement when the AE loss uses them), as :mod:`rdlr.train.loop` trains one
    trial; one optimiser step per minibatch on the sum over copies. Returns each copy's mean loss terms (K, terms)."""
    run.networks.train(True)
    device = run.x.device
    orders = torch.stack([torch.randperm(len(run.train_rows), generator=g) for g in run.generators]).to(device)
    draws_unlabeled = run.lambda_ae is not None and run.unlabeled_rows is not None
    sums: torch.Tensor | None = None
    steps = 0
    for start in range(0, orders.shape[1], run.batch_size):
        batch = orders[:, start : start + run.batch_size]
        x_unlabeled = None
        if draws_unlabeled:
            picks = torch.stack(
                [
                    torch.randint(len(run.unlabeled_rows), (run.unlabeled_batch_size,), generator=g)
                    for g in run.generators
                ]
            ).to(device)
            x_unlabeled = run.x[run.unlabeled_rows[picks]]
        terms = _copy_losses(run, run.x[run.train_rows[batch]], run.targets[batch], x_unlabeled)
        run.optimizer.zero_grad(set_to_none=True)
        terms.sum().backward()  # Σ_k L_k: copy k's gradient is that of its own loss alone
        run.optimizer.step()
        sums = terms.detach() if sums is None else sums + terms.detach()
        steps += 1
    return sums / steps


def train_stacked(run: StackedTraining, epochs: int) -> list[torch.Tensor]:
    """``epochs`` epochs of :func:`train_epoch`; the per-epoch mean loss terms, (K, terms) each. The trained
    weights are ``run.networks`` (one copy's: :meth:`StackedNetworks.classifier_state`)."""
    return [train_epoch(run) for _ in range(epochs)]
