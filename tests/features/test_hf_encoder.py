"""The transformers-encoder extractor on tiny randomly initialised wav2vec2 / WavLM / HuBERT folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rdlr.features.hf_encoder import HFEncoderConfig, HFEncoderExtractor, conv_output_frames, feature_set_name

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("no_network")


def write_wav(path: Path, seconds: float, freq: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32), 16_000)
    return {"utt_id": path.stem, "path": str(path)}


@pytest.fixture()
def records(tmp_path) -> list[dict]:
    return [
        write_wav(tmp_path / "short.wav", 0.4, 200.0, 0),
        write_wav(tmp_path / "long.wav", 1.5, 500.0, 1),
        write_wav(tmp_path / "mid.wav", 0.9, 300.0, 2),
    ]


@pytest.mark.parametrize("family", ["wav2vec2", "wavlm", "hubert"])
def test_padded_batch_equals_single_utterances(tmp_path, tiny_encoder, records, family):
    folder = tiny_encoder(tmp_path / f"tiny-{family}", family, layer_norm=True)
    extractor = HFEncoderExtractor(HFEncoderConfig(model_dir=str(folder)))
    extractor.setup("cpu")
    assert extractor.name == f"hf-tiny-{family}" and extractor.dim == 32 and extractor._batched
    batch = extractor.extract(records)
    for record, together in zip(records, batch):
        alone = extractor.extract([record])[0]
        assert together.error is None and together.vector.shape == (32,) and together.vector.dtype == np.float32
        np.testing.assert_allclose(together.vector, alone.vector, rtol=1e-4, atol=1e-5)
    assert not np.allclose(batch[0].vector, batch[1].vector, atol=1e-3)


def test_pooling_uses_only_the_utterance_frames(tmp_path, tiny_encoder, records):
    folder = tiny_encoder(tmp_path / "tiny", "wav2vec2", layer_norm=True)
    extractor = HFEncoderExtractor(HFEncoderConfig(model_dir=str(folder), layer=1))
    extractor.setup("cpu")
    wave, _ = sf.read(records[0]["path"], dtype="float32")
    model = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval()
    normalised = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
    with torch.no_grad():
        hidden = model(torch.from_numpy(normalised)[None], output_hidden_states=True).hidden_states[1]
    np.testing.assert_allclose(extractor.extract([records[0]])[0].vector, hidden[0].mean(0).numpy(), atol=1e-5)
    assert conv_output_frames(torch.tensor([6400]), [10, 4, 4], [5, 4, 4]).item() == hidden.shape[1]


def test_group_norm_encoders_run_one_by_one_and_match_exactly(tmp_path, tiny_encoder, records):
    folder = tiny_encoder(tmp_path / "tiny-base", "wav2vec2", layer_norm=False)
    extractor = HFEncoderExtractor(HFEncoderConfig(model_dir=str(folder)))
    extractor.setup("cpu")
    assert not extractor._batched
    batch = extractor.extract(records)
    for record, together in zip(records, batch):
        assert np.array_equal(together.vector, extractor.extract([record])[0].vector)


def test_layer_selection_changes_the_output_and_the_hash(tmp_path, tiny_encoder, records):
    folder = tiny_encoder(tmp_path / "tiny", "wav2vec2", layer_norm=True)
    vectors = {}
    for layer in (0, 1, -1):
        extractor = HFEncoderExtractor(HFEncoderConfig(model_dir=str(folder), layer=layer))
        extractor.setup("cpu")
        vectors[layer] = extractor.extract(records[:1])[0].vector
    assert not np.allclose(vectors[0], vectors[-1], atol=1e-4)
    assert not np.allclose(vectors[1], vectors[-1], atol=1e-4)
    hashes = {HFEncoderConfig(model_dir=str(folder), layer=layer).config_hash() for layer in (0, 1, -1)}
    assert len(hashes) == 3
    assert HFEncoderConfig(model_dir=str(folder)).config_hash() != HFEncoderConfig(str(tmp_path / "x")).config_hash()


def test_bad_input_and_bad_settings(tmp_path, tiny_encoder, records):
    folder = tiny_encoder(tmp_path / "tiny", "wav2vec2", layer_norm=True)
    extractor = HFEncoderExtractor(HFEncoderConfig(model_dir=str(folder), layer=5))
    with pytest.raises(ValueError, match=r"layer 5 out of range .* valid -3\.\.2"):
        extractor.setup("cpu")
    extractor = HFEncoderExtractor(HFEncoderConfig(model_dir=str(folder)))
    with pytest.raises(RuntimeError, match="setup"):
        extractor.extract(records)
    extractor.setup("cpu")
    out = extractor.extract([{"utt_id": "gone", "path": str(tmp_path / "gone.wav")}, records[1]])
    assert out[0].vector is None and "gone.wav" in out[0].error and out[1].vector is not None
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        HFEncoderExtractor(HFEncoderConfig(model_dir=str(tmp_path / "facebook" / "wavlm-base")))


def test_feature_set_name_is_stable_and_store_safe(tmp_path, tiny_encoder):
    assert feature_set_name("/models/wavlm-base-plus/") == "hf-wavlm-base-plus"
    assert feature_set_name("/m/my model+v2") == "hf-my_model_v2"
    folder = tiny_encoder(tmp_path / "snapshot-3f2a", "wav2vec2", layer_norm=False)
    (tmp_path / "wavlm-base").symlink_to(folder, target_is_directory=True)
    config = HFEncoderConfig(model_dir=str(tmp_path / "wavlm-base"))
    assert HFEncoderExtractor(config).name == "hf-wavlm-base" and config.resolved_dir == str(folder)
    registry = pytest.importorskip("rdlr.features.registry")
    for spec in ("/models/wavlm-base-plus/", "/m/my model+v2", str(tmp_path / "wavlm-base")):
        assert registry.store_name("hf:" + spec) == feature_set_name(spec)
