"""The networks of Section 3.2: emotion classifier F, its encoder F' (first two layers), and AE decoder H."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rdlr.labels import NUM_CLASSES

CLASSIFIER_HIDDEN: tuple[int, ...] = (1024, 1024, 512, 512)
ENCODER_DEPTH = 2  # F' = the first two FC layers of F (Section 3.2)
DECODER_HIDDEN: tuple[int, ...] = (1024, 1024)
DROPOUT = 0.5


def _fc_block(in_dim: int, out_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Dropout(dropout))


@dataclass
class ClassifierOutput:
    """Logits (softmax is applied by the losses), the 512-dim last hidden embedding, and F'(x)."""

    logits: torch.Tensor
    embedding: torch.Tensor
    encoding: torch.Tensor


class EmotionClassifier(nn.Module):
    """F: FC 1024-1024-512-512-C, ReLU and dropout 0.5 on every hidden layer.

    ``encoder`` (F') is the first two hidden blocks; ``head`` the remaining two; ``output`` the final
    layer. The softmax of Section 3.2 is left to the losses so they can use log-softmax for stability.
    """

    def __init__(self, input_dim: int, num_classes: int = NUM_CLASSES, dropout: float = DROPOUT) -> None:
        super().__init__()
        dims = (input_dim, *CLASSIFIER_HIDDEN)
        blocks = [_fc_block(dims[i], dims[i + 1], dropout) for i in range(len(CLASSIFIER_HIDDEN))]
        self.encoder = nn.Sequential(*blocks[:ENCODER_DEPTH])
        self.head = nn.Sequential(*blocks[ENCODER_DEPTH:])
        self.output = nn.Linear(CLASSIFIER_HIDDEN[-1], num_classes)

    @property
    def embedding_dim(self) -> int:
        return CLASSIFIER_HIDDEN[-1]

    @property
    def encoding_dim(self) -> int:
        return CLASSIFIER_HIDDEN[ENCODER_DEPTH - 1]

    def forward(self, x: torch.Tensor) -> ClassifierOutput:
        encoding = self.encoder(x)
        embedding = self.head(encoding)
        return ClassifierOutput(logits=self.output(embedding), embedding=embedding, encoding=encoding)


class Decoder(nn.Module):
    """H: FC 1024-1024-input_dim, reconstructing x from F'(x) for the AE loss (12)."""

    def __init__(self, encoding_dim: int, output_dim: int) -> None:
        super().__init__()
        dims = (encoding_dim, *DECODER_HIDDEN)
        self.layers = nn.Sequential(
            *(nn.Sequential(nn.Linear(dims[i], dims[i + 1]), nn.ReLU()) for i in range(len(DECODER_HIDDEN))),
            nn.Linear(DECODER_HIDDEN[-1], output_dim),
        )

    def forward(self, encoding: torch.Tensor) -> torch.Tensor:
        return self.layers(encoding)
