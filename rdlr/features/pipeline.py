"""Manifest -> Ray Data -> Parquet feature store, incrementally and resumably.

For each feature set, the utterances that the store lacks (and that are not already recorded as failed, unless
``retry_errors``) go through ``Dataset.map_batches`` on a pool of actors (``ray.data.ActorPoolStrategy``); each
actor (:mod:`rdlr.features.actor`) receives the configured extractor and calls ``setup(device)`` once, so a model
loads once per actor. The driver consumes the mapped dataset block by block and writes part files as results
arrive (:mod:`rdlr.features.writer`), so an interrupted run keeps what finished and the next run extracts only the
rest. Unreadable utterances land in the errors table with their reason; the run carries on.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from rdlr.cluster_capacity import ClusterCapacity
from rdlr.corpora.manifest import check_unique_ids
from rdlr.features.actor import ExtractActor
from rdlr.features.base import Extractor
from rdlr.features.placement import actor_resources, extractor_device
from rdlr.features.provenance import config_info
from rdlr.features.registry import build_extractor, parse_feature_sets, store_name
from rdlr.features.store import DatasetKey, FeatureStore, check_name, reason_kind
from rdlr.features.summary import CorpusCounts, ExtractSummary, FeatureSetRun
from rdlr.features.writer import ROWS_PER_PART, PartWriter
from rdlr.ray_session import ray_session

DEFAULT_BATCH_SIZE = 16
REQUIRED_COLUMNS = ("utt_id", "path", "corpus")


def validate_manifest(manifest: pd.DataFrame) -> pd.DataFrame:
    """``manifest`` with string ids, checked for the columns extraction needs and unique utt_ids."""
    missing = [c for c in REQUIRED_COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}; it has {list(manifest.columns)}")
    manifest = manifest.reset_index(drop=True).copy()
    for column in REQUIRED_COLUMNS:
        manifest[column] = manifest[column].astype(str)
    check_unique_ids(manifest, "manifest")
    for corpus in manifest["corpus"].unique():
        check_name("corpus", corpus)
    return manifest


def plan(manifest: pd.DataFrame, store: FeatureStore, feature_set: str, config_hash: str,
         retry_errors: bool) -> tuple[pd.DataFrame, list[CorpusCounts]]:
    """Rows of ``manifest`` still to extract for this feature set and config, and the per-corpus counts."""
    todo_parts: list[pd.DataFrame] = []
    counts: list[CorpusCounts] = []
    for corpus, rows in manifest.groupby("corpus", sort=True):
        key = DatasetKey(feature_set, config_hash, str(corpus))
        present = rows["utt_id"].isin(store.ids(key))
        failed = ~present & rows["utt_id"].isin(store.ids(key, errors=True))
        skip = present | (failed & (not retry_errors))
        counts.append(CorpusCounts(feature_set, config_hash, str(corpus), total=len(rows), present=int(present.sum()),
                                   failed_before=int(failed.sum()) if not retry_errors else 0))
        todo_parts.append(rows[~skip])
    return pd.concat(todo_parts) if todo_parts else manifest.iloc[:0], counts


def input_dataset(ray: Any, todo: pd.DataFrame, batch_size: int) -> Any:
    """The utterances to extract as a Ray dataset of blocks of at most ``batch_size`` rows, so that each actor
    task returns one batch's results (the unit of incremental writing and of progress).

    ``from_items`` builds the blocks and their metadata in the driver; ``from_pandas``/``from_arrow`` would
    start one remote metadata task per block (seconds of worker start-up on a small machine).
    """
    columns = ["utt_id", "path", "corpus"]
    records = todo[columns].to_dict("records")
    if "transcript" in todo.columns:
        for record, text in zip(records, todo["transcript"].tolist()):
            record["transcript"] = text if isinstance(text, str) else None
    n_blocks = max(1, -(-len(records) // batch_size))
    return ray.data.from_items(records, override_num_blocks=n_blocks)


def run_feature_set(ray: Any, extractor: Extractor, todo: pd.DataFrame, writer: PartWriter,
                    counts: Mapping[str, CorpusCounts], workers: int, resources: dict[str, float], device: str,
                    batch_size: int, progress: bool) -> FeatureSetRun:
    """Map ``todo`` through ``extractor`` on an actor pool and write results as they arrive."""
    from tqdm.auto import tqdm

    context = ray.data.DataContext.get_current()
    saved_bars = context.enable_progress_bars
    context.enable_progress_bars = False
    dataset = input_dataset(ray, todo, batch_size).map_batches(
        ExtractActor,
        fn_constructor_kwargs={"extractor": extractor, "device": device},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        **resources,
    )
    bar = tqdm(total=len(todo), desc=writer.feature_set, unit="utt", disable=not progress, mininterval=0.5)
    start = time.time()
    first_started = float("inf")
    processed = 0
    n_errors = 0
    nodes: Counter = Counter()
    try:
        for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
            if not len(block):
                continue
            first_started = min(first_started, float(pc.min(block.column("started")).as_py()))
            added, reasons = writer.add(block)
            for corpus, n in Counter(added).items():
                counts[corpus].extracted += n
            for corpus, reason in reasons:
                counts[corpus].errors[reason_kind(reason)] += 1
            processed += len(block)
            n_errors += len(reasons)
            nodes.update(block.column("node").to_pylist())
            bar.update(len(block))
            bar.set_postfix(errors=n_errors, refresh=False)
    finally:
        writer.flush()
        bar.close()
        context.enable_progress_bars = saved_bars
    end = time.time()
    steady = end - first_started if np.isfinite(first_started) else 0.0
    return FeatureSetRun(writer.feature_set, writer.config_hash, workers, processed, end - start, steady, device,
                         dict(nodes))


def extract(manifest_df: pd.DataFrame, feature_sets: str | Iterable[str], store: str, workers: int | None = None,
            device: str = "cpu", models: Mapping[str, str] | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
            retry_errors: bool = False, address: str | None = None, progress: bool = True,
            rows_per_part: int = ROWS_PER_PART, hf_layer: int | None = None,
            capacity: ClusterCapacity | None = None) -> ExtractSummary:
    """Extract ``feature_sets`` (``"is10+w2v"``, ``"is10,bert"`` or a list) for every utterance of ``manifest_df``
    into the feature store at ``store`` (folder or URI), skipping what it already holds.

    ``models`` maps ``w2v``/``bert``/``whisper`` to local model paths; ``hf_layer`` picks the hidden layer of
    ``hf:<dir>`` encoders (``HFEncoderConfig.layer``; default: the last). ``device`` applies to extractors with a
    model; openSMILE IS10 always runs on CPU. ``capacity``: the size an autoscaling cluster may reach, which sizes
    the actor pools (:func:`rdlr.features.placement.actor_resources`). Connects to Ray with
    :func:`rdlr.ray_session.ray_session` (the Ray already initialised in this process, else ``address``, else
    ``RAY_ADDRESS`` or a Ray already running on this machine, else a new local one, left again afterwards).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; give at least 1")
    manifest = validate_manifest(manifest_df)
    feature_store = FeatureStore(store)
    summary = ExtractSummary(store=feature_store.uri)
    jobs = []
    for requested in parse_feature_sets(feature_sets):
        extractor = build_extractor(requested, models or {}, hf_layer=hf_layer)
        name = check_name("feature set", store_name(requested))
        config_hash = extractor.config.config_hash()
        todo, counts = plan(manifest, feature_store, name, config_hash, retry_errors)
        summary.counts.extend(counts)
        jobs.append((requested, name, extractor, config_hash, todo, {c.corpus: c for c in counts}))
    if all(job[4].empty for job in jobs):
        return summary
    with ray_session(address) as ray:
        for requested, name, extractor, config_hash, todo, counts in jobs:
            if todo.empty:
                continue
            actor_device = extractor_device(extractor, device)
            n_workers, resources = actor_resources(ray, workers, actor_device, capacity,
                                                   batches=-(-len(todo) // batch_size))
            if not feature_store.has_config(name, config_hash):
                feature_store.write_config(name, config_hash, config_info(extractor, name, requested))
            writer = PartWriter(feature_store, name, config_hash, manifest, rows_per_part=rows_per_part)
            run = run_feature_set(ray, extractor, todo, writer, counts, n_workers, resources, actor_device,
                                  batch_size, progress)
            summary.runs.append(run)
            info = feature_store.read_config(name, config_hash)
            if writer.dim is not None and info.get("dim") != writer.dim:
                feature_store.write_config(name, config_hash, {**info, "dim": writer.dim})
            for corpus in counts:
                feature_store.compact(DatasetKey(name, config_hash, corpus))
    return summary
