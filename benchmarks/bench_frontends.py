"""Extraction throughput per front-end, and ``@all`` against a single layer, on the same files.

Every front-end is an encoder built from a config with random weights (no download; throughput does not depend on
the weights): openai-whisper (``whisper``), a transformers Whisper folder and wav2vec 2.0 / HuBERT / WavLM /
data2vec audio (``hf:<dir>``). Sizes: ``--size tiny`` (default: 2 blocks, width 64, a few seconds on a laptop) or
``base`` (the published base architectures: Whisper base 6 blocks x 512, the SSL models 12 x 768). Each
front-end runs its extractor in this process (``setup`` + ``extract``, batches of ``--batch``) on ``--device``;
printed: utterances/s per front-end (after one warm-up batch), then per front-end the time of ``@all`` (every
layer from one forward pass) over the time of its final layer alone — a ratio near 1 means all L+1 layers cost
about one extraction, where separate extractions would cost L+1.

    python benchmarks/bench_frontends.py                        # tiny models, EmoDB files when present
    python benchmarks/bench_frontends.py --size base --files 32 --device cuda
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from rdlr.features.base import Extractor
from rdlr.features.hf_layers import HFLayersExtractor
from rdlr.features.whisper_encoder import WhisperEncoderExtractor

REPO = Path(__file__).resolve().parents[1]
EMODB_WAV = REPO.parent / "shared" / "corpora" / "emodb" / "wav"
SR = 16_000
SSL = {
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
    "hubert": ("HubertConfig", "HubertModel"),
    "wavlm": ("WavLMConfig", "WavLMModel"),
    "data2vec-audio": ("Data2VecAudioConfig", "Data2VecAudioModel"),
}
SIZES = {  # (blocks, width, heads, ffn) per size; the SSL conv encoder is the published one at both sizes
    "tiny": (2, 64, 2, 128),
    "base": (12, 768, 12, 3072),
}
WHISPER_SIZES = {"tiny": (2, 64, 2), "base": (6, 512, 8)}


def audio_files(folder: Path, n: int) -> list[str]:
    """``n`` EmoDB files when present (1.2-8.9 s), else ``n`` generated 1.5-4 s noise bursts."""
    if EMODB_WAV.is_dir():
        return [str(p) for p in sorted(EMODB_WAV.glob("*.wav"))[:n]]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"gen{i:03d}.wav"
        sf.write(path, (0.1 * rng.standard_normal(int(rng.uniform(1.5, 4.0) * SR))).astype(np.float32), SR)
        paths.append(str(path))
    return paths


def save_whisper(folder: Path, size: str) -> Path:
    """An openai-whisper checkpoint (random weights) as whisper.load_model reads it."""
    from whisper.model import ModelDimensions, Whisper

    blocks, width, heads = WHISPER_SIZES[size]
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=width,
        n_audio_head=heads,
        n_audio_layer=blocks,
        n_vocab=51865,
        n_text_ctx=448,
        n_text_state=width,
        n_text_head=heads,
        n_text_layer=1,
    )
    path = folder / f"whisper-{size}.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": Whisper(dims).state_dict()}, path)
    return path


def save_hf_whisper(folder: Path, size: str) -> Path:
    """A transformers Whisper folder (random weights) with its feature extractor."""
    import transformers

    blocks, width, heads = WHISPER_SIZES[size]
    config = transformers.WhisperConfig(
        d_model=width,
        encoder_layers=blocks,
        encoder_attention_heads=heads,
        encoder_ffn_dim=4 * width,
        decoder_layers=1,
        decoder_attention_heads=heads,
        decoder_ffn_dim=4 * width,
        num_mel_bins=80,
        max_source_positions=1500,
    )
    target = folder / f"hf-whisper-{size}"
    transformers.WhisperModel(config).save_pretrained(target)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(target)
    return target


def save_ssl(folder: Path, family: str, size: str) -> Path:
    """A transformers SSL encoder folder (random weights): layer-norm conv encoder, as the large models have."""
    import transformers

    blocks, width, heads, ffn = SIZES[size]
    config_name, model_name = SSL[family]
    norm = {} if family == "data2vec-audio" else {"feat_extract_norm": "layer", "do_stable_layer_norm": True}
    config = getattr(transformers, config_name)(
        hidden_size=width, num_hidden_layers=blocks, num_attention_heads=heads, intermediate_size=ffn, **norm
    )
    target = folder / f"{family}-{size}"
    getattr(transformers, model_name)(config).save_pretrained(target)
    transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True).save_pretrained(target)
    return target


def rate(extractor: Extractor, records: list[dict], batch: int, device: str) -> float:
    """Utterances/s of one extractor over ``records`` in batches, after one warm-up batch."""
    extractor.setup(device)
    extractor.extract(records[:batch])
    start = time.perf_counter()
    for i in range(0, len(records), batch):
        failed = [r.error for r in extractor.extract(records[i : i + batch]) if r.error]
        if failed:
            raise RuntimeError(failed[0])
    return len(records) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fp16", action="store_true", help="half precision (cuda only)")
    parser.add_argument("--only", default="", help="comma-separated front-ends (default: all)")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        records = [{"utt_id": Path(p).stem, "path": p} for p in audio_files(folder, args.files)]
        fronts: dict[str, Callable[[dict], object]] = {}
        checkpoint = save_whisper(folder, args.size)
        fronts["whisper"] = lambda req: WhisperEncoderExtractor(str(checkpoint), req, fp16=args.fp16)
        model_dirs = {"hf whisper": save_hf_whisper(folder, args.size)}
        model_dirs.update({family: save_ssl(folder, family, args.size) for family in SSL})
        for label, model_dir in model_dirs.items():
            fronts[label] = lambda req, d=model_dir: HFLayersExtractor(str(d), req, fp16=args.fp16)
        wanted = [name for name in args.only.split(",") if name] or list(fronts)
        print(
            f"{len(records)} utterances, size {args.size}, batch {args.batch}, device {args.device}"
            f"{' fp16' if args.fp16 else ''}, torch threads {torch.get_num_threads()}"
        )
        print(f"{'front-end':<16}{'final layer utt/s':>18}{'@all utt/s':>12}{'layers':>8}{'@all / final time':>19}")
        for label in wanted:
            make = fronts[label]
            single = rate(make({"x": None}), records, args.batch, args.device)
            every_extractor = make({"x@all": "all"})
            layers = len(every_extractor.config.layers)
            every = rate(every_extractor, records, args.batch, args.device)
            print(f"{label:<16}{single:>18.2f}{every:>12.2f}{layers:>8}{single / every:>19.2f}")


if __name__ == "__main__":
    main()
