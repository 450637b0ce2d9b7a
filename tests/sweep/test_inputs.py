"""What a spec reads, resolved for one run (rdlr.sweep.inputs): paths, manifests, the encoder layer's config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rdlr.corpora.manifest import ManifestError
from rdlr.features.hf_encoder import HFEncoderConfig
from rdlr.spec.core import SweepSpec
from rdlr.sweep.inputs import (
    check_stored_classes,
    demo_data_root,
    extraction_options,
    feature_components,
    feature_configs,
    feature_store_uri,
    prepare_manifest,
    resolve_path,
    resolve_storage,
    spec_corpora,
)
from tests.helpers.specs import demo_raw

BASE = demo_raw("inputs")


def test_paths_resolve_against_data_root_and_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_storage("s3://bucket/runs/") == "s3://bucket/runs"
    assert resolve_storage("runs") == str(tmp_path / "runs")
    assert resolve_path("s3://bucket/m.pt", tmp_path) == "s3://bucket/m.pt"
    assert resolve_path("/abs/m.pt", tmp_path / "data") == "/abs/m.pt"
    assert resolve_path("models/m.pt", tmp_path / "data") == str(tmp_path / "data" / "models" / "m.pt")
    assert resolve_path("models/m.pt", None) == str(tmp_path / "models" / "m.pt")
    spec = SweepSpec.from_dict(BASE)
    assert feature_store_uri(spec, "/runs") == "/runs/features"
    stored_elsewhere = SweepSpec.from_dict({**BASE, "data": {"source": "demo", "store": "s3://b/features"}})
    assert feature_store_uri(stored_elsewhere, "/runs") == "s3://b/features"
    assert demo_data_root(None, str(tmp_path / "runs")) == tmp_path / "runs" / "demo_data"
    assert demo_data_root(None, "s3://bucket/runs") == tmp_path / "demo_data"
    assert demo_data_root(Path("mine"), "s3://bucket/runs") == tmp_path / "mine"
    assert spec_corpora(spec, None) == ["CRE-demo", "IEM-demo", "IMP-demo", "POD-demo"]


def test_the_spec_layer_picks_the_encoder_config() -> None:
    spec = SweepSpec.from_dict({**BASE, "features": ["is10+hf:/models/hubert-base"], "hf": {"layer": 6}})
    assert feature_components(spec) == ["is10", "hf:/models/hubert-base"]
    assert extraction_options(spec) == {"hf_layer": 6}
    configs = feature_configs(spec)
    assert configs == {"hf:/models/hubert-base": HFEncoderConfig("/models/hubert-base", layer=6).config_hash()}
    assert configs["hf:/models/hubert-base"] != HFEncoderConfig("/models/hubert-base").config_hash()
    unset = SweepSpec.from_dict({**BASE, "features": ["is10+hf:/models/hubert-base"]})
    assert extraction_options(unset) == {} and feature_configs(unset) is None


def test_utt_ids_must_be_unique_across_the_spec_manifests(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(1600, dtype=np.float32), 16000)
    row = {"utt_id": "u1", "path": str(wav), "corpus": "A", "speaker": "s1", "label": "ang"}
    pd.DataFrame([row]).to_csv(tmp_path / "a.csv", index=False)
    others = [
        {**row, "corpus": "B", "utt_id": f"u{i}", "label": label} for i, label in enumerate(("neu", "hap", "sad"), 2)
    ]
    pd.DataFrame([{**row, "corpus": "B"}, *others]).to_csv(tmp_path / "b.csv", index=False)  # B has every class
    spec = SweepSpec.from_dict(
        {**BASE, "data": {"source": "manifests", "manifests": ["a.csv", "b.csv"]}, "held_out": ["A"]}
    )
    assert spec_corpora(spec, tmp_path) == ["A", "B"]
    with pytest.raises(ManifestError, match=r"data \(the spec.s corpora together\): duplicate utt_id value\(s\) .u1."):
        prepare_manifest(spec, tmp_path)


def test_a_class_the_stored_manifests_lack_stops_rdlr_sweep_before_ray(tmp_path: Path) -> None:
    from rdlr.features.metadata import write_manifest
    from rdlr.features.store import FeatureStore
    from rdlr.spec.core import SpecError
    from rdlr.spec.sections import DEMO_LABELED

    spec = SweepSpec.from_dict({**BASE, "labels": ["neutral", "happy", "sad", "angry", "fear"]})
    store = tmp_path / "store"
    check_stored_classes(spec, str(store), DEMO_LABELED)  # nothing stored yet: checked once the tables are read
    for corpus in DEMO_LABELED:
        rows = pd.DataFrame(
            {
                "utt_id": [f"{corpus}-{i}" for i in range(4)],
                "corpus": corpus,
                "label": ["neutral", "happy", "sad", "angry"],
            }
        )
        write_manifest(FeatureStore(store), corpus, rows)
    with pytest.raises(
        SpecError, match="labels: class 'fear' has no training utterance in the out_of_corpus job held out CRE-demo"
    ):
        check_stored_classes(spec, str(store), DEMO_LABELED)
    check_stored_classes(SweepSpec.from_dict(BASE), str(store), DEMO_LABELED)  # the paper's four: all there
