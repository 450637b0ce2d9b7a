"""Manifest -> Ray Data -> Parquet feature store, incrementally and resumably.

For each feature set, the utterances that the store lacks (and that are not already recorded as failed, unless
``retry_errors``) go through ``Dataset.map_batches`` on a pool of actors (``ray.data.ActorPoolStrategy``); each
actor (:mod:`rdlr.features.actor`) receives the configured extractor and calls ``setup(device)`` once, so a model
loads once per actor. The driver consumes the mapped dataset block by block and writes each finished batch as a
part file at once (:mod:`rdlr.features.writer`), so an interrupted run keeps what finished and the next run extracts
only the rest. Unreadable utterances land in the errors table with their reason; the run carries on. The manifest's
columns are stored apart from the vectors (:mod:`rdlr.features.metadata`), and one writer at a time holds the
store's lock.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rdlr.cluster.capacity import ClusterCapacity
from rdlr.cluster.session import ray_session
from rdlr.corpora.manifest import check_unique_ids
from rdlr.features.actor import ExtractActor
from rdlr.features.base import Extractor, ExtractorConfig
from rdlr.features.metadata import audio_fingerprints, manifest_updates, write_manifest
from rdlr.features.placement import actor_resources, extraction_device, extractor_device
from rdlr.features.provenance import config_info
from rdlr.features.registry import build_extractors, parse_feature_sets, store_name
from rdlr.features.store import DatasetKey, FeatureStore, check_name, reason_kind
from rdlr.features.summary import CorpusCounts, ExtractSummary, FeatureSetRun
from rdlr.features.writer import PartWriter, feature_set_rows
from rdlr.io.storage import check_writable

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


def plan(
    manifest: pd.DataFrame,
    store: FeatureStore,
    feature_set: str,
    config_hash: str,
    retry_errors: bool,
    fingerprints: pd.Series | None = None,
) -> tuple[pd.DataFrame, list[CorpusCounts]]:
    """Rows of ``manifest`` still to extract for this feature set and config, and the per-corpus counts.

    An utterance is done when the store holds its vector computed from the audio the manifest has now
    (``fingerprints``: utt_id -> :func:`rdlr.features.metadata.audio_fingerprint`; default: read them), and
    failed before when the errors table holds it for that audio (tried again only with ``retry_errors``).
    """
    if fingerprints is None:
        fingerprints = audio_fingerprints(manifest)
    todo_parts: list[pd.DataFrame] = []
    counts: list[CorpusCounts] = []
    for corpus, rows in manifest.groupby("corpus", sort=True):
        key = DatasetKey(feature_set, config_hash, str(corpus))
        ids = pd.Index(rows["utt_id"])
        now = fingerprints.reindex(ids).to_numpy(dtype=object)
        stored = store.fingerprints(key)
        held = ids.isin(stored.index)
        before = stored.reindex(ids).to_numpy(dtype=object)
        present = held & (pd.isna(before) | pd.isna(now) | (before == now))
        errors = store.fingerprints(key, errors=True)
        failed_for = errors.reindex(ids).to_numpy(dtype=object)
        failed = ~present & ids.isin(errors.index) & ((pd.isna(failed_for) & pd.isna(now)) | (failed_for == now))
        skip = present | (failed & (not retry_errors))
        counts.append(
            CorpusCounts(
                feature_set,
                config_hash,
                str(corpus),
                total=len(rows),
                present=int(present.sum()),
                failed_before=int(failed.sum()) if not retry_errors else 0,
                changed=int((held & ~present).sum()),
            )
        )
        todo_parts.append(rows[~skip])
    return pd.concat(todo_parts) if todo_parts else manifest.iloc[:0], counts


def input_dataset(ray: Any, todo: pd.DataFrame, batch_size: int) -> Any:
    """The utterances to extract as a Ray dataset of blocks of at most ``batch_size`` rows, so that each actor
    task maps one block and returns one batch's results (the unit of incremental writing and of progress).

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


@dataclass
class _Sink:
    """Where one feature set of a run goes: its writer, its counts per corpus, its slice of the extractor's vectors
    and, when it shares the run with other layers of its encoder, the utterances it lacks (the others may lack
    more)."""

    writer: PartWriter
    counts: Mapping[str, CorpusCounts]
    part: int = 0
    parts: int = 1
    wanted: pa.Array | None = None

    def add(self, block: pa.Table) -> int:
        """Store this feature set's part of ``block``; returns the number of errors recorded."""
        added, reasons = self.writer.add(feature_set_rows(block, self.part, self.parts, self.wanted))
        for corpus, n in Counter(added).items():
            self.counts[corpus].extracted += n
        for corpus, reason in reasons:
            self.counts[corpus].errors[reason_kind(reason)] += 1
        return len(reasons)


def run_feature_set(
    ray: Any,
    extractor: Extractor,
    todo: pd.DataFrame,
    sinks: list[_Sink],
    workers: int,
    resources: dict[str, float],
    device: str,
    batch_size: int,
    progress: bool,
) -> FeatureSetRun:
    """Map ``todo`` through ``extractor`` on an actor pool and write each feature set's results as they arrive."""
    from tqdm.auto import tqdm

    context = ray.data.DataContext.get_current()
    saved_bars = context.enable_progress_bars
    context.enable_progress_bars = False
    dataset = input_dataset(ray, todo, batch_size).map_batches(
        ExtractActor,
        fn_constructor_kwargs={"extractor": extractor, "device": device},
        batch_size=None,  # one input block (at most batch_size rows) per call: a batch_size here would bundle blocks
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        **resources,
    )
    label = " ".join(sink.writer.feature_set for sink in sinks)
    bar = tqdm(total=len(todo), desc=label, unit="utt", disable=not progress, mininterval=0.5)
    start = time.time()
    first_started = float("inf")
    processed = 0
    n_errors = 0
    nodes: Counter = Counter()
    try:
        # prefetch_batches=0: with prefetching, the last finished block waits for the next one before it is
        # yielded, so a killed run would lose it
        for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0):
            if not len(block):
                continue
            first_started = min(first_started, float(pc.min(block.column("started")).as_py()))
            n_errors += max(sink.add(block) for sink in sinks)
            processed += len(block)
            nodes.update(block.column("node").to_pylist())
            bar.set_postfix(errors=n_errors, refresh=False)
            if processed < len(todo):
                bar.update(len(block))
            else:  # the last block: drawn once, by close (an update would draw the same bar a line before it)
                bar.n = processed
    finally:
        bar.close()
        context.enable_progress_bars = saved_bars
    end = time.time()
    steady = end - first_started if np.isfinite(first_started) else 0.0
    first = sinks[0].writer
    return FeatureSetRun(label, first.config_hash, workers, processed, end - start, steady, device, dict(nodes))


@dataclass
class _Job:
    """One feature set of an extraction: the extractor computing it, its slice of that extractor's vectors
    (``part`` of ``parts``), its store folder, config and what is left to do."""

    requested: str
    name: str
    extractor: Extractor
    config: ExtractorConfig
    part: int = 0
    parts: int = 1
    todo: pd.DataFrame = field(default_factory=pd.DataFrame)
    counts: dict[str, CorpusCounts] = field(default_factory=dict)

    @property
    def config_hash(self) -> str:
        return self.config.config_hash()

    def dataset_keys(self) -> list[DatasetKey]:
        return [DatasetKey(self.name, self.config_hash, corpus) for corpus in self.counts]


def _jobs(feature_sets: list[str], models: Mapping[str, str], hf_layer: int | None, fp16: bool) -> list[_Job]:
    """One job per feature set the extractors write; the layers asked of one encoder share its extractor."""
    jobs = []
    for requested, extractor in build_extractors(feature_sets, models, hf_layer=hf_layer, fp16=fp16):
        outputs = extractor.outputs()
        for output in outputs:
            name = check_name("feature set", output.name if extractor.layered else store_name(requested))
            jobs.append(_Job(requested, name, extractor, output.config, output.part, len(outputs)))
    return jobs


def _plan_jobs(
    jobs: list[_Job], manifest: pd.DataFrame, store: FeatureStore, fingerprints: pd.Series, retry_errors: bool
) -> None:
    for job in jobs:
        job.todo, counts = plan(manifest, store, job.name, job.config_hash, retry_errors, fingerprints)
        job.counts = {c.corpus: c for c in counts}


def _has_work(jobs: list[_Job], manifest: pd.DataFrame, store: FeatureStore) -> bool:
    """Anything to extract, a manifest change to record, or parts of an interrupted run to merge."""
    return (
        any(not job.todo.empty for job in jobs)
        or bool(manifest_updates(store, manifest))
        or any(store.needs_compaction(key) for job in jobs for key in job.dataset_keys())
    )


def _run_jobs(
    ray: Any,
    jobs: list[_Job],
    store: FeatureStore,
    fingerprints: pd.Series,
    summary: ExtractSummary,
    *,
    workers: int | None,
    device: str,
    capacity: ClusterCapacity | None,
    batch_size: int,
    progress: bool,
) -> None:
    """Extract what the jobs of each extractor have left (their union: the layers of an encoder come from one
    forward pass), on an actor pool sized for it (:func:`rdlr.features.placement.actor_resources`); nothing without
    ``ray`` (started only when the plan had something to extract)."""
    groups: dict[int, list[_Job]] = {}
    for job in jobs if ray is not None else []:
        if not job.todo.empty:
            groups.setdefault(id(job.extractor), []).append(job)
    for group in groups.values():
        extractor = group[0].extractor
        actor_device = extractor_device(extractor, device)
        if getattr(extractor.config, "fp16", False) and actor_device != "cuda":
            raise ValueError(f"fp16 (half precision) runs on a GPU only; {extractor.name} would run on {actor_device}")
        todo = pd.concat([job.todo for job in group]).drop_duplicates("utt_id")
        sinks = []
        for job in group:
            if not store.has_config(job.name, job.config_hash):
                store.write_config(
                    job.name, job.config_hash, config_info(extractor, job.name, job.requested, job.config)
                )
            wanted = pa.array(job.todo["utt_id"].astype(str), type=pa.string()) if len(group) > 1 else None
            writer = PartWriter(store, job.name, job.config_hash, fingerprints)
            sinks.append(_Sink(writer, job.counts, job.part, job.parts, wanted))
        n_workers, resources = actor_resources(
            ray, workers, actor_device, capacity, batches=-(-len(todo) // batch_size)
        )
        summary.runs.append(
            run_feature_set(ray, extractor, todo, sinks, n_workers, resources, actor_device, batch_size, progress)
        )
        for sink in sinks:
            info = store.read_config(sink.writer.feature_set, sink.writer.config_hash)
            if sink.writer.dim is not None and info.get("dim") != sink.writer.dim:
                store.write_config(sink.writer.feature_set, sink.writer.config_hash, {**info, "dim": sink.writer.dim})


def extract(
    manifest_df: pd.DataFrame,
    feature_sets: str | Iterable[str],
    store: str,
    workers: int | None = None,
    device: str = "cpu",
    models: Mapping[str, str] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retry_errors: bool = False,
    address: str | None = None,
    progress: bool = True,
    hf_layer: int | None = None,
    capacity: ClusterCapacity | None = None,
    verbose: bool = False,
    fp16: bool = False,
) -> ExtractSummary:
    """Extract ``feature_sets`` (``"is10+w2v"``, ``"is10,bert"`` or a list) for every utterance of ``manifest_df``
    into the feature store at ``store`` (folder or URI), skipping what it already holds, and record the manifest's
    columns (labels, speakers, ...) in the store, so that :func:`rdlr.features.load` returns the latest ones.

    Vectors are recomputed only for audio that changed (path, size or modification time) or a changed extractor
    config. Before any work the store is checked to be writable (:func:`rdlr.io.storage.check_writable`), every model
    file a feature set with work to do loads is checked to exist (``Extractor.check_models``, before Ray starts) and
    the store's writer lock is taken (another ``rdlr extract`` on it is refused, naming the holder); every finished
    batch is stored at once, and the parts are merged at the end. ``models`` maps ``w2v``/``bert``/``whisper`` to local
    model paths; ``hf_layer`` picks the hidden layer of ``hf:<dir>`` encoders (``HFEncoderConfig.layer``;
    default: the last). ``device`` (``cpu``, ``cuda`` or ``auto``: cuda where the cluster has or can start a GPU)
    applies to extractors with a model; openSMILE IS10 always runs on CPU. ``whisper`` and ``hf:<dir>`` take a
    layer suffix, ``@N`` or ``@all`` (:mod:`rdlr.features.layers`): the layers asked of one encoder come from one
    forward pass per batch, each stored as its own feature set; ``fp16`` runs those encoders in half precision (GPU).
    ``capacity``: the size an autoscaling cluster may reach, which sizes the actor pools
    (:func:`rdlr.features.placement.actor_resources`). Connects to Ray with :func:`rdlr.cluster.session.ray_session`
    (the Ray already initialised in this process, else the cluster of ``address`` or ``RAY_ADDRESS``, else a
    private local one, left again afterwards; Ray's console output only with ``verbose``) only when there is
    something to extract.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; give at least 1")
    if fp16 and device == "cpu":
        raise ValueError("fp16 (half precision) runs on a GPU only: use device cuda or auto (--device), not cpu")
    manifest = validate_manifest(manifest_df)
    feature_store = FeatureStore(store)
    summary = ExtractSummary(store=feature_store.uri)
    jobs = _jobs(parse_feature_sets(feature_sets), models or {}, hf_layer, fp16)
    fingerprints = audio_fingerprints(manifest)
    _plan_jobs(jobs, manifest, feature_store, fingerprints, retry_errors)
    if _has_work(jobs, manifest, feature_store):
        check_writable(store, what="feature store")
        extracting = any(not job.todo.empty for job in jobs)
        for job in jobs:  # a missing model fails here, in well under a second, not in Ray's actors
            if not job.todo.empty:
                job.extractor.check_models()
        with (
            ray_session(address, verbose) if extracting else contextlib.nullcontext() as ray,
            feature_store.lock("rdlr extract"),
        ):
            for corpus, table in manifest_updates(feature_store, manifest).items():
                write_manifest(feature_store, corpus, table)
                summary.manifests_updated.append(corpus)
            _plan_jobs(jobs, manifest, feature_store, fingerprints, retry_errors)  # under the lock: up to date
            _run_jobs(
                ray,
                jobs,
                feature_store,
                fingerprints,
                summary,
                workers=workers,
                device=extraction_device(device, ray, capacity),
                capacity=capacity,
                batch_size=batch_size,
                progress=progress,
            )
            for key in (key for job in jobs for key in job.dataset_keys()):
                feature_store.compact(key, current=fingerprints)
    summary.counts = [count for job in jobs for count in job.counts.values()]
    return summary
