"""The store stays true to the manifest: corrected labels reach ``load`` without recomputing a vector, changed audio
is recomputed (only it), every finished batch is stored at once, and the manifest columns join the vectors."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import ray.cloudpickle
import soundfile as sf

from rdlr.features import FeatureStore, load
from rdlr.features.audio import load_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig
from rdlr.features.metadata import with_manifest
from rdlr.features.pipeline import extract
from rdlr.features.registry import register_extractor, unregister_extractor
from rdlr.features.store import DatasetKey, encode_vectors
from rdlr.features.writer import PartWriter

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SR = 16_000


@dataclass(frozen=True)
class CountingConfig(ExtractorConfig):
    pass


class CountingExtractor(Extractor):
    """(seconds, peak) of the audio; appends every utt_id it is asked for to ``log_file`` (its call count)."""

    name = "counting"
    dim = 2

    def __init__(self, log_file: Path) -> None:
        self.config = CountingConfig()
        self.log_file = str(log_file)

    def extract(self, batch: list[dict]) -> list[Extracted]:
        with open(self.log_file, "a") as log:
            log.write("".join(f"{record['utt_id']}\n" for record in batch))
        results = []
        for record in batch:
            audio = load_audio(record["path"])
            results.append(Extracted(vector=np.array([audio.size / SR, np.abs(audio).max()], dtype=np.float32)))
        return results


def write_tone(path: Path, seconds: float, amplitude: float) -> str:
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR, subtype="FLOAT")
    return str(path)


def test_corrected_labels_reach_load_without_recomputing_and_changed_audio_is_recomputed(ray_session, tmp_path):
    log_file, store = tmp_path / "calls.log", tmp_path / "store"
    manifest = pd.DataFrame(
        {
            "utt_id": [f"A-{i}" for i in range(6)],
            "path": [write_tone(tmp_path / f"a{i}.wav", 0.5 + 0.1 * i, 0.5) for i in range(6)],
            "corpus": "A",
            "speaker": ["s1", "s1", "s2", "s2", "s3", "s3"],
            "label": ["happy", "sad", "angry", "neutral", "happy", "sad"],
        }
    )
    register_extractor("counting", lambda models: CountingExtractor(log_file))
    try:
        extract(manifest, "counting", str(store), workers=1, batch_size=2, progress=False)
        assert sorted(log_file.read_text().split()) == sorted(manifest["utt_id"])

        corrected = manifest.assign(label=["sad", "sad", "happy", "neutral", "angry", "sad"], speaker="s9")
        summary = extract(corrected, "counting", str(store), workers=1, batch_size=2, progress=False)
        assert summary.runs == [] and summary.manifests_updated == ["A"]
        assert "updated in the store for: A" in summary.format()
        assert len(log_file.read_text().split()) == 6  # no vector recomputed
        table = load(store, "counting", "A")
        assert table.meta["label"].tolist() == corrected["label"].tolist()
        assert set(table.meta["speaker"]) == {"s9"}

        write_tone(tmp_path / "a3.wav", 1.5, 0.9)  # new audio for A-3 (size and mtime change)
        summary = extract(corrected, "counting", str(store), workers=1, batch_size=2, progress=False)
        assert log_file.read_text().split()[6:] == ["A-3"]  # only the changed utterance
        assert {(c.present, c.changed, c.extracted) for c in summary.counts} == {(5, 1, 1)}
        table = load(store, "counting", "A")
        row = table.meta.index[table.meta["utt_id"] == "A-3"][0]
        np.testing.assert_allclose(table.x[row], [1.5, 0.9], rtol=1e-4)
        assert len(table) == 6 and table.meta["label"].tolist() == corrected["label"].tolist()
        assert len(list((store / "counting").rglob("part-*.parquet"))) == 1  # the stale vector was compacted away
    finally:
        unregister_extractor("counting")


def test_each_finished_batch_is_stored_at_once(tmp_path):
    store = FeatureStore(tmp_path)
    fingerprints = pd.Series({"A-1": "1:1:/a1.wav", "B-1": "2:2:/b1.wav"})
    writer = PartWriter(store, "fake", "h", fingerprints)
    block = pa.table(
        {
            "utt_id": ["A-1", "B-1"],
            "corpus": ["A", "B"],
            "path": ["/a1.wav", "/b1.wav"],
            "features": encode_vectors(np.ones((2, 3))),
            "error": pa.array([None, None], pa.string()),
            "started": [0.0, 0.0],
        }
    )
    writer.add(block)  # one batch, far below any size or time threshold
    assert store.ids(DatasetKey("fake", "h", "A")).tolist() == ["A-1"]
    assert store.fingerprints(DatasetKey("fake", "h", "B")).to_dict() == {"B-1": "2:2:/b1.wav"}


def test_manifest_columns_win_over_stored_ones_but_not_over_extractor_extras():
    manifest = pd.DataFrame(
        {
            "utt_id": ["u1", "u2"],
            "path": ["/1", "/2"],
            "corpus": "C",
            "label": ["sad", "happy"],
            "transcript": ["typed one", "typed two"],
        }
    )
    parts = pd.DataFrame(
        {
            "utt_id": ["u2", "u1", "u3"],
            "corpus": "C",
            "path": ["/2", "/1", "/3"],
            "audio_fingerprint": ["f2", None, None],
            "transcript": ["heard two", None, None],
            "label": [None, "angry", "neutral"],
        }
    )  # u1, u3: rows of an older store, with labels
    meta = with_manifest(parts, manifest)
    assert meta["utt_id"].tolist() == ["u2", "u1", "u3"]
    assert meta["label"].tolist() == ["happy", "sad", "neutral"]  # u3 is not in the manifest: its own label
    assert meta["transcript"].tolist()[:2] == ["heard two", "typed one"]  # the ASR transcript of the new row
    assert pd.isna(meta.at[2, "transcript"])
    assert "audio_fingerprint" not in meta.columns
    assert with_manifest(parts, None)["label"].tolist()[1:] == ["angry", "neutral"]  # no manifest: as stored
