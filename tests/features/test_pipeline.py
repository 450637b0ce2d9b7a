"""Ray Data extraction: IS10 through an actor pool, bad files in the errors table, incremental writes that
survive a failing run, resumption that recomputes nothing, and load's alignment of two extracted sets."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import ray.cloudpickle
import soundfile as sf

from rdlr.features import FeatureAlignmentWarning, load
from rdlr.features.audio import load_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig, UtteranceError
from rdlr.features.is10 import IS10Extractor
from rdlr.features.pipeline import extract, plan, validate_manifest
from rdlr.features.registry import (
    build_extractor,
    parse_feature_sets,
    register_extractor,
    store_name,
    unregister_extractor,
)
from rdlr.features.store import DatasetKey, FeatureStore

# Ray workers cannot import this test module by name: ship its classes by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SR = 16_000
BATCH = 4
TRIGGER = "B-07"  # the last utterance of the manifest: the fake extractor fails on its batch when armed
REFUSED = "A-03"  # the fake extractor never gives features for this one


@dataclass(frozen=True)
class FakeConfig(ExtractorConfig):
    dim: int = 3


class FakeExtractor(Extractor):
    """Cheap extractor: (seconds, RMS, peak) of the audio. Logs every utterance it is asked for (one line per
    utt_id) and, while ``armed_file`` exists, fails on the batch holding ``TRIGGER`` once the driver has written a
    part file under ``store`` (so the failing run has provably stored something). Log, trigger and store are not
    part of the config, so they do not change the cache key."""

    name = "fake"

    def __init__(self, log_file: Path, armed_file: Path, store: Path) -> None:
        self.config = FakeConfig()
        self.dim = self.config.dim
        self.log_file = str(log_file)
        self.armed_file = str(armed_file)
        self.store = Path(store)

    def extract(self, batch: list[dict]) -> list[Extracted]:
        with open(self.log_file, "a") as log:
            log.write("".join(f"{record['utt_id']}\n" for record in batch))
        if os.path.exists(self.armed_file) and any(r["utt_id"] == TRIGGER for r in batch):
            deadline = time.monotonic() + 30
            while not any((self.store / "fake").rglob("part-*.parquet")) and time.monotonic() < deadline:
                time.sleep(0.05)
            raise RuntimeError("fake extractor interrupted")
        return [fake_features(record) for record in batch]


def fake_features(record: dict) -> Extracted:
    if record["utt_id"] == REFUSED:
        return Extracted(error=f"fake refused: {record['path']}")
    try:
        audio = load_audio(record["path"])
    except UtteranceError as error:
        return Extracted(error=str(error))
    return Extracted(
        vector=np.array([audio.size / SR, np.sqrt(np.mean(audio**2)), np.abs(audio).max()], dtype=np.float32)
    )


def tone(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rng.uniform(0.5, 1.0) * SR)) / SR
    f0 = 100 + 15 * seed
    signal = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * np.hanning(t.size)
    return (0.3 * signal + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def make_manifest(folder: Path) -> pd.DataFrame:
    """20 good utterances in corpora A (12) and B (8), plus a corrupt and an empty file in B."""
    rows = []
    for i in range(20):
        corpus, number = ("A", i) if i < 12 else ("B", i - 12)
        path = folder / f"{corpus}-{number:02d}.wav"
        sf.write(path, tone(i), SR, subtype="PCM_16")
        rows.append((f"{corpus}-{number:02d}", str(path), corpus, f"spk{i % 3}", "happy"))
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    sf.write(folder / "empty.wav", np.zeros(0, dtype=np.float32), SR)
    rows.insert(18, ("B-corrupt", str(folder / "corrupt.wav"), "B", "spk0", "sad"))
    rows.insert(19, ("B-empty", str(folder / "empty.wav"), "B", "spk1", "sad"))
    return pd.DataFrame(rows, columns=["utt_id", "path", "corpus", "speaker", "label"])


def logged(log_file: Path) -> list[str]:
    return log_file.read_text().split() if log_file.exists() else []


@pytest.fixture(scope="module")
def runs(ray_session, tmp_path_factory):
    """Run 1: is10 on everything (2 actors), then fake (1 actor, so batches finish in order) until it fails on
    the last batch. Run 2: is10+fake again."""
    folder = tmp_path_factory.mktemp("pipeline")
    manifest = make_manifest(folder)
    store = folder / "store"
    log_file, armed_file = folder / "fake.log", folder / "armed"
    register_extractor("fake", lambda models: FakeExtractor(log_file, armed_file, store))
    try:
        first_is10 = extract(manifest, "is10", str(store), workers=2, batch_size=BATCH, progress=False)
        armed_file.touch()
        with pytest.raises(Exception, match="fake extractor interrupted"):
            extract(manifest, "fake", str(store), workers=1, batch_size=BATCH, progress=False)
        fake_key = FakeConfig().config_hash()
        stored = FeatureStore(store)
        after_failure = {
            corpus: (
                set(stored.ids(DatasetKey("fake", fake_key, corpus))),
                set(stored.ids(DatasetKey("fake", fake_key, corpus), errors=True)),
            )
            for corpus in ("A", "B")
        }
        calls_before = len(logged(log_file))
        armed_file.unlink()
        second = extract(manifest, "fake+is10", str(store), workers=1, batch_size=BATCH, progress=False)
        yield {
            "manifest": manifest,
            "store": store,
            "first_is10": first_is10,
            "second": second,
            "after_failure": after_failure,
            "second_calls": logged(log_file)[calls_before:],
            "fake_hash": fake_key,
        }
    finally:
        unregister_extractor("fake")


def test_is10_through_ray_data_equals_in_process_extraction(runs):
    summary, store = runs["first_is10"], runs["store"]
    (run,) = summary.runs
    assert run.processed == 22 and run.workers == 2
    assert summary.extracted == 20 and summary.errors_by_reason() == {"unreadable audio": 1, "empty audio": 1}
    config_hash = IS10Extractor().config.config_hash()
    base = store / "is10" / config_hash
    assert (base / "config.json").is_file()
    table = pq.read_table(next((base / "A").glob("part-*.parquet")))
    assert table.column_names == ["utt_id", "corpus", "path", "audio_fingerprint", "features"]
    manifest = pq.read_table(store / "manifests" / "A.parquet")  # labels and speakers apart from the vectors
    assert set(manifest.column_names) == {"utt_id", "path", "corpus", "speaker", "label"}
    loaded = load(store, "is10", ["A", "B"])
    assert len(loaded) == 20 and loaded.x.shape == (20, 1582)
    reference = IS10Extractor()
    chosen = loaded.meta.index[loaded.meta["utt_id"].isin(["A-05", "B-02"])]
    for row in chosen:
        (expected,) = reference.extract(
            [{"utt_id": loaded.meta.at[row, "utt_id"], "path": loaded.meta.at[row, "path"]}]
        )
        np.testing.assert_array_equal(loaded.x[row], expected.vector)
    assert loaded.meta.set_index("utt_id").loc["B-02", "speaker"] == "spk2"


def test_bad_files_land_in_the_errors_table_with_reasons(runs):
    errors = (
        pq.read_table(
            next(
                (runs["store"] / "is10" / IS10Extractor().config.config_hash() / "B" / "errors").glob("part-*.parquet")
            )
        )
        .to_pandas()
        .set_index("utt_id")
    )
    assert sorted(errors.index) == ["B-corrupt", "B-empty"]
    assert errors.at["B-corrupt", "kind"] == "unreadable audio" and "corrupt.wav" in errors.at["B-corrupt", "reason"]
    assert errors.at["B-empty", "kind"] == "empty audio"


def test_a_failed_run_keeps_what_finished_and_the_rerun_computes_only_the_rest(runs):
    manifest = runs["manifest"]
    done_before = set().union(*(features | errors for features, errors in runs["after_failure"].values()))
    # the failing run kept what reached the driver before the failure (batches still in flight are recomputed)
    assert 0 < len(done_before) < len(manifest) and TRIGGER not in done_before
    expected = set(manifest["utt_id"]) - done_before
    assert sorted(runs["second_calls"]) == sorted(expected)  # every call of run 2 was for a missing utterance
    second = runs["second"]
    counts = {(c.feature_set, c.corpus): c for c in second.counts}
    assert counts["is10", "A"].present == 12 and counts["is10", "B"].failed_before == 2
    assert sum(counts["is10", c].extracted for c in "AB") == 0
    fake_done = sum(counts["fake", c].extracted + sum(counts["fake", c].errors.values()) for c in "AB")
    assert fake_done == len(expected)
    assert [run.feature_set for run in second.runs] == ["fake"]  # is10 had nothing left to do
    fake_a = runs["store"] / "fake" / runs["fake_hash"] / "A"
    assert len(list(fake_a.glob("part-*.parquet"))) == 1  # parts compacted after the successful run


def test_load_aligns_is10_with_an_extractor_registered_in_the_test(runs):
    with pytest.warns(
        FeatureAlignmentWarning,
        match=r"dropped 1 row\(s\): 1 in is10 but not in fake "
        r"\(fake refused ×1\)",
    ):
        table = load(runs["store"], "fake+is10", ["A", "B"])
    assert table.feature_sets == ["is10", "fake"] and table.x.shape == (19, 1585)
    assert REFUSED not in set(table.meta["utt_id"])
    only_is10 = load(runs["store"], "is10", ["A", "B"])
    rows = pd.Index(only_is10.meta["utt_id"]).get_indexer(table.meta["utt_id"])
    np.testing.assert_array_equal(table.x[:, table.columns("is10")], only_is10.x[rows])
    for row in (0, 10, 18):
        expected = fake_features({"utt_id": table.meta.at[row, "utt_id"], "path": table.meta.at[row, "path"]})
        np.testing.assert_array_equal(table.x[row, table.columns("fake")], expected.vector)


def test_plan_skips_stored_and_failed_utterances_unless_retrying(runs):
    manifest = validate_manifest(runs["manifest"])
    store = FeatureStore(runs["store"])
    is10_hash = IS10Extractor().config.config_hash()
    todo, counts = plan(manifest, store, "is10", is10_hash, retry_errors=False)
    assert todo.empty and sum(c.present for c in counts) == 20
    todo, counts = plan(manifest, store, "is10", is10_hash, retry_errors=True)
    assert sorted(todo["utt_id"]) == ["B-corrupt", "B-empty"]
    summary = extract(runs["manifest"], "is10", str(runs["store"]), workers=2, progress=False)
    assert summary.runs == [] and summary.extracted == 0 and summary.failed_before == 2
    assert "rerun with --retry-errors" in summary.format()


def test_registry_names_order_and_errors():
    assert parse_feature_sets("bert+is10,w2v") == ["is10", "w2v", "bert"]
    assert parse_feature_sets(["hf:/m/hubert", "w2v", "is10"]) == ["is10", "w2v", "hf:/m/hubert"]
    assert store_name("hf:/models/wavlm base/") == "hf-wavlm_base"
    assert isinstance(build_extractor("is10", {}), IS10Extractor)
    with pytest.raises(ValueError, match=r"unknown feature set 'is11'; valid: is10, w2v, bert, whisper, hf:<"):
        build_extractor("is11", {})
    with pytest.raises(ValueError, match=r"models\['w2v'\] \(CLI: --w2v-checkpoint PATH\)"):
        build_extractor("w2v", {})
    with pytest.raises(ValueError, match=r"models\['bert'\] \(CLI: --bert-dir PATH\)"):
        build_extractor("bert", {"whisper": "/w.pt"})
    with pytest.raises(ValueError, match=r"models\['whisper'\] \(CLI: --whisper-checkpoint PATH\)"):
        build_extractor("whisper@3", {"bert": "/bert"})
    with pytest.raises(ValueError, match="give the model folder"):
        build_extractor("hf:", {})
    with pytest.raises(ValueError, match="reserved"):
        register_extractor("w2v", lambda models: IS10Extractor())


def test_manifest_problems_are_reported_before_any_work(tmp_path):
    frame = pd.DataFrame({"utt_id": ["a", "a"], "path": ["/x", "/y"], "corpus": ["C", "C"]})
    with pytest.raises(ValueError, match="duplicate utt_id"):
        extract(frame, "is10", str(tmp_path))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['corpus'\]"):
        extract(frame.drop(columns="corpus"), "is10", str(tmp_path))
    with pytest.raises(ValueError, match="corpus name 'a/b'"):
        extract(frame.assign(utt_id=["a", "b"], corpus="a/b"), "is10", str(tmp_path))
