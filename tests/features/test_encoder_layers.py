"""Layers of the Whisper and transformers encoders (``whisper@N``, ``hf:<dir>@N``, ``@all``) on tiny randomly
initialised models: every layer's vector equals an independent computation with the library's own forward pass
(hooks on its blocks, its final output), a vector does not depend on its batch, Whisper's 30 s windows, and
``@all`` equals the single layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from rdlr.features.audio import load_audio
from rdlr.features.hf_layers import HFLayersExtractor
from rdlr.features.layers import split_layer
from rdlr.features.registry import build_extractor, build_extractors, parse_feature_sets, store_name
from rdlr.features.whisper_encoder import WhisperEncoderExtractor
from rdlr.features.whisper_windows import WINDOW_SAMPLES, valid_frames, windows

whisper = pytest.importorskip("whisper")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("no_network")
SR = 16_000
MIN_COSINE = 0.9999


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def write_wav(path, seconds: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 400) * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(path, wave.astype(np.float32), SR)
    return {"utt_id": path.stem, "path": str(path)}


@pytest.fixture()
def records(tmp_path) -> list[dict]:
    return [
        write_wav(tmp_path / "a.wav", 0.7, 0),
        write_wav(tmp_path / "b.wav", 2.3, 1),
        write_wav(tmp_path / "c.wav", 1.1, 2),
    ]


def layer_matrix(extracted, layers: int, dim: int) -> np.ndarray:
    assert extracted.error is None, extracted.error
    return extracted.vector.reshape(layers, dim)


# ---- names ------------------------------------------------------------------------------------------------------
def test_layer_names_parse_store_and_order():
    assert split_layer("whisper@12").layer == 12 and split_layer("whisper@all").layer == "all"
    assert split_layer("hf:/m/x@y/wavlm").layer is None  # an '@' inside the folder path is no suffix
    assert store_name("hf:/models/wavlm-base@3") == "hf-wavlm-base@3" and store_name("whisper@0") == "whisper@0"
    assert parse_feature_sets("hf:/m/w@12,whisper@12,is10,whisper@6,whisper,hf:/m/w@2") == [
        "is10",
        "whisper",
        "whisper@6",
        "whisper@12",
        "hf:/m/w@2",
        "hf:/m/w@12",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("whisper@", "malformed layer suffix '@'"),
        ("whisper@x", "malformed layer suffix '@x'"),
        ("whisper@-1", "malformed"),
        ("whisper@06", "malformed"),
        ("is10@all", "is10 has no layers"),
        ("bert@3", "bert has no layers"),
    ],
)
def test_bad_suffixes_are_one_line_naming_the_feature_set(name, message):
    with pytest.raises(ValueError, match=message) as error:
        store_name(name)
    assert name in str(error.value) and "\n" not in str(error.value)


def record_layers(blocks) -> tuple[dict[int, torch.Tensor], list]:
    """Hooks on a model's own blocks: the input of the first (layer 0) and the output of block N (layer N) land in
    the returned dict during the next forward pass; remove the returned hooks afterwards."""
    seen: dict[int, torch.Tensor] = {}

    def keep(index: int):
        return lambda module, args, out: seen.__setitem__(index, out[0] if isinstance(out, tuple) else out)

    hooks = [blocks[0].register_forward_pre_hook(lambda module, args: seen.__setitem__(0, args[0]))]
    hooks += [block.register_forward_hook(keep(i)) for i, block in enumerate(blocks, start=1)]
    return seen, hooks


# ---- openai-whisper ---------------------------------------------------------------------------------------------
def whisper_reference(model, wave: np.ndarray) -> np.ndarray:
    """(L+1, D): per layer, the mean over the valid frames of every 30 s window, from whisper's own encoder
    forward (forward pre-hook of block 1 for @0, forward hooks of the blocks, encoder output for @L)."""
    encoder = model.encoder
    blocks = len(encoder.blocks)
    frames: dict[int, list[np.ndarray]] = {layer: [] for layer in range(blocks + 1)}
    for start in range(0, len(wave), WINDOW_SAMPLES):
        chunk = wave[start : start + WINDOW_SAMPLES]
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(chunk), model.dims.n_mels)[None]
        seen, hooks = record_layers(encoder.blocks)
        with torch.no_grad():
            seen[blocks] = encoder(mel)
        for hook in hooks:
            hook.remove()
        valid = math.ceil(len(chunk) / 320)
        for layer in frames:
            frames[layer].append(seen[layer][0, :valid].numpy())
    return np.stack([np.concatenate(frames[layer]).mean(axis=0) for layer in sorted(frames)])


def test_whisper_window_rule():
    assert valid_frames(1) == 1 and valid_frames(320) == 1 and valid_frames(321) == 2
    assert valid_frames(WINDOW_SAMPLES) == 1500
    parts = windows(np.zeros(WINDOW_SAMPLES * 2 + 5, dtype=np.float32))
    assert [len(p) for p in parts] == [WINDOW_SAMPLES, WINDOW_SAMPLES, 5]


@pytest.mark.parametrize("seconds", [0.7, 32.5])
def test_whisper_layers_equal_the_library_forward(tmp_path, tiny_whisper_checkpoint, seconds):
    checkpoint, model = tiny_whisper_checkpoint(tmp_path)
    record = write_wav(tmp_path / "u.wav", seconds, 3)
    extractor = WhisperEncoderExtractor(str(checkpoint), {"whisper@all": "all"})
    extractor.setup("cpu")
    blocks, dim = model.dims.n_audio_layer, model.dims.n_audio_state
    assert extractor.config.layers == tuple(range(blocks + 1)) and extractor.dim == dim
    ours = layer_matrix(extractor.extract([record])[0], blocks + 1, dim)
    reference = whisper_reference(model, load_audio(record["path"]))
    for layer in range(blocks + 1):
        assert cosine(ours[layer], reference[layer]) >= MIN_COSINE, layer
    if seconds > 30:  # the second window's frames count: pooling the first window alone gives another vector
        first = whisper_reference(model, load_audio(record["path"])[:WINDOW_SAMPLES])
        assert not np.allclose(ours, first, atol=1e-4)


def test_whisper_vectors_do_not_depend_on_their_batch(tmp_path, tiny_whisper_checkpoint, records):
    checkpoint, _ = tiny_whisper_checkpoint(tmp_path)
    extractor = WhisperEncoderExtractor(str(checkpoint), {"whisper@1": 1, "whisper": None})
    extractor.setup("cpu")
    together = extractor.extract(records)
    for record, batched in zip(records, together):
        np.testing.assert_allclose(batched.vector, extractor.extract([record])[0].vector, rtol=1e-4, atol=1e-5)
    assert not np.allclose(together[0].vector, together[1].vector, atol=1e-3)


def test_whisper_all_equals_the_single_layers(tmp_path, tiny_whisper_checkpoint, records):
    checkpoint, model = tiny_whisper_checkpoint(tmp_path)
    blocks, dim = model.dims.n_audio_layer, model.dims.n_audio_state
    every = WhisperEncoderExtractor(str(checkpoint), {"whisper@all": "all"})
    every.setup("cpu")
    assert [(o.name, o.part) for o in every.outputs()] == [(f"whisper@{n}", n) for n in range(blocks + 1)]
    all_vectors = np.stack([layer_matrix(e, blocks + 1, dim) for e in every.extract(records)])
    for layer in range(blocks + 1):
        single = build_extractor(f"whisper@{layer}", {"whisper": str(checkpoint)})
        single.setup("cpu")
        assert single.outputs()[0].config.config_hash() == every.outputs()[layer].config.config_hash()
        vectors = np.stack([e.vector for e in single.extract(records)])
        np.testing.assert_allclose(vectors, all_vectors[:, layer], rtol=1e-5, atol=1e-6)


def test_whisper_layer_out_of_range_and_no_checkpoint(tmp_path, tiny_whisper_checkpoint):
    checkpoint, model = tiny_whisper_checkpoint(tmp_path)
    blocks = model.dims.n_audio_layer
    with pytest.raises(
        ValueError,
        match=rf"'whisper@40': layer 40 out of range; .* {blocks} blocks: valid "
        rf"@0..@{blocks}",
    ) as error:
        build_extractor("whisper@40", {"whisper": str(checkpoint)})
    assert "\n" not in str(error.value)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an openai-whisper checkpoint"):
        build_extractor("whisper@1", {"whisper": str(tmp_path / "other.pt")})
    with pytest.raises(ValueError, match="--whisper-checkpoint"):
        build_extractor("whisper@1", {})


def test_layers_of_one_encoder_share_one_extractor(tmp_path, tiny_whisper_checkpoint):
    checkpoint, _ = tiny_whisper_checkpoint(tmp_path)
    built = build_extractors(["is10", "whisper@1", "whisper"], {"whisper": str(checkpoint)})
    assert [requested for requested, _ in built] == ["is10", "whisper@1+whisper"]
    assert [o.name for o in built[1][1].outputs()] == ["whisper@1", "whisper"]


# ---- transformers -----------------------------------------------------------------------------------------------
def ssl_reference(folder, wave: np.ndarray) -> np.ndarray:
    """(L+1, D) from the transformers model alone on one utterance: forward pre-hook of layer 1 (@0), forward hooks
    of the layers, ``last_hidden_state`` (@L); mean over all frames (no padding when run alone)."""
    processor = transformers.AutoFeatureExtractor.from_pretrained(folder, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval()
    values = torch.from_numpy(processor(wave, sampling_rate=SR, return_tensors="np")["input_values"])
    layers = model.encoder.layers
    seen, hooks = record_layers(layers)
    with torch.no_grad():
        seen[len(layers)] = model(values).last_hidden_state
    for hook in hooks:
        hook.remove()
    return np.stack([seen[layer][0].mean(dim=0).numpy() for layer in range(len(layers) + 1)])


SSL_CASES = [
    ("wav2vec2", False),
    ("wav2vec2", True),
    ("hubert", False),
    ("hubert", True),
    ("wavlm", False),
    ("wavlm", True),
    ("data2vec-audio", True),
]


@pytest.mark.parametrize(("family", "layer_norm"), SSL_CASES)
def test_ssl_layers_equal_the_library_forward_and_ignore_their_batch(
    tmp_path, tiny_encoder, records, family, layer_norm
):
    folder = tiny_encoder(tmp_path / "enc", family, layer_norm)
    extractor = HFLayersExtractor(str(folder), {"hf:enc@all": "all"})
    extractor.setup("cpu")
    blocks, dim = extractor.shape.blocks, extractor.dim
    together = [layer_matrix(e, blocks + 1, dim) for e in extractor.extract(records)]
    for record, ours in zip(records, together):
        reference = ssl_reference(folder, load_audio(record["path"]))
        for layer in range(blocks + 1):
            assert cosine(ours[layer], reference[layer]) >= MIN_COSINE, (record["utt_id"], layer)
        alone = layer_matrix(extractor.extract([record])[0], blocks + 1, dim)
        np.testing.assert_allclose(ours, alone, rtol=1e-4, atol=1e-5)


def test_hf_whisper_layers_equal_the_library_forward(tmp_path, tiny_hf_whisper, records):
    folder = tiny_hf_whisper(tmp_path / "hfw")
    extractor = build_extractor(f"hf:{folder}@all")
    extractor.setup("cpu")
    blocks, dim = extractor.shape.blocks, extractor.dim
    processor = transformers.AutoFeatureExtractor.from_pretrained(folder, local_files_only=True)
    encoder = transformers.AutoModel.from_pretrained(folder, local_files_only=True).get_encoder().eval()
    together = [layer_matrix(e, blocks + 1, dim) for e in extractor.extract(records)]
    for record, ours in zip(records, together):
        wave = load_audio(record["path"])
        features = processor(wave, sampling_rate=SR, return_tensors="pt")["input_features"]
        seen, hooks = record_layers(encoder.layers)
        with torch.no_grad():
            seen[blocks] = encoder(features).last_hidden_state
        for hook in hooks:
            hook.remove()
        valid = math.ceil(len(wave) / 320)
        for layer in range(blocks + 1):
            assert cosine(ours[layer], seen[layer][0, :valid].mean(dim=0).numpy()) >= MIN_COSINE, layer
        np.testing.assert_allclose(
            ours, layer_matrix(extractor.extract([record])[0], blocks + 1, dim), rtol=1e-4, atol=1e-5
        )


def test_hf_all_equals_single_layers(tmp_path, tiny_encoder, records):
    folder = tiny_encoder(tmp_path / "enc", "wavlm", True)
    every = build_extractor(f"hf:{folder}@all")
    every.setup("cpu")
    blocks, dim = every.shape.blocks, every.dim
    assert [o.name for o in every.outputs()] == [f"hf-enc@{n}" for n in range(blocks + 1)]
    all_vectors = np.stack([layer_matrix(e, blocks + 1, dim) for e in every.extract(records)])
    for layer in range(blocks + 1):
        single = build_extractor(f"hf:{folder}@{layer}")
        single.setup("cpu")
        np.testing.assert_allclose(
            np.stack([e.vector for e in single.extract(records)]), all_vectors[:, layer], rtol=1e-5, atol=1e-6
        )


def test_hf_bad_layers_and_folders(tmp_path, tiny_encoder):
    folder = tiny_encoder(tmp_path / "enc", "hubert", True)
    with pytest.raises(ValueError, match=r"'hf:.*@40': layer 40 out of range; enc has 2 blocks: valid @0..@2"):
        build_extractor(f"hf:{folder}@40")
    text_model = tmp_path / "bert"
    transformers.BertModel(
        transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    ).save_pretrained(text_model)
    with pytest.raises(ValueError, match="model_type 'bert' is no Whisper or wav2vec 2.0-style speech encoder"):
        build_extractor(f"hf:{text_model}@1")


def test_trained_models_rebuild_their_layer_extractors(tmp_path, tiny_whisper_checkpoint, tiny_encoder):
    from rdlr.models.extractors import model_extractors, spec_of

    checkpoint, _ = tiny_whisper_checkpoint(tmp_path)
    folder = tiny_encoder(tmp_path / "enc", "wavlm", True)
    for name, models in (
        ("whisper@1", {"whisper": str(checkpoint)}),
        ("whisper", {"whisper": str(checkpoint)}),
        (f"hf:{folder}@2", {}),
    ):
        extractor = build_extractor(name, models)
        specs = [spec_of(store_name(name), extractor, extractor.dim)]
        rebuilt = model_extractors(specs, "model")[0]
        assert rebuilt.config.config_hash() == extractor.config.config_hash(), name
