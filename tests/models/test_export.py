"""``rdlr export``: a tiny real sweep on the demo features, then the selected configuration's model retrained from
its result row, with the row's validation and test UA reproduced exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rdlr
from rdlr.cli import main
from rdlr.features import load
from rdlr.labels import CLASSES
from rdlr.metrics import unweighted_accuracy
from rdlr.models.folder import CARD_FILE
from rdlr.report.selection import select_configs
from rdlr.results import read_results
from rdlr.spec.core import SweepSpec
from rdlr.sweep.driver import run_sweep
from rdlr.sweep.inputs import load_tables, spec_corpora

SPEC_ID = "tiny-export"


@pytest.fixture(scope="module")
def sweep(demo_model: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """ce on held-out CRE-demo: 2 batch sizes × 2 seeds, 3 epochs, on the store the demo model filled."""
    spec = SweepSpec.from_dict(
        {
            "id": SPEC_ID,
            "data": {"source": "demo", "store": str(demo_model.store)},
            "features": ["is10"],
            "held_out": ["CRE-demo"],
            "unlabeled": "LIB-demo",
            "protocols": {"out_of_corpus": ["ce"]},
            "seeds": [0, 1],
            "search": {"configs": 2, "space": {"batch_size": [16, 32]}},
            "training": {"max_epochs": 3},
            "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0},
        }
    )
    storage = tmp_path_factory.mktemp("export") / "runs"
    tables = load_tables(spec, str(demo_model.store), spec_corpora(spec, None))
    outcome = run_sweep(
        spec,
        tables,
        str(storage),
        log=lambda line: None,
        resolved={"data_root": None, "feature_store": str(demo_model.store), "models": {}},
    )
    assert outcome.ok and outcome.rows == 4
    return {"storage": storage, "results": read_results(storage / SPEC_ID), "store": demo_model.store}


def _export(sweep: dict[str, Any], out: Path, *extra: str) -> int:
    return main(
        [
            "export",
            str(sweep["storage"]),
            SPEC_ID,
            "--method",
            "ce",
            "--held-out",
            "CRE-demo",
            "--out",
            str(out),
            *extra,
        ]
    )


@pytest.mark.parametrize("selection", ["validation", "paper"])
def test_export_reproduces_the_selected_trial(sweep, tmp_path, capsys, selection):
    assert _export(sweep, tmp_path / "model", "--selection", selection) == 0
    assert "matches the sweep's row" in capsys.readouterr().out
    card = json.loads((tmp_path / "model" / CARD_FILE).read_text())
    results = sweep["results"]
    chosen = select_configs(results, selection).iloc[0]
    metric = "val_ua" if selection == "validation" else "test_ua"
    trials = results[results["config_id"] == chosen["config_id"]]
    row = trials.sort_values([metric, "seed"], ascending=[False, True]).iloc[0]
    source = card["training"]["sweep"]
    assert source["config_id"] == chosen["config_id"] and source["selection"] == selection
    assert source["reproduced"] is True and source["row"]["seed"] == row["seed"] == card["seed"]
    assert card["metrics"]["val_ua"] == row["val_ua"] and card["metrics"]["test_ua"] == row["test_ua"]
    assert card["hparams"]["batch_size"] == json.loads(row["hparams"])["batch_size"]
    assert card["training"]["corpora"]["CRE-demo"] == {"test": 24}


def test_the_exported_model_predicts_the_held_out_corpus_as_in_the_sweep(sweep, tmp_path):
    assert _export(sweep, tmp_path / "model", "--seed", "1") == 0
    model = rdlr.load_model(tmp_path / "model")
    table = load(sweep["store"], "is10", ["CRE-demo"])
    predicted = model.predict_features(table.x)["label"].map(CLASSES.index).to_numpy()
    truth = table.meta["label"].map(CLASSES.index).to_numpy()
    assert model.card.seed == 1 and model.card.training["sweep"]["row"]["seed"] == 1
    assert unweighted_accuracy(truth, predicted) == model.card.metrics["test_ua"]
    results = sweep["results"]
    row = results[(results["seed"] == 1) & (results["config_id"] == model.card.training["sweep"]["config_id"])]
    assert model.card.metrics["test_ua"] == row["test_ua"].item()


def test_export_errors_name_what_is_there(sweep, tmp_path, capsys):
    assert (
        main(
            [
                "export",
                str(sweep["storage"]),
                SPEC_ID,
                "--method",
                "rdlr",
                "--held-out",
                "CRE-demo",
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "no finished trial with method 'rdlr'; present: ce" in capsys.readouterr().err
    assert _export(sweep, tmp_path / "m", "--seed", "7") == 2
    assert "has no finished trial with seed 7; seeds: 0, 1" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                str(sweep["storage"]),
                "nope",
                "--method",
                "ce",
                "--held-out",
                "CRE-demo",
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "no sweep 'nope'" in capsys.readouterr().err


def test_export_splits_the_data_as_the_sweep_did(sweep, tmp_path, capsys, monkeypatch):
    """The retrained trial gets the sweep's roles, including how a held-out POD is tested (``training.pod_test``,
    which the sweep's trials pass to the split)."""
    import rdlr.models.export as export

    calls = []

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return assign_roles(*args, **kwargs)

    assign_roles = export.assign_roles
    monkeypatch.setattr(export, "assign_roles", recording)
    assert _export(sweep, tmp_path / "model") == 0
    assert [call.get("pod_test") for call in calls] == ["all"]  # the spec's default, passed on explicitly
