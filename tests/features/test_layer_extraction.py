"""``whisper@all`` through the Ray Data pipeline: one forward pass per batch, every layer stored as its own feature
set (loadable as ``whisper@N``, equal to the extractor's own vectors), later runs of single layers reuse them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rdlr.features import extract, load
from rdlr.features.registry import build_extractor
from rdlr.features.store import FeatureStore

pytest.importorskip("whisper")


@pytest.fixture()
def manifest(tmp_path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i, seconds in enumerate((0.6, 1.4, 0.9, 2.0, 1.1)):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, (0.2 * rng.standard_normal(int(seconds * 16_000))).astype(np.float32), 16_000)
        rows.append({"utt_id": f"u{i}", "path": str(path), "corpus": "TOY", "label": "neutral", "speaker": "s1"})
    return pd.DataFrame(rows)


def test_all_layers_in_one_pass_stored_apart_and_reused(ray_session, tmp_path, tiny_whisper_checkpoint, manifest):
    checkpoint, model = tiny_whisper_checkpoint(tmp_path)
    models = {"whisper": str(checkpoint)}
    store = str(tmp_path / "store")
    blocks = model.dims.n_audio_layer
    summary = extract(manifest, "whisper@all", store, workers=1, models=models, batch_size=2, progress=False)
    names = [f"whisper@{n}" for n in range(blocks + 1)]
    assert len(summary.runs) == 1 and summary.runs[0].processed == len(manifest)  # one pass for every layer
    assert sorted(c.feature_set for c in summary.counts) == sorted(names)
    assert all(c.extracted == len(manifest) for c in summary.counts)
    assert set(names) <= set(FeatureStore(store).feature_sets())
    for layer, name in enumerate(names):
        table = load(store, name, ["TOY"])
        single = build_extractor(name, models)
        single.setup("cpu")
        order = {r["utt_id"]: r for r in manifest.to_dict("records")}
        direct = np.stack([e.vector for e in single.extract([order[u] for u in table.meta["utt_id"]])])
        np.testing.assert_allclose(table.x, direct, rtol=1e-5, atol=1e-6)
        assert table.dims == {name: model.dims.n_audio_state}, layer
    again = extract(manifest, "whisper@1,whisper@0", store, workers=1, models=models, progress=False)
    assert not again.runs and all(c.present == len(manifest) for c in again.counts)
    with pytest.raises(ValueError, match="'whisper@all' names every layer; load one"):
        load(store, "whisper@all", ["TOY"])
