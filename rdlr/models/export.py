"""``rdlr export``: the model of a sweep's selected configuration, retrained from its result row.

A sweep keeps no weights (Table 2 alone is 7,560 trials of ~14 MB each); a result row records everything that
determines its model: the spec (``spec.yaml``, with the resolved feature store and trial resources), feature set,
protocol, method, held-out corpus, hyperparameters and seed. Export selects the configuration as the report does
(:func:`rdlr.report.selection.select_configs`: best mean validation UA over seeds, or the paper's test-set protocol),
takes the seed of that configuration with the best selection metric (or the one asked for), rebuilds the trial's
data as the sweep did (same feature rows in the same order, the spec's split seed, Section 3.1) and runs the same
trainer with the same hyperparameters, seed, training settings and thread count. On CPU that gives the trial's model
back: export compares its validation and test UA with the row's and records whether they match (a sweep trained on
GPU gives a close, not bit-identical, model).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rdlr.corpora import assign_roles
from rdlr.methods import get_method
from rdlr.models.extractors import model_extractors, specs_from_store
from rdlr.models.folder import ModelCard, save_model
from rdlr.models.training import build_card, torch_threads
from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.report.selection import SELECTION_DESCRIPTIONS, SELECTIONS, check_selection, select_configs
from rdlr.results import NORMALIZATION, RESOLVED_KEY, SPEC_FILE, validate_results
from rdlr.spec import SweepSpec
from rdlr.sweep.files import STAGE1_DIR, SweepFiles, read_results_uri
from rdlr.sweep.inputs import resolve_storage
from rdlr.sweep.resolved import RunOptions, resolve_run
from rdlr.train import TrainConfig, TrialData, run_trial
from rdlr.train.data import labeled_table

MATCH_TOLERANCE = 1e-9

Log = Callable[[str], None]


class ExportError(ValueError):
    """A sweep, configuration or seed that cannot be exported; the message lists what is there."""


@dataclass
class ExportOutcome:
    """The model folder, its card, the result row it reproduces, whether its UAs match the row's, the time."""

    folder: Path
    card: ModelCard
    row: dict[str, Any]
    reproduced: bool
    wall_time_s: float


def read_sweep(storage: str, spec_id: str) -> tuple[SweepSpec, dict[str, Any], SweepFiles]:
    """The spec a sweep saved beside its results, what that run resolved (paths, resources), and its files."""
    files = SweepFiles(storage, spec_id)
    if not files.dir.exists(SPEC_FILE):
        raise ExportError(
            f"no sweep {spec_id!r} under {storage}: {files.dir.uri}/{SPEC_FILE} does not exist; "
            "give the --storage of the sweep and its spec id"
        )
    document = files.read_saved_spec()
    resolved = dict(document.pop(RESOLVED_KEY, None) or {})
    return SweepSpec.from_dict(document, where=f"{files.dir.uri}/{SPEC_FILE}"), resolved, files


def _one_of(frame: pd.DataFrame, column: str, value: str, where: str) -> pd.DataFrame:
    rows = frame[frame[column] == value]
    if rows.empty:
        present = ", ".join(sorted(frame[column].astype(str).unique())) or "none"
        raise ExportError(f"{where}: no finished trial with {column} {value!r}; present: {present}")
    return rows


def select_row(
    results: pd.DataFrame,
    features: str,
    protocol: str,
    method: str,
    held_out: str,
    selection: str,
    seed: int | None,
    where: str,
    normalization: str = DEFAULT_NORMALIZATION,
) -> tuple[pd.Series, pd.Series]:
    """(the selected configuration's scores, the result row of the seed to export)."""
    rows = results
    keys = (
        ("features", features),
        (NORMALIZATION, normalization),
        ("protocol", protocol),
        ("method", method),
        ("held_out", held_out),
    )
    for column, value in keys:
        rows = _one_of(rows, column, value, where)
    chosen = select_configs(rows, selection).iloc[0]
    trials = rows[rows["config_id"] == chosen["config_id"]]
    if seed is None:
        ranked = trials.sort_values([SELECTIONS[selection], "seed"], ascending=[False, True], kind="mergesort")
        return chosen, ranked.iloc[0]
    picked = trials[trials["seed"] == seed]
    if picked.empty:
        raise ExportError(
            f"{where}: configuration {chosen['config_id']} has no finished trial with seed {seed}; "
            f"seeds: {', '.join(map(str, sorted(trials['seed'])))}"
        )
    return chosen, picked.iloc[0]


def _feature_set(spec: SweepSpec, features: str | None, where: str) -> str:
    if features is not None:
        if features not in spec.features:
            raise ExportError(
                f"{where}: feature set {features!r} is not in the sweep; valid: {', '.join(spec.features)}"
            )
        return features
    if len(spec.features) > 1:
        raise ExportError(
            f"{where}: the sweep has several feature sets; choose one with --features ({', '.join(spec.features)})"
        )
    return spec.features[0]


def export_model(
    storage: str | os.PathLike[str],
    spec_id: str,
    method: str,
    held_out: str,
    out: str | os.PathLike[str],
    *,
    selection: str = "validation",
    features: str | None = None,
    protocol: str = "out_of_corpus",
    normalization: str = DEFAULT_NORMALIZATION,
    seed: int | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    log: Log = print,
) -> ExportOutcome:
    """Write the model of the configuration ``selection`` picks for (features, normalization, protocol, method,
    held_out); the model folder records the normalisation (:mod:`rdlr.normalization`)."""
    from rdlr.features import load

    started = time.perf_counter()
    check_selection(selection)
    storage = resolve_storage(str(storage))
    spec, resolved, files = read_sweep(storage, spec_id)
    where = files.results_uri
    features = _feature_set(spec, features, where)
    results = validate_results(read_results_uri(files.results_uri), where)
    chosen, row = select_row(results, features, protocol, method, held_out, selection, seed, where, normalization)
    log(
        f"{spec_id}: {features} ({normalization} normalisation) {protocol} {method} -> {held_out}: configuration "
        f"{chosen['config_id']} "
        f"({selection} selection of {int(chosen['n_configs'])}), seed {int(row['seed'])}, hparams {row['hparams']}"
    )

    data_root = resolved.get("data_root")
    run = resolve_run(
        spec,
        RunOptions(storage, Path(data_root) if data_root else None),
        store=resolved.get("feature_store"),
        starts_ray=False,
    )
    store, corpora = run.store, run.corpora
    table = load(store, features, corpora)
    labels = spec.label_set()
    x, meta, _ = labeled_table(table.x, table.meta.assign(label=table.meta["label"].fillna("").astype(str)), labels)
    specs = specs_from_store(store, table.config_hashes, table.dims)
    model_extractors(specs, f"feature store {store}")
    config = TrainConfig(**spec.training, device=device)
    roles = assign_roles(meta, protocol, held_out, seed=spec.data.split_seed, pod_test=config.pod_test)
    data = TrialData.from_table(x, meta, roles, labels, normalization=normalization)
    chosen_method = get_method(method)
    hparams = json.loads(row["hparams"])
    cache_dir = files.dir.child(STAGE1_DIR).root if files.dir.is_local else None
    threads = (resolved.get("trial_resources") or {}).get("cpus", spec.resources.cpus_per_trial)
    with torch_threads(threads):
        result = run_trial(data, chosen_method, hparams, int(row["seed"]), config=config, cache_dir=cache_dir, log=log)
    reproduced = all(
        abs(float(result.final.get(key, float("nan"))) - float(row[key])) <= MATCH_TOLERANCE
        for key in ("val_ua", "test_ua")
        if pd.notna(row.get(key))
    )
    info = {
        "command": "rdlr export",
        "sweep": {
            "storage": storage,
            "spec_id": spec_id,
            "results": where,
            "selection": selection,
            "selection_description": SELECTION_DESCRIPTIONS[selection],
            "config_id": chosen["config_id"],
            "configs_compared": int(chosen["n_configs"]),
            "seeds_of_config": int(chosen["n_seeds"]),
            "val_ua_mean": float(chosen["val_ua_mean"]),
            "test_ua_mean": float(chosen["test_ua_mean"]),
            "row": {key: row.get(key) for key in ("seed", "val_ua", "test_ua", "trial_id", "epochs")},
            "reproduced": reproduced,
        },
        "data": {"feature_store": store, "corpora": list(corpora)},
        "split": {"protocol": protocol, "held_out": held_out, "split_seed": spec.data.split_seed,
                  "rule": "rdlr.corpora.assign_roles (Section 3.1)"},
        "config": asdict(config), "torch_threads": int(max(1, int(threads))),
    }  # fmt: skip
    card = build_card(result, data, specs, chosen_method, hparams, int(row["seed"]), info, labels)
    folder = save_model(out, card, result.state_dict["classifier"], overwrite=overwrite)
    return ExportOutcome(folder, card, {k: row[k] for k in row.index}, reproduced, time.perf_counter() - started)
