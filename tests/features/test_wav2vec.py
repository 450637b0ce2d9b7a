"""The native wav2vec 1.0 encoder and the w2v extractor, on randomly initialised fairseq-layout checkpoints."""

from __future__ import annotations

import argparse
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from rdlr.features.base import Extracted
from rdlr.features.safe_unpickle import Opaque, load_checkpoint
from rdlr.features.wav2vec import Wav2VecConfig, Wav2VecExtractor
from rdlr.features.wav2vec_checkpoint import architecture_from_checkpoint, load_wav2vec
from rdlr.features.wav2vec_model import Wav2VecEncoder, parse_layer_spec

LARGE_FEATURES = "[(512, 10, 5), (512, 8, 4), (512, 4, 2), (512, 4, 2), (512, 4, 2), (512, 1, 1), (512, 1, 1)]"
LARGE_AGGREGATOR = "[" + ", ".join(f"(512, {k}, 1)" for k in range(2, 14)) + "]"
SMALL_FEATURES = "[(16, 10, 5), (16, 8, 4), (16, 4, 2), (16, 4, 2), (16, 1, 1)]"
SMALL_AGGREGATOR = "[(24, 2, 1), (24, 3, 1), (512, 4, 1)]"


pytestmark = pytest.mark.usefixtures("no_network")


def fairseq_args(feature_spec: str, aggregator_spec: str, **overrides) -> argparse.Namespace:
    """An ``args`` Namespace as old fairseq pickled it for ``--arch wav2vec`` (the wav2vec_large.pt flags)."""
    args = {
        "arch": "wav2vec",
        "task": "audio_pretraining",
        "criterion": "binary_cross_entropy",
        "encoder": "cnn",
        "aggregator": "cnn",
        "conv_feature_layers": feature_spec,
        "conv_aggregator_layers": aggregator_spec,
        "skip_connections_agg": True,
        "skip_connections_feat": False,
        "residual_scale": 0.5,
        "log_compression": True,
        "agg_zero_pad": False,
        "no_conv_bias": False,
        "non_affine_group_norm": False,
        "project_features": "none",
        "prediction_steps": 12,
        "num_negatives": 10,
        "cross_sample_negatives": False,
        "sample_distance": None,
        "offset": "auto",
        "dropout": 0.0,
        "dropout_features": 0.0,
        "dropout_agg": 0.0,
        "gru_dim": 512,
        "balanced_classes": False,
        "fp16": True,
        "lr": [1e-06],
    }
    args.update(overrides)
    return argparse.Namespace(**args)


def random_state(args: argparse.Namespace, seed: int = 0) -> dict[str, torch.Tensor]:
    """A randomly initialised state dict with the pre-training head, in fairseq's key layout."""
    torch.manual_seed(seed)
    encoder = Wav2VecEncoder(architecture_from_checkpoint({"args": args}))
    for name, tensor in encoder.state_dict().items():  # GroupNorm affine and conv biases away from 1 / 0
        norm_index = "2" if name.startswith("feature_extractor") else "3"
        if name.endswith("bias"):
            tensor.normal_(0.0, 0.1)
        elif name.split(".")[-2] == norm_index:
            tensor.normal_(1.0, 0.1)
    state = dict(encoder.state_dict())
    out_dim = parse_layer_spec(args.conv_feature_layers, "f")[-1][0]
    agg_dim = parse_layer_spec(args.conv_aggregator_layers, "a")[-1][0]
    state["wav2vec_predictions.project_to_steps.weight"] = torch.randn(agg_dim, out_dim, 1, args.prediction_steps)
    state["wav2vec_predictions.project_to_steps.bias"] = torch.randn(out_dim)
    return state


def save_fairseq_checkpoint(path: Path, args, state, legacy: bool = True, monkeypatch=None) -> Path:
    """Save like fairseq 0.8 did: args + model + optimizer history + extra_state holding fairseq meter objects."""
    payload = {
        "args": args,
        "model": state,
        "optimizer_history": [
            {"criterion_name": "BinaryCrossEntropyCriterion", "optimizer_name": "FairseqAdam", "num_updates": 400000}
        ],
        "last_optimizer_state": {"state": {}},
    }
    if monkeypatch is not None:
        meters = types.ModuleType("fairseq.meters")

        class AverageMeter:
            def __init__(self):
                self.avg, self.count = 1.5, 3

        AverageMeter.__module__, AverageMeter.__qualname__ = "fairseq.meters", "AverageMeter"
        meters.AverageMeter = AverageMeter
        monkeypatch.setitem(sys.modules, "fairseq", types.ModuleType("fairseq"))
        monkeypatch.setitem(sys.modules, "fairseq.meters", meters)
        payload["extra_state"] = {"train_meters": {"loss": AverageMeter()}, "val_loss": np.float64(2.5)}
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    if monkeypatch is not None:
        monkeypatch.delitem(sys.modules, "fairseq.meters")
        monkeypatch.delitem(sys.modules, "fairseq")
    return path


def write_wav(path: Path, seconds: float, freq: float, seed: int, rate: int = 16_000) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(path, wave.astype(np.float32), rate)
    return {"utt_id": path.stem, "path": str(path)}


@pytest.fixture()
def small_checkpoint(tmp_path, monkeypatch) -> Path:
    args = fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR, skip_connections_feat=True)
    return save_fairseq_checkpoint(tmp_path / "small.pt", args, random_state(args), monkeypatch=monkeypatch)


@pytest.fixture()
def records(tmp_path) -> list[dict]:
    return [
        write_wav(tmp_path / "a.wav", 0.7, 220.0, 0),
        write_wav(tmp_path / "b.wav", 1.3, 440.0, 1),
        write_wav(tmp_path / "c.wav", 0.35, 330.0, 2),
    ]


def reference_context(state: dict, args: argparse.Namespace, wave: np.ndarray) -> torch.Tensor:
    """fairseq's ConvFeatureExtractionModel + ConvAggegator forward, written out with torch.nn.functional."""
    scale = math.sqrt(args.residual_scale)
    x = torch.from_numpy(wave).float()[None, None]
    for i, (_, _, stride) in enumerate(parse_layer_spec(args.conv_feature_layers, "f")):
        out = F.conv1d(x, state[f"feature_extractor.conv_layers.{i}.0.weight"], stride=stride)
        out = F.group_norm(
            out,
            1,
            state[f"feature_extractor.conv_layers.{i}.2.weight"],
            state[f"feature_extractor.conv_layers.{i}.2.bias"],
        )
        out = F.relu(out)
        if args.skip_connections_feat and out.shape[1] == x.shape[1]:
            out = (out + x[..., :: x.shape[2] // out.shape[2]][..., : out.shape[2]]) * scale
        x = out
    x = torch.log(x.abs() + 1)
    for i, (_, kernel, _) in enumerate(parse_layer_spec(args.conv_aggregator_layers, "a")):
        padded = torch.cat([x[..., :1].expand(-1, -1, kernel - 1), x], dim=2)
        out = F.conv1d(
            padded,
            state[f"feature_aggregator.conv_layers.{i}.1.weight"],
            state[f"feature_aggregator.conv_layers.{i}.1.bias"],
        )
        out = F.relu(
            F.group_norm(
                out,
                1,
                state[f"feature_aggregator.conv_layers.{i}.3.weight"],
                state[f"feature_aggregator.conv_layers.{i}.3.bias"],
            )
        )
        proj = state.get(f"feature_aggregator.residual_proj.{i}.weight")
        x = (out + (F.conv1d(x, proj) if proj is not None else x)) * scale
    return x


def test_large_architecture_matches_fairseq_layout(tmp_path):
    args = fairseq_args(LARGE_FEATURES, LARGE_AGGREGATOR)
    arch = architecture_from_checkpoint({"args": args})
    encoder = Wav2VecEncoder(arch)
    expected = {
        f"feature_extractor.conv_layers.{i}.{j}.{p}"
        for i in range(7)
        for j, p in [(0, "weight"), (2, "weight"), (2, "bias")]
    }
    expected |= {
        f"feature_aggregator.conv_layers.{i}.{j}.{p}" for i in range(12) for j in (1, 3) for p in ("weight", "bias")
    }
    assert set(encoder.state_dict()) == expected
    assert encoder.state_dict()["feature_aggregator.conv_layers.11.1.weight"].shape == (512, 512, 13)
    assert encoder.state_dict()["feature_extractor.conv_layers.0.0.weight"].shape == (512, 1, 10)
    assert arch.receptive_field == 465 and arch.context_dim == 512
    path = save_fairseq_checkpoint(tmp_path / "wav2vec_large.pt", args, random_state(args), legacy=False)
    loaded = load_wav2vec(path)
    with torch.inference_mode():
        context = loaded(torch.randn(1, 16_000) * 0.1)
    assert context.shape == (1, 512, 98)  # 16000 samples -> 3199 -> 798 -> 398 -> 198 -> 98 frames


def test_extractor_matches_reference_forward_and_loads_without_fairseq(small_checkpoint, records):
    assert "fairseq" not in sys.modules
    extractor = Wav2VecExtractor(Wav2VecConfig(checkpoint=str(small_checkpoint)))
    extractor.setup("cpu")
    out = extractor.extract(records)
    assert extractor.name == "w2v" and extractor.dim == 512
    state = load_checkpoint(small_checkpoint)
    assert isinstance(state["extra_state"]["train_meters"]["loss"], Opaque)  # fairseq.meters is not importable
    args = state["args"]
    for record, result in zip(records, out):
        assert result.error is None and result.vector.shape == (512,) and result.vector.dtype == np.float32
        wave, _ = sf.read(record["path"], dtype="float32")
        expected = reference_context(state["model"], args, wave).mean(dim=2)[0].numpy()
        np.testing.assert_allclose(result.vector, expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(out[0].vector, out[1].vector)


def test_batch_equals_single_utterance_runs(small_checkpoint, records):
    extractor = Wav2VecExtractor(Wav2VecConfig(checkpoint=str(small_checkpoint)))
    extractor.setup("cpu")
    batch = extractor.extract(records)
    singles = [extractor.extract([record])[0] for record in reversed(records)][::-1]
    for together, alone in zip(batch, singles):
        assert np.array_equal(together.vector, alone.vector)


def test_bad_utterances_are_returned_not_raised(small_checkpoint, records, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not a wav file")
    extractor = Wav2VecExtractor(Wav2VecConfig(checkpoint=str(small_checkpoint)))
    extractor.setup("cpu")
    out = extractor.extract(
        [records[0], {"utt_id": "x", "path": str(broken)}, {"utt_id": "y", "path": str(tmp_path / "missing.wav")}]
    )
    assert isinstance(out[0], Extracted) and out[0].vector is not None
    assert out[1].vector is None and "broken.wav" in out[1].error
    assert out[2].vector is None and "missing" in out[2].error


def test_too_short_for_receptive_field_is_an_utterance_error(tmp_path, records):
    args = fairseq_args("[(8, 4000, 2000), (8, 2, 1)]", "[(512, 2, 1)]")
    path = save_fairseq_checkpoint(tmp_path / "wide.pt", args, random_state(args))
    extractor = Wav2VecExtractor(Wav2VecConfig(checkpoint=str(path)))
    extractor.setup("cpu")
    short = extractor.extract([records[2]])[0]  # 0.35 s = 5600 samples < 4000 + 1 * 2000
    assert short.vector is None and "too short for wav2vec" in short.error and "c.wav" in short.error


def test_missing_key_fails_with_a_clear_error(tmp_path):
    args = fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR)
    state = random_state(args)
    del state["feature_aggregator.conv_layers.1.3.bias"]
    path = save_fairseq_checkpoint(tmp_path / "broken.pt", args, state)
    with pytest.raises(ValueError, match=r"broken\.pt.*missing keys: feature_aggregator\.conv_layers\.1\.3\.bias"):
        Wav2VecExtractor(Wav2VecConfig(checkpoint=str(path))).setup("cpu")


def test_unexpected_and_misshaped_keys_fail(tmp_path):
    args = fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR)
    state = random_state(args)
    state["feature_aggregator.extra.weight"] = torch.zeros(3)
    path = save_fairseq_checkpoint(tmp_path / "extra.pt", args, state)
    with pytest.raises(ValueError, match=r"unexpected keys: feature_aggregator\.extra\.weight"):
        load_wav2vec(path)
    state = random_state(args)
    state["feature_extractor.conv_layers.0.0.weight"] = torch.zeros(16, 1, 9)
    path = save_fairseq_checkpoint(tmp_path / "shape.pt", args, state)
    with pytest.raises(ValueError, match=r"wrong shapes: feature_extractor\.conv_layers\.0\.0\.weight \(16, 1, 9\)"):
        load_wav2vec(path)


def test_base_variant_args_defaults_and_cfg_checkpoints(tmp_path):
    base = argparse.Namespace(arch="wav2vec")  # every setting from base_wav2vec_architecture's defaults
    arch = architecture_from_checkpoint({"args": base})
    assert arch.aggregator_layers == ((512, 3, 1),) * 9 and len(arch.feature_layers) == 5
    assert not arch.skip_connections_agg and not arch.log_compression
    cfg_args = fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR, agg_zero_pad=True)
    state = random_state(cfg_args)
    cfg = {
        "model": {
            "_name": "wav2vec",
            "conv_feature_layers": SMALL_FEATURES,
            "conv_aggregator_layers": SMALL_AGGREGATOR,
            "agg_zero_pad": True,
        }
    }
    path = tmp_path / "cfg.pt"
    torch.save({"args": None, "cfg": cfg, "model": state}, path)
    encoder = load_wav2vec(path)
    assert encoder.arch.skip_connections_agg and encoder.arch.log_compression and encoder.arch.agg_zero_pad


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arch": "wav2vec2"}, "not wav2vec 1.0"),
        ({"aggregator": "gru"}, "only the convolutional"),
        ({"vq_type": "gumbel"}, "vq-wav2vec"),
        ({"conv_aggregator_layers": "__import__('os')"}, "cannot parse"),
    ],
)
def test_unsupported_checkpoints_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        architecture_from_checkpoint({"args": fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR, **overrides)})


def test_config_hash_follows_the_resolved_checkpoint_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = Wav2VecConfig(checkpoint="w.pt")
    assert relative.checkpoint == str(tmp_path / "w.pt")
    assert relative.config_hash() == Wav2VecConfig(checkpoint=str(tmp_path / "w.pt")).config_hash()
    assert relative.config_hash() != Wav2VecConfig(checkpoint=str(tmp_path / "v.pt")).config_hash()


def test_a_2019_checkpoint_naming_its_architecture_audio_cpc_loads_as_wav2vec(tmp_path):
    """fairseq of 2019 pickled ``args.arch = 'audio_cpc'`` (its loader renames it ``wav2vec``): same encoder."""
    args = fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR, arch="audio_cpc")
    state = random_state(fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR))
    old = save_fairseq_checkpoint(tmp_path / "audio_cpc.pt", args, state)
    new = save_fairseq_checkpoint(tmp_path / "wav2vec.pt", fairseq_args(SMALL_FEATURES, SMALL_AGGREGATOR), state)
    assert vars(load_checkpoint(old)["args"])["arch"] == "audio_cpc"
    wave = torch.randn(1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(load_wav2vec(old)(wave), load_wav2vec(new)(wave), rtol=0, atol=0)
