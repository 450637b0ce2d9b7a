"""Writing the demo corpora: WAVs, the manifest and the marker that lets a second call reuse them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from rdlr.corpora.demo.annotation import allocate, draw_unreliable, draw_votes
from rdlr.corpora.demo.config import ALL_STYLES, CorpusStyle, DemoConfig
from rdlr.corpora.demo.emotions import EMOTION_CUES, cue_deviation, style_factors
from rdlr.corpora.demo.synthesis import render
from rdlr.corpora.demo.voices import draw_sentence, draw_speakers
from rdlr.io.safe_text import DocumentError, read_json
from rdlr.labels import CLASSES, NUM_CLASSES, VOTE_COLUMNS

GENERATOR_VERSION = 1
MANIFEST_NAME = "manifest.csv"
CONFIG_NAME = "demo_config.json"


def generate_demo_corpora(out_dir: str | Path, seed: int = 0, config: DemoConfig | None = None) -> Path:
    """Write the demo corpora under ``out_dir`` and return the path of ``out_dir/manifest.csv``.

    WAVs (16-bit mono) go to ``out_dir/<corpus>/<speaker>/<utt_id>.wav``. Deterministic given ``seed`` and
    ``config`` (same bytes). When ``out_dir`` already holds a complete output for the same seed and config
    (recorded in ``demo_config.json``, written last) nothing is rewritten; otherwise everything is regenerated
    and stale WAVs of the demo corpora are removed. Read the manifest with :func:`rdlr.corpora.read_manifest`.
    """
    config = config or DemoConfig()
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    out_dir = Path(out_dir).resolve()
    manifest_path = out_dir / MANIFEST_NAME
    marker = out_dir / CONFIG_NAME
    payload = {"generator_version": GENERATOR_VERSION, "seed": int(seed), "config": asdict(config)}
    payload = json.loads(json.dumps(payload))  # tuples become lists, as when read back from the marker
    if _is_complete(manifest_path, marker, payload):
        return manifest_path
    marker.unlink(missing_ok=True)
    rows: list[dict[str, object]] = []
    for index, style in enumerate(ALL_STYLES):
        rows.extend(_generate_corpus(out_dir, style, index, int(seed), config))
    manifest = pd.DataFrame(rows)
    if not config.vote_corpora:
        manifest = manifest.drop(columns=list(VOTE_COLUMNS))
    _remove_stale_wavs(out_dir, set(manifest["path"]))
    tmp = manifest_path.with_suffix(".csv.tmp")
    manifest.to_csv(tmp, index=False)
    tmp.replace(manifest_path)
    payload["config_hash"] = _hash(payload)
    marker.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return manifest_path


def _hash(payload: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _is_complete(manifest_path: Path, marker: Path, payload: dict[str, object]) -> bool:
    """Whether the marker matches ``payload`` and every WAV the manifest lists still exists."""
    if not (manifest_path.is_file() and marker.is_file()):
        return False
    try:
        stored = read_json(marker)
    except DocumentError:
        return False  # a damaged marker: generate again
    if not isinstance(stored, dict):
        return False
    if stored.pop("config_hash", None) != _hash(payload) or stored != payload:
        return False
    paths = pd.read_csv(manifest_path, usecols=["path"])["path"]
    return all(Path(path).is_file() for path in paths)


def _remove_stale_wavs(out_dir: Path, keep: set[str]) -> None:
    for style in ALL_STYLES:
        for wav in (out_dir / style.name).glob("*/*.wav"):
            if str(wav) not in keep:
                wav.unlink()


def _generate_corpus(
    out_dir: Path, style: CorpusStyle, index: int, seed: int, config: DemoConfig
) -> list[dict[str, object]]:
    """Render one corpus; returns its manifest rows."""
    rng = np.random.default_rng([seed, index])
    n_speakers = config.speakers_per_corpus if style.labeled else config.unlabeled_speakers
    per_speaker = config.utterances_per_speaker if style.labeled else config.unlabeled_utterances_per_speaker
    total = n_speakers * per_speaker
    speakers = draw_speakers(style, n_speakers, config.sample_rate, rng)
    sentences = [draw_sentence(rng) for _ in range(config.sentences_per_corpus)]
    cues = EMOTION_CUES * style_factors(config.style_spread, rng)
    if style.labeled:
        emotions = rng.permutation(np.repeat(np.arange(NUM_CLASSES), allocate(style.class_prior, total)))
        unreliable = draw_unreliable(emotions, config.unreliable_share, style.name, rng)
    else:
        emotions = rng.integers(0, NUM_CLASSES, total)
        unreliable = np.zeros(total, dtype=bool)
    sentence_ids = rng.integers(0, len(sentences), total)
    votes = draw_votes(emotions, unreliable, rng) if style.name in config.vote_corpora else None
    rows = []
    for k in range(total):
        speaker = speakers[k // per_speaker]
        utt_id = f"{speaker.speaker_id}_u{k % per_speaker + 1:03d}"
        utt_rng = np.random.default_rng([seed, index, k // per_speaker, k % per_speaker])
        strength = (
            0.0
            if unreliable[k]
            else (style.expression * config.expression_scale * speaker.expressiveness * utt_rng.uniform(0.7, 1.3))
        )
        audio = render(sentences[sentence_ids[k]], speaker, cue_deviation(cues[emotions[k]], strength), config, utt_rng)
        path = out_dir / style.name / speaker.speaker_id / f"{utt_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.round(audio * 32767).astype(np.int16), config.sample_rate, subtype="PCM_16")
        row: dict[str, object] = {
            "utt_id": utt_id,
            "path": str(path),
            "corpus": style.name,
            "speaker": speaker.speaker_id,
            "label": CLASSES[emotions[k]] if style.labeled else "",
            "gender": speaker.gender,
            "transcript": sentences[sentence_ids[k]].transcript,
        }
        row.update({column: (votes[k, c] if votes is not None else np.nan) for c, column in enumerate(VOTE_COLUMNS)})
        row["reliable"] = not unreliable[k]
        rows.append(row)
    return rows
