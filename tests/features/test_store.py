"""Feature store: vector encoding, whole-file parts, compaction, and load's alignment and error messages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rdlr.features import FeatureAlignmentWarning, FeatureStoreError, load
from rdlr.features.store import (
    DatasetKey,
    FeatureStore,
    decode_vectors,
    encode_vectors,
    open_filesystem,
    reason_kind,
)


def test_vectors_round_trip_through_the_binary_column():
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    column = encode_vectors(x)
    np.testing.assert_array_equal(decode_vectors(column), x)
    chunked = pa.chunked_array([column.slice(0, 3), column.slice(3, 4)])
    np.testing.assert_array_equal(decode_vectors(chunked), x)
    np.testing.assert_array_equal(decode_vectors(column.slice(2, 3)), x[2:5])
    np.testing.assert_array_equal(decode_vectors(column.cast(pa.large_binary())), x)
    with pytest.raises(ValueError, match="different"):
        decode_vectors(pa.array([x[0].tobytes(), x[1, :4].tobytes()], type=pa.binary()))
    with pytest.raises(ValueError, match="null"):
        decode_vectors(pa.array([x[0].tobytes(), None], type=pa.binary()))


def test_reason_kind_is_the_reason_without_details():
    assert reason_kind("too short (0.050 s < 0.1 s): /a/b.wav") == "too short"
    assert reason_kind("unreadable audio (Error opening '/x': Format not recognised.): /x") == "unreadable audio"
    assert reason_kind("empty audio: /x.wav") == "empty audio"


def test_local_paths_and_file_uris_open_the_same_folder(tmp_path):
    _, from_path = open_filesystem(tmp_path)
    _, from_uri = open_filesystem(f"file://{tmp_path}")
    assert from_path == from_uri == tmp_path.resolve().as_posix()


def feature_rows(ids: list[str], corpus: str, dim: int, offset: float = 0.0, **columns: list[str]) -> pa.Table:
    """Rows whose vector is (utt number + offset) repeated: x[i] identifies its row."""
    numbers = np.array([int(i.split("-")[1]) for i in ids], dtype=np.float32)
    vectors = np.repeat(numbers[:, None] + offset, dim, axis=1)
    data = {"utt_id": ids, "corpus": [corpus] * len(ids), "label": ["happy"] * len(ids), **columns}
    return pa.table(data).append_column("features", encode_vectors(vectors))


def error_rows(ids: list[str], corpus: str, reason: str) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "utt_id": ids,
            "corpus": [corpus] * n,
            "path": ["/p"] * n,
            "reason": [reason] * n,
            "kind": [reason_kind(reason)] * n,
            "time": ["t"] * n,
        }
    )


def test_parts_are_whole_files_and_reads_drop_duplicates(tmp_path):
    store = FeatureStore(tmp_path)
    key = DatasetKey("is10", "abc", "CRE")
    store.write_part(key, feature_rows(["u-1", "u-2"], "CRE", 3))
    store.write_part(key, feature_rows(["u-2", "u-3"], "CRE", 3, offset=100))
    folder = tmp_path / "is10" / "abc" / "CRE"
    (folder / ".tmp-half-written").write_bytes(b"PAR1")
    (folder / "notes.txt").write_text("ignored")
    assert len(list(folder.glob("part-*.parquet"))) == 2
    table = store.read_table(key)
    assert sorted(table.column("utt_id").to_pylist()) == ["u-1", "u-2", "u-3"]
    vectors = dict(zip(table.column("utt_id").to_pylist(), decode_vectors(table.column("features"))[:, 0]))
    assert vectors["u-2"] == 102.0  # the newest copy wins
    assert sorted(store.ids(key)) == ["u-1", "u-2", "u-3"]
    assert store.ids(DatasetKey("is10", "abc", "IEM")).size == 0


def test_compact_merges_parts_and_prunes_stale_errors(tmp_path):
    store = FeatureStore(tmp_path)
    key = DatasetKey("is10", "abc", "CRE")
    store.write_part(key, feature_rows(["u-1", "u-2"], "CRE", 3))
    store.write_part(key, feature_rows(["u-2", "u-3"], "CRE", 3))
    store.write_part(key, error_rows(["u-3", "u-4"], "CRE", "empty audio: /p"), errors=True)
    store.write_part(key, error_rows(["u-4"], "CRE", "too short (0.01 s < 0.1 s): /p"), errors=True)
    store.compact(key)
    folder = tmp_path / "is10" / "abc" / "CRE"
    (part,) = folder.glob("part-*.parquet")
    assert pq.read_table(part).column("utt_id").to_pylist() == ["u-1", "u-2", "u-3"]
    (errors,) = (folder / "errors").glob("part-*.parquet")
    errors = pq.read_table(errors)
    assert errors.column("utt_id").to_pylist() == ["u-4"]  # u-3 now has features
    assert errors.column("kind").to_pylist() == ["too short"]  # the latest reason
    assert [p.name for p in folder.iterdir() if p.name.startswith(".tmp")] == []


@pytest.fixture()
def two_set_store(tmp_path):
    """is10 (dim 4) and fake (dim 2) for corpora CRE and IEM; fake lacks u-1 (too short) and has u-9 extra."""
    store = FeatureStore(tmp_path)
    for name, h in (("is10", "h10"), ("fake", "hf1")):
        store.write_config(name, h, {"feature_set": name, "config_hash": h, "config": {"dim": 1}})
    store.write_part(DatasetKey("is10", "h10", "CRE"), feature_rows(["u-3", "u-1", "u-2"], "CRE", 4))
    store.write_part(DatasetKey("is10", "h10", "IEM"), feature_rows(["u-5", "u-4"], "IEM", 4))
    store.write_part(
        DatasetKey("fake", "hf1", "CRE"),
        feature_rows(["u-2", "u-3", "u-9"], "CRE", 2, offset=0.5, transcript=["b", "c", "z"]),
    )
    store.write_part(DatasetKey("fake", "hf1", "CRE"), error_rows(["u-1"], "CRE", "too short (0 s): /p"), errors=True)
    store.write_part(
        DatasetKey("fake", "hf1", "IEM"), feature_rows(["u-4", "u-5"], "IEM", 2, offset=0.5, transcript=["d", "e"])
    )
    return tmp_path


def test_load_concatenates_in_fixed_order_and_aligns_rows(two_set_store):
    with pytest.warns(FeatureAlignmentWarning) as caught:
        table = load(two_set_store, "fake+is10", ["IEM", "CRE"])
    message = str(caught[0].message)
    assert "dropped 2 row(s)" in message
    assert "1 in is10 but not in fake (too short ×1)" in message
    assert "1 in fake but not in is10 (not extracted ×1)" in message
    assert table.feature_sets == ["is10", "fake"] and table.dims == {"is10": 4, "fake": 2}
    assert table.x.shape == (4, 6) and table.x.dtype == np.float32
    assert table.meta["utt_id"].tolist() == ["u-4", "u-5", "u-2", "u-3"]  # corpora as asked, ids sorted
    numbers = table.meta["utt_id"].str.split("-").str[1].astype(float).to_numpy()
    np.testing.assert_array_equal(table.x[:, table.columns("is10")], np.repeat(numbers[:, None], 4, axis=1))
    np.testing.assert_array_equal(table.x[:, table.columns("fake")], np.repeat(numbers[:, None] + 0.5, 2, axis=1))
    assert table.meta["transcript"].tolist() == ["d", "e", "b", "c"]  # extras of later sets join the meta
    assert table.config_hashes == {"is10": "h10", "fake": "hf1"}


def test_load_without_corpora_takes_every_corpus_and_needs_no_warning_when_aligned(two_set_store):
    table = load(two_set_store, ["is10"])
    assert sorted(set(table.meta["corpus"])) == ["CRE", "IEM"] and len(table) == 5


def test_load_names_what_is_missing_and_the_command_to_run(two_set_store):
    with pytest.raises(
        FeatureStoreError,
        match=r"(?s)no corpus 'POD'.*has: CRE, IEM.*rdlr extract --manifest <POD"
        r" manifest.csv> --features is10",
    ) as error:
        load(two_set_store, "is10", ["CRE", "POD"])
    assert "--store" in str(error.value)
    with pytest.raises(FeatureStoreError, match=r"(?s)no feature set 'w2v'.*is10 \(config h10\): CRE, IEM") as error:
        load(two_set_store, "is10+w2v", ["CRE"])
    assert "rdlr extract --manifest <CRE manifest.csv> --features w2v" in str(error.value)


def test_load_requires_choosing_between_configs(two_set_store):
    store = FeatureStore(two_set_store)
    store.write_config("is10", "h11", {"config": {"feature_level": "LowLevelDescriptors"}})
    store.write_part(DatasetKey("is10", "h11", "CRE"), feature_rows(["u-1"], "CRE", 4))
    with pytest.raises(FeatureStoreError, match=r"(?s)2 extractor configs.*configs=\{'is10': '<hash>'\}.*h10.*h11"):
        load(two_set_store, "is10", ["CRE"])
    assert len(load(two_set_store, "is10", ["CRE"], configs={"is10": "h11"})) == 1
    with pytest.raises(FeatureStoreError, match="no config 'nope'.*h10, h11"):
        load(two_set_store, "is10", ["CRE"], configs={"is10": "nope"})


def test_hf_feature_sets_resolve_to_the_config_of_their_model_folder(tmp_path):
    store = FeatureStore(tmp_path)
    for h, folder in (("a1", tmp_path / "m1" / "hubert"), ("b2", tmp_path / "m2" / "hubert")):
        store.write_config("hf-hubert", h, {"config": {"model_dir": str(folder), "layer": -1}})
        store.write_part(DatasetKey("hf-hubert", h, "CRE"), feature_rows(["u-1"], "CRE", 3, offset=len(h)))
    table = load(tmp_path, f"hf:{tmp_path / 'm2' / 'hubert'}", "CRE")
    assert table.feature_sets == ["hf-hubert"] and table.config_hashes == {"hf-hubert": "b2"}
    info = json.loads((tmp_path / "hf-hubert" / "b2" / "config.json").read_text())
    assert info["config"]["layer"] == -1


def test_a_large_corpus_loads_exactly(tmp_path):
    """8000 × 1582 values come back bit for bit, in the rows' order (no timing here: the machines are shared)."""
    store = FeatureStore(tmp_path)
    store.write_config("is10", "h", {"config": {}})
    n, dim = 8000, 1582
    ids = [f"u-{i}" for i in range(n)]
    x = (np.arange(n * dim, dtype=np.float32) % 9973).reshape(n, dim)
    table = pa.table({"utt_id": ids, "corpus": ["CRE"] * n}).append_column("features", encode_vectors(x))
    store.write_part(DatasetKey("is10", "h", "CRE"), table)
    loaded = load(tmp_path, "is10", "CRE")
    order = pd.Index(ids).get_indexer(loaded.meta["utt_id"])
    np.testing.assert_array_equal(loaded.x, x[order])


def test_a_reader_lists_again_when_a_compaction_deletes_a_listed_part(tmp_path):
    key = DatasetKey("is10", "abc", "CRE")
    writer = FeatureStore(tmp_path)
    for i in range(3):
        writer.write_part(key, feature_rows([f"u-{i}"], "CRE", 3))

    class RacedReader(FeatureStore):
        """Lists the parts, then a compaction by another process replaces them before they are read."""

        raced = False

        def _parts(self, path):
            parts = super()._parts(path)
            if parts and not self.raced:
                self.raced = True
                writer.compact(key)
            return parts

    reader = RacedReader(tmp_path)
    assert sorted(reader.ids(key)) == ["u-0", "u-1", "u-2"] and reader.raced
    assert len(list((tmp_path / "is10" / "abc" / "CRE").glob("part-*.parquet"))) == 1


def test_compaction_drops_vectors_of_changed_audio_and_leftover_temporary_files(tmp_path):
    store = FeatureStore(tmp_path)
    key = DatasetKey("is10", "abc", "CRE")
    store.write_part(key, feature_rows(["u-1", "u-2"], "CRE", 3, audio_fingerprint=["old1", "old2"]))
    store.write_part(key, feature_rows(["u-3"], "CRE", 3))  # an older store's row: no fingerprint
    folder = tmp_path / "is10" / "abc" / "CRE"
    (folder / ".tmp-0123").write_bytes(b"PAR1 half a part of a killed writer")
    assert store.needs_compaction(key)
    store.compact(key, current=pd.Series({"u-1": "old1", "u-2": "new2", "u-3": "new3"}))
    assert sorted(store.ids(key)) == ["u-1", "u-3"]  # u-2's audio changed: its vector is gone
    assert [p.name for p in folder.iterdir()] == [next(folder.glob("part-*")).name]
    assert not store.needs_compaction(key)
