"""Building a :class:`Wav2VecEncoder` from a public fairseq wav2vec 1.0 checkpoint file, strictly.

The file (``wav2vec_large.pt``) is a torch-saved dict: ``"args"`` (an ``argparse.Namespace``, old fairseq) or
``"cfg"`` (a dict whose ``"model"`` entry holds the model settings, newer fairseq) and ``"model"`` (the state dict).
Checkpoints of 2019 name the architecture ``audio_cpc``, fairseq's old name of wav2vec 1.0, read as ``wav2vec``.
Settings absent from ``args`` take the defaults of fairseq's ``base_wav2vec_architecture``; settings absent from
``cfg["model"]`` take those of its ``Wav2VecConfig`` dataclass (the two differ; each matches how the file was made).
Every parameter of the encoder must be in the file and every tensor in the file must be used, except the
pre-training-only heads listed in :data:`PRETRAINING_ONLY_PREFIXES`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rdlr.features.safe_unpickle import load_checkpoint
from rdlr.features.wav2vec_model import Wav2VecArchitecture, Wav2VecEncoder, parse_layer_spec

PRETRAINING_ONLY_PREFIXES: tuple[str, ...] = ("wav2vec_predictions.", "project_features.")
#: Architecture names of fairseq 2019 checkpoints that fairseq's own loader renames (``_upgrade_state_dict``).
LEGACY_ARCH_NAMES: dict[str, str] = {"audio_cpc": "wav2vec"}

_LEGACY_ARGS_DEFAULTS: dict[str, Any] = {
    "conv_feature_layers": "[(512, 10, 5)] + [(512, 8, 4)] + [(512, 4, 2)] * 3",
    "conv_aggregator_layers": "[(512, 3, 1)] * 9",
    "log_compression": False,
    "skip_connections_feat": False,
    "skip_connections_agg": False,
    "residual_scale": 0.5,
    "non_affine_group_norm": False,
    "no_conv_bias": False,
    "agg_zero_pad": False,
    "activation": "relu",
    "aggregator": "cnn",
    "encoder": "cnn",
    "vq_type": "none",
}
_CFG_DEFAULTS: dict[str, Any] = {
    **_LEGACY_ARGS_DEFAULTS,
    "conv_feature_layers": "[(512, 10, 5), (512, 8, 4), (512, 4, 2), (512, 4, 2), (512, 4, 2), (512, 1, 1), "
    "(512, 1, 1), (512, 1, 1)]",
    "conv_aggregator_layers": "[" + ", ".join(f"(512, {k}, 1)" for k in range(2, 14)) + "]",
    "log_compression": True,
    "skip_connections_agg": True,
}


def _model_settings(checkpoint: Mapping[str, Any], source: str) -> dict[str, Any]:
    args = checkpoint.get("args")
    if args is not None:
        settings = vars(args) if isinstance(args, argparse.Namespace) else args
        if not isinstance(settings, Mapping):
            raise ValueError(f"{source}: 'args' is {type(args).__name__}, expected an argparse.Namespace")
        arch = str(settings.get("arch", "wav2vec"))
        arch = LEGACY_ARCH_NAMES.get(arch, arch)
        defaults = _LEGACY_ARGS_DEFAULTS
    else:
        cfg = checkpoint.get("cfg")
        model_cfg = cfg.get("model") if isinstance(cfg, Mapping) else None
        if not isinstance(model_cfg, Mapping):
            raise ValueError(
                f"{source}: no 'args' Namespace and no 'cfg' dict with a 'model' entry; "
                "this is not a fairseq checkpoint (expected wav2vec_large.pt from the fairseq wav2vec README)"
            )
        settings = model_cfg
        arch = settings.get("_name", "wav2vec")
        defaults = _CFG_DEFAULTS
    if arch != "wav2vec" and not str(arch).startswith("wav2vec_"):
        raise ValueError(
            f"{source}: model architecture is {arch!r}, not wav2vec 1.0; "
            "for wav2vec 2.0 / HuBERT / WavLM use the hf extractor with a transformers model directory"
        )
    return {key: default if settings.get(key) is None else settings[key] for key, default in defaults.items()}


def architecture_from_checkpoint(checkpoint: Mapping[str, Any], source: str = "checkpoint") -> Wav2VecArchitecture:
    """The encoder settings stored in a fairseq wav2vec checkpoint dict; unsupported variants fail clearly."""
    settings = _model_settings(checkpoint, source)
    if settings["aggregator"] != "cnn" or settings["encoder"] != "cnn":
        raise ValueError(
            f"{source}: encoder={settings['encoder']!r}, aggregator={settings['aggregator']!r}; "
            "only the convolutional wav2vec (encoder and aggregator 'cnn', as in wav2vec_large.pt) is supported"
        )
    if settings["vq_type"] not in ("none", None):
        raise ValueError(f"{source}: vq-wav2vec checkpoints (vq_type={settings['vq_type']!r}) are not supported")
    return Wav2VecArchitecture(
        feature_layers=parse_layer_spec(settings["conv_feature_layers"], f"{source}: conv_feature_layers"),
        aggregator_layers=parse_layer_spec(settings["conv_aggregator_layers"], f"{source}: conv_aggregator_layers"),
        log_compression=bool(settings["log_compression"]),
        skip_connections_feat=bool(settings["skip_connections_feat"]),
        skip_connections_agg=bool(settings["skip_connections_agg"]),
        residual_scale=float(settings["residual_scale"]),
        non_affine_group_norm=bool(settings["non_affine_group_norm"]),
        conv_bias=not bool(settings["no_conv_bias"]),
        agg_zero_pad=bool(settings["agg_zero_pad"]),
        activation=str(settings["activation"]),
    )


def _listing(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _describe(value: Any) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def load_state_strict(encoder: Wav2VecEncoder, state: Mapping[str, Any], source: str = "checkpoint") -> None:
    """Copy ``state`` into ``encoder``; any missing, unexpected or mis-shaped tensor raises a ``ValueError``."""
    kept = {key: value for key, value in state.items() if not key.startswith(PRETRAINING_ONLY_PREFIXES)}
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(kept))
    unexpected = sorted(set(kept) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    mismatched = [
        f"{key} {_describe(kept[key])} vs expected {tuple(expected[key].shape)}"
        for key in sorted(set(kept) & set(expected))
        if not isinstance(kept[key], torch.Tensor) or kept[key].shape != expected[key].shape
    ]
    if mismatched:
        problems.append(f"wrong shapes: {_listing(mismatched)}")
    if problems:
        raise ValueError(
            f"{source}: the state dict does not match the wav2vec architecture described by its args ("
            + "; ".join(problems)
            + "). Use the unmodified fairseq wav2vec 1.0 checkpoint (wav2vec_large.pt)."
        )
    encoder.load_state_dict({key: value.float() for key, value in kept.items()}, strict=True)


def load_wav2vec(path: str | Path) -> Wav2VecEncoder:
    """The wav2vec encoder in the fairseq checkpoint at ``path``, weights loaded strictly, in eval mode on CPU."""
    source = str(path)
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("model"), Mapping):
        raise ValueError(f"{source}: expected a dict with a 'model' state dict (fairseq checkpoint layout)")
    encoder = Wav2VecEncoder(architecture_from_checkpoint(checkpoint, source))
    load_state_strict(encoder, checkpoint["model"], source)
    return encoder.eval()
