"""The stage-1 cache lives on shared storage: a planted or foreign file there is a miss, never executed."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from rdlr.methods import get_method
from rdlr.train import TrainConfig, run_trial
from rdlr.train.stage1 import Stage1Cache
from tests.helpers.synthetic import synthetic_trial_data

KEY = "0123456789abcdef01234567"


class WritesMarker:
    """Pickles as ``eval(code)``: unpickling it unrestricted writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return eval, (f"__import__('pathlib').Path({str(self.marker)!r}).write_text('ran')",)


def plant_hostile(path: Path, marker: Path) -> None:
    torch.save({"train_logits": WritesMarker(marker), "final": {}}, path)


def genuine_entry_bytes(tmp_path: Path) -> bytes:
    Stage1Cache(tmp_path / "genuine").store(KEY, torch.randn(6, 4), {"val_ua": 0.5})
    return (tmp_path / "genuine" / f"stage1-{KEY}.pt").read_bytes()


PLANTS = {
    "hostile pickle": lambda path, marker, tmp: plant_hostile(path, marker),
    "a bare tensor": lambda path, marker, tmp: torch.save(torch.zeros(3), path),
    "other keys": lambda path, marker, tmp: torch.save({"model": {"w": torch.zeros(2)}}, path),
    "1-D logits": lambda path, marker, tmp: torch.save({"train_logits": torch.zeros(3), "final": {}}, path),
    "integer logits": lambda path, marker, tmp: torch.save(
        {"train_logits": torch.zeros(3, 4, dtype=torch.long), "final": {}}, path
    ),
    "final not a dict": lambda path, marker, tmp: torch.save({"train_logits": torch.zeros(3, 4), "final": [1]}, path),
    "garbage bytes": lambda path, marker, tmp: path.write_bytes(b"not a torch file"),
    "truncated entry": lambda path, marker, tmp: path.write_bytes(genuine_entry_bytes(tmp)[:200]),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_untrusted_entry_is_a_miss_with_a_warning(plant, tmp_path):
    cache = Stage1Cache(tmp_path / "cache")
    path = tmp_path / "cache" / f"stage1-{KEY}.pt"
    path.parent.mkdir()
    marker = tmp_path / "marker"
    PLANTS[plant](path, marker, tmp_path)
    with pytest.warns(RuntimeWarning, match=rf"ignoring stage-1 cache entry {path}: .*training the stage-1 model"):
        assert cache.load(KEY) is None
    assert not marker.exists()


def test_genuine_entry_round_trips_without_warnings(tmp_path):
    cache = Stage1Cache(tmp_path)
    logits = torch.randn(6, 4)
    cache.store(KEY, logits, {"val_ua": 0.5, "epochs": 3, "confusion": [[1, 0], [0, 1]]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        entry = cache.load(KEY)
    assert torch.equal(entry["train_logits"], logits)
    assert entry["final"] == {"val_ua": 0.5, "epochs": 3, "confusion": [[1, 0], [0, 1]]}


@pytest.mark.slow
def test_trial_retrains_stage1_over_a_planted_file(tmp_path):
    data = synthetic_trial_data(rows_per_corpus=64, unlabeled=16)
    config, hparams = TrainConfig(max_epochs=1), {"batch_size": 64, "gamma": 0.3}
    first = run_trial(data, "lr", hparams, 0, config, str(tmp_path))
    (entry_path,) = tmp_path.glob("stage1-*.pt")
    genuine = torch.load(entry_path, weights_only=True)
    marker = tmp_path / "marker"
    plant_hostile(entry_path, marker)
    with pytest.warns(RuntimeWarning, match="ignoring stage-1 cache entry"):
        second = run_trial(data, "lr", hparams, 0, config, str(tmp_path))
    assert not marker.exists()
    assert second.stage1["train_predictions"].tolist() == first.stage1["train_predictions"].tolist()
    assert second.final == first.final
    replaced = torch.load(entry_path, weights_only=True)  # the planted file is replaced by a genuine entry
    assert torch.equal(replaced["train_logits"], genuine["train_logits"]) and replaced["final"] == genuine["final"]


@pytest.mark.slow
def test_trial_says_whether_it_trains_stage1_or_reuses_the_cached_entry(tmp_path):
    data = synthetic_trial_data(rows_per_corpus=64, unlabeled=16)
    config, hparams = TrainConfig(max_epochs=1), {"batch_size": 64, "gamma": 0.3}
    lines: list[str] = []
    run_trial(data, "lr", hparams, 0, config, str(tmp_path), log=lines.append)
    (entry_path,) = tmp_path.glob("stage1-*.pt")
    stage1 = get_method("lr").stage1(config.lr_stage1).id  # LR as the paper uses it: with class weights (ce+cw)
    assert lines == [
        f"stage 1: training the {stage1} model whose outputs give stage 2's targets; its logits are "
        f"cached as {entry_path}"
    ]
    lines.clear()
    run_trial(data, "lr", {**hparams, "gamma": 0.6}, 0, config, str(tmp_path), log=lines.append)  # γ: same stage 1
    assert lines == [
        f"stage 1: reusing the cached {stage1} model {entry_path} (its training-set logits and metrics; "
        "not trained again)"
    ]
    lines.clear()
    run_trial(data, "ce", {"batch_size": 64}, 0, config, str(tmp_path), log=lines.append)
    assert lines == []  # one-stage methods have no stage 1
