"""End to end on the real EmoDB with a tiny random Whisper: ``rdlr extract --features whisper@all`` -> ``rdlr plan``
and ``rdlr sweep`` over two layers as feature sets -> ``rdlr report`` comparing them (kept small: 60 utterances,
one configuration, one seed, two epochs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rdlr.cli import main
from rdlr.corpora import load_corpus
from tests.helpers.sweep_cli import run_sweep_cli

pytest.importorskip("whisper")
pytestmark = pytest.mark.slow


def test_whisper_all_then_a_sweep_over_two_layers_then_the_report(
    ray_session, emodb_root: Path, tmp_path: Path, tiny_whisper_checkpoint, capsys
):
    checkpoint, _ = tiny_whisper_checkpoint(tmp_path)
    manifest = load_corpus("emodb", emodb_root).iloc[::9].reset_index(drop=True)  # 60 utterances, every speaker
    manifest_csv = tmp_path / "emodb.csv"
    manifest.to_csv(manifest_csv, index=False)
    store = tmp_path / "store"
    extract_args = ["extract", "--manifest", str(manifest_csv), "--features", "whisper@all", "--store", str(store)]
    extract_args += ["--whisper-checkpoint", str(checkpoint), "--workers", "1", "--device", "cpu", "--no-progress"]
    assert main(extract_args) == 0
    assert {"whisper@0", "whisper@1", "whisper@2"} <= {p.name for p in store.iterdir()}
    spec = {
        "id": "emodb-layers",
        "description": "two Whisper encoder layers on EmoDB",
        "data": {"source": "manifests", "manifests": [str(manifest_csv)], "store": str(store)},
        "features": ["whisper@1", "whisper@2"],
        "held_out": ["EMODB"],
        "protocols": {"within_corpus": ["ce"]},
        "seeds": [0],
        "search": {"configs": 1, "space": {"batch_size": [16]}},
        "training": {"max_epochs": 2, "patience": 1},
        "models": {"whisper": str(checkpoint)},
        "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0},
    }
    spec_path = tmp_path / "emodb-layers.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    capsys.readouterr()
    assert main(["plan", str(spec_path), "--data-root", str(tmp_path)]) == 0
    plan = capsys.readouterr().out
    assert "whisper@1" in plan and "whisper@2" in plan
    storage = tmp_path / "runs"
    assert run_sweep_cli(str(spec_path), "--storage", str(storage)) == 0
    assert main(["report", str(storage), "--out", str(tmp_path / "reports"), "--no-plots"]) == 0
    table = (tmp_path / "reports" / "emodb-layers" / "main.md").read_text()
    assert "whisper@1" in table.lower() and "whisper@2" in table.lower()
