"""What a method optimises: its training targets Ȳ (one-hot or votes → LS (9) / unigram → LR (10), or self-KD) and
the networks and weighted loss terms of its objective, which generalises loss (11) (see :mod:`rdlr.methods`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from rdlr import losses, targets
from rdlr.labels import NUM_CLASSES
from rdlr.methods import Method
from rdlr.model import Decoder, EmotionClassifier
from rdlr.train.config import LR_ON_SMOOTHED


def training_targets(
    method: Method,
    hparams: Mapping[str, Any],
    labels: torch.Tensor,
    votes: torch.Tensor | None = None,
    stage1_logits: torch.Tensor | None = None,
    lr_on_smoothed: str = "smooth_again",
    num_classes: int = NUM_CLASSES,
) -> torch.Tensor:
    """Ȳ (M × K, K = ``num_classes``) for the training rows: one-hot or votes → LS (9) / unigram → LR (10); or
    self-KD targets. ``votes`` (M × K) are the annotators' votes restricted to the K classes; soft labels
    renormalise them.

    ``lr_on_smoothed`` (:class:`rdlr.train.TrainConfig`): where the stage-1 model is wrong, LR smooths the smoothed
    target again (``smooth_again``) or replaces it by the smoothed one-hot vector (``replace``)."""
    if lr_on_smoothed not in LR_ON_SMOOTHED:
        raise ValueError(f"lr_on_smoothed must be one of {', '.join(LR_ON_SMOOTHED)}, got {lr_on_smoothed!r}")
    if method.uses("self_kd"):
        return targets.self_kd_targets(_require(stage1_logits, method))
    if method.uses("soft") and votes is not None:
        result = targets.soft_labels(torch.nan_to_num(votes, nan=0.0), labels)
    else:
        result = targets.one_hot(labels, num_classes)
    if method.uses("ls"):
        result = targets.label_smoothing(result, hparams["ls_gamma"])
    elif method.uses("unigram"):
        result = targets.unigram_smoothing(result, targets.class_prior(labels, num_classes), hparams["unigram_gamma"])
    if method.uses("lr"):
        smooth_from = targets.one_hot(labels, num_classes) if lr_on_smoothed == "replace" else None
        result = targets.reliability_targets(result, _require(stage1_logits, method), hparams["gamma"], smooth_from)
    return result


def _require(stage1_logits: torch.Tensor | None, method: Method) -> torch.Tensor:
    if stage1_logits is None:
        raise ValueError(f"method {method.id!r} needs the stage-1 model's predictions on the training set")
    return stage1_logits


class Objective(nn.Module):
    """The networks a method trains (F, and H / proxies when used) and its loss terms, generalising (11).

    ``ae_reduction``: how L_AE (12) reduces the squared error (:func:`rdlr.losses.reconstruction_loss`);
    ``proxy_lr_factor``: the Proxy-Anchor proxies' learning rate over the network's (:meth:`param_groups`);
    ``num_classes``: K, the classifier's outputs and the Proxy-Anchor proxies."""

    def __init__(
        self,
        method: Method,
        hparams: Mapping[str, Any],
        input_dim: int,
        ae_on_unlabeled: bool,
        ae_reduction: str = "mean",
        proxy_lr_factor: float = 100.0,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        self.method = method
        self.hparams = dict(hparams)
        self.ae_on_unlabeled = ae_on_unlabeled
        self.ae_reduction = ae_reduction
        self.proxy_lr_factor = float(proxy_lr_factor)
        self.classifier = EmotionClassifier(input_dim, num_classes)
        self.decoder = Decoder(self.classifier.encoding_dim, input_dim) if method.uses("ae") else None
        self.proxy_anchor = (
            losses.ProxyAnchor(num_classes, self.classifier.embedding_dim, hparams["pa_alpha"], hparams["pa_delta"])
            if method.uses("proxy_anchor")
            else None
        )

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The optimiser's parameter groups: the networks (F, H) at ``lr``, then the Proxy-Anchor proxies (when the
        method has them) at ``lr`` × ``proxy_lr_factor``, as the code of [26] trains them. Every parameter is in
        exactly one group."""
        proxies = list(self.proxy_anchor.parameters()) if self.proxy_anchor is not None else []
        proxy_ids = {id(parameter) for parameter in proxies}
        network = [parameter for parameter in self.parameters() if id(parameter) not in proxy_ids]
        groups: list[dict[str, Any]] = [{"params": network, "lr": lr}]
        if proxies:
            groups.append({"params": proxies, "lr": lr * self.proxy_lr_factor})
        return groups

    def forward(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        labels: torch.Tensor,
        class_weights: torch.Tensor | None,
        sample_weights: torch.Tensor | None,
        x_unlabeled: torch.Tensor | None,
    ) -> dict[str, torch.Tensor]:
        """Weighted loss terms for one minibatch: L_cls of (5) (or focal), λ_RD L_RD (7), λ_PA L_PA (3), contrastive,
        λ_AE L_AE (12) and λ_PEL L_PEL (13), those the method uses; their sum is the objective (11)."""
        hp, uses = self.hparams, self.method.uses
        out = self.classifier(x)
        terms: dict[str, torch.Tensor] = {}
        if uses("focal"):
            terms["focal"] = losses.focal_loss(
                out.logits, target, hp["focusing"], class_weights, sample_weights, labels
            )
        else:
            terms["ce"] = losses.cross_entropy(out.logits, target, class_weights, sample_weights, labels)
        if uses("rd"):
            probs = torch.softmax(out.logits, dim=1)
            terms["rd"] = hp["lambda_rd"] * losses.rd_loss(probs, target, hp["rd_alpha"], hp["rd_delta"])
        if self.proxy_anchor is not None:
            terms["proxy_anchor"] = hp["lambda_pa"] * self.proxy_anchor(out.embedding, labels)
        if uses("contrastive"):
            terms["contrastive"] = hp["lambda_contrastive"] * losses.contrastive_loss(
                out.embedding, labels, hp["margin"]
            )
        unlabeled = self.classifier(x_unlabeled) if x_unlabeled is not None else None
        if self.decoder is not None:
            inputs, encodings = x, out.encoding
            if unlabeled is not None and self.ae_on_unlabeled:
                inputs = torch.cat([x, x_unlabeled])
                encodings = torch.cat([out.encoding, unlabeled.encoding])
            reconstructions = self.decoder(encodings)
            terms["ae"] = hp["lambda_ae"] * losses.reconstruction_loss(inputs, reconstructions, self.ae_reduction)
        if uses("pel"):
            terms["pel"] = hp["lambda_pel"] * losses.pel_loss(unlabeled.logits)
        return terms
