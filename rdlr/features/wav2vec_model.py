"""A native PyTorch wav2vec 1.0 (Schneider et al., 2019, arXiv:1904.05862) encoder: feature extractor + context network.

Only the inference path is built (no prediction heads, no quantiser). Module and parameter names follow fairseq's
``Wav2VecModel`` so that its public checkpoints load by name:

* ``feature_extractor.conv_layers.<i>`` = [Conv1d(no bias), dropout slot, GroupNorm(1 group), activation];
  optional skip connections between equal-width layers (residual subsampled in time), then ``log(|z| + 1)``
  when ``log_compression`` is set.
* ``feature_aggregator.conv_layers.<i>`` = [causal left pad of kernel-1 frames (replicate, or zeros when
  ``agg_zero_pad``), Conv1d, dropout slot, GroupNorm(1 group), activation]; with ``skip_connections_agg`` each
  layer adds its input (through ``feature_aggregator.residual_proj.<i>``, a bias-free 1×1 conv, where the width
  changes) and scales the sum by sqrt(``residual_scale``).

The wav2vec *large* model (the one Section 3.2 of the paper uses) is 7 feature layers (512, k, s) with
(k, s) = (10,5), (8,4), (4,2)×3, (1,1)×2 and 12 aggregator layers of 512 channels with kernels 2..13, with
skip connections in the aggregator, residual scale 0.5 and log compression.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

LayerSpec = tuple[int, int, int]


def parse_layer_spec(expression: str, what: str) -> tuple[LayerSpec, ...]:
    """Layers ``[(dim, kernel, stride), ...]`` from fairseq's string form, e.g. ``"[(512, 3, 1)] * 9"``.

    Only list/tuple literals of integers combined with ``+`` and ``*`` are accepted (no ``eval``).
    """

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.List):
            return [value(item) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(value(item) for item in node.elts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unsupported element {ast.dump(node)}")

    try:
        layers = value(ast.parse(str(expression).strip(), mode="eval").body)
    except (SyntaxError, ValueError, TypeError) as error:
        raise ValueError(f"cannot parse {what} {expression!r}: {error}") from None
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"{what} must be a non-empty list of (dim, kernel, stride) tuples, got {expression!r}")
    for layer in layers:
        if not (isinstance(layer, tuple) and len(layer) == 3 and all(isinstance(v, int) and v > 0 for v in layer)):
            raise ValueError(f"{what}: each layer must be (dim, kernel, stride) of positive ints, got {layer!r}")
    return tuple(layers)


@dataclass(frozen=True)
class Wav2VecArchitecture:
    """The settings of a fairseq wav2vec model that change the inference computation or the parameter names."""

    feature_layers: tuple[LayerSpec, ...]
    aggregator_layers: tuple[LayerSpec, ...]
    log_compression: bool
    skip_connections_feat: bool
    skip_connections_agg: bool
    residual_scale: float
    non_affine_group_norm: bool
    conv_bias: bool
    agg_zero_pad: bool
    activation: str

    @property
    def embed_dim(self) -> int:
        """Channels of the feature extractor output z."""
        return self.feature_layers[-1][0]

    @property
    def context_dim(self) -> int:
        """Channels of the context network output c."""
        return self.aggregator_layers[-1][0]

    @property
    def receptive_field(self) -> int:
        """Samples seen by one frame of z: the shortest input that yields one frame."""
        field, jump = 1, 1
        for _, kernel, stride in self.feature_layers:
            field += (kernel - 1) * jump
            jump *= stride
        return field


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown wav2vec activation {name!r}; valid: relu, gelu")


class FeatureExtractor(nn.Module):
    """The strided conv encoder raw waveform → z (``feature_extractor`` in fairseq's naming)."""

    def __init__(self, arch: Wav2VecArchitecture) -> None:
        super().__init__()
        self.conv_layers = nn.ModuleList()
        channels = 1
        for dim, kernel, stride in arch.feature_layers:
            self.conv_layers.append(
                nn.Sequential(
                    nn.Conv1d(channels, dim, kernel, stride=stride, bias=False),
                    nn.Identity(),
                    nn.GroupNorm(1, dim, affine=not arch.non_affine_group_norm),
                    _activation(arch.activation),
                )
            )
            channels = dim
        self.log_compression = arch.log_compression
        self.skip_connections = arch.skip_connections_feat
        self.residual_scale = math.sqrt(arch.residual_scale)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave`` (B, T) → z (B, C, T')."""
        x = wave.unsqueeze(1)
        for layer in self.conv_layers:
            out = layer(x)
            if self.skip_connections and out.size(1) == x.size(1):
                step = x.size(2) // out.size(2)
                residual = x[..., ::step][..., : out.size(2)]
                out = (out + residual) * self.residual_scale
            x = out
        if self.log_compression:
            x = torch.log(x.abs() + 1.0)
        return x


class ContextNetwork(nn.Module):
    """The causal conv aggregator z → c (``feature_aggregator`` in fairseq's naming)."""

    def __init__(self, arch: Wav2VecArchitecture) -> None:
        super().__init__()
        self.conv_layers = nn.Sequential()
        self.residual_proj = nn.ModuleDict()
        channels = arch.embed_dim
        for index, (dim, kernel, stride) in enumerate(arch.aggregator_layers):
            left = kernel - 1
            pad = nn.ConstantPad1d((left, 0), 0.0) if arch.agg_zero_pad else nn.ReplicationPad1d((left, 0))
            self.conv_layers.append(
                nn.Sequential(
                    pad,
                    nn.Conv1d(channels, dim, kernel, stride=stride, bias=arch.conv_bias),
                    nn.Identity(),
                    nn.GroupNorm(1, dim, affine=not arch.non_affine_group_norm),
                    _activation(arch.activation),
                )
            )
            if arch.skip_connections_agg and channels != dim:
                self.residual_proj[str(index)] = nn.Conv1d(channels, dim, 1, bias=False)
            channels = dim
        self.skip_connections = arch.skip_connections_agg
        self.residual_scale = math.sqrt(arch.residual_scale)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, C, T') → c (B, C', T')."""
        x = z
        for index, layer in enumerate(self.conv_layers):
            out = layer(x)
            if self.skip_connections:
                key = str(index)
                residual = self.residual_proj[key](x) if key in self.residual_proj else x
                out = (out + residual) * self.residual_scale
            x = out
        return x


class Wav2VecEncoder(nn.Module):
    """wav2vec 1.0 without its pre-training heads: waveform → context representations c."""

    def __init__(self, arch: Wav2VecArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.feature_extractor = FeatureExtractor(arch)
        self.feature_aggregator = ContextNetwork(arch)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave`` (B, T) 16 kHz samples in [-1, 1] → c (B, context_dim, frames)."""
        return self.feature_aggregator(self.feature_extractor(wave))
