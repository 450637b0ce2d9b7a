"""The README model card: Hugging Face front matter that parses as YAML, the sections a reader needs, and a model
folder laid out as ``huggingface_hub.snapshot_download`` leaves it (files as symlinks into a blobs folder) loads."""

from __future__ import annotations

import os
from pathlib import Path

import rdlr
from rdlr.labels import CLASSES
from rdlr.models.card import README_FILE, parse_front_matter
from rdlr.models.folder import CARD_FILE, WEIGHTS_FILE
from tests.models.test_folder import make_model


def test_the_card_front_matter_parses_as_yaml_with_the_model_hub_keys(tmp_path):
    make_model(tmp_path / "m")
    text = (tmp_path / "m" / README_FILE).read_text()
    meta = parse_front_matter(text)
    assert meta["library_name"] == "rdlr"
    assert meta["emotion_classes"] == list(CLASSES)
    assert {"speech-emotion-recognition", "features-is10", "method-ce"} <= set(meta["tags"])
    assert "val_ua" in meta["metrics"] and "nan_metric" not in meta["metrics"]  # NaN is None in model.json
    assert meta["model-index"][0]["results"][0]["metrics"] == [{"type": "val_ua", "value": 0.5}]
    assert isinstance(meta["datasets"], list)
    for section in ("## Method", "## Training data and split", "## Metrics", "## Use", "## Limitations"):
        assert section in text
    assert "| `batch_size` | 32 |" in text and 'rdlr.load_model("m")' in text


def test_a_snapshot_download_layout_loads(tmp_path):
    make_model(tmp_path / "source")
    blobs = tmp_path / "hub" / "models--user--rdlr-ce" / "blobs"
    snapshot = blobs.parent / "snapshots" / "0123abcd"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for index, name in enumerate((CARD_FILE, WEIGHTS_FILE, README_FILE)):
        (tmp_path / "source" / name).rename(blobs / f"blob{index}")
        os.symlink(Path("..", "..", "blobs", f"blob{index}"), snapshot / name)
    (tmp_path / "link").symlink_to(snapshot)
    model = rdlr.load_model(tmp_path / "link")
    assert model.classes == CLASSES
