"""Manifest -> Ray Data -> Parquet feature store, incrementally and resumably.

For each feature set, the utterances that the store lacks (and that are not already recorded as failed, unless
``retry_errors``) go through ``Dataset.map_batches`` on a pool of actors (``ray.data.ActorPoolStrategy``); each
actor receives the configured extractor and calls ``setup(device)`` once, so a model loads once per actor. The
driver consumes the mapped dataset block by block and writes part files as results arrive, so an interrupted
run keeps what finished and the next run extracts only the rest. Unreadable utterances land in the errors table
with their reason; the run carries on.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rdlr.features.base import Extractor
from rdlr.features.registry import build_extractor, parse_feature_sets, store_name
from rdlr.ray_session import ray_session
from rdlr.features.store import (
    ERROR_COLUMNS,
    FEATURES_COLUMN,
    DatasetKey,
    FeatureStore,
    check_name,
    reason_kind,
)

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 16
ROWS_PER_PART = 512
SECONDS_PER_PART = 30.0
REQUIRED_COLUMNS = ("utt_id", "path", "corpus")
DEVICES = ("cpu", "cuda")
# Columns of the blocks the actors return; any other column is an extractor "extra" (e.g. transcript).
RESULT_COLUMNS = ("utt_id", "corpus", "path", FEATURES_COLUMN, "error", "started")


# ---- summary ---------------------------------------------------------------------------------------------------
@dataclass
class CorpusCounts:
    """Outcome for one (feature set, corpus): what was extracted, skipped, or failed."""

    feature_set: str
    config_hash: str
    corpus: str
    total: int
    present: int = 0
    failed_before: int = 0
    extracted: int = 0
    errors: Counter = field(default_factory=Counter)

    @property
    def todo(self) -> int:
        return self.total - self.present - self.failed_before


@dataclass
class FeatureSetRun:
    """Timing of one feature set's Ray Data run. ``steady_seconds`` runs from the moment the first actor started
    its first batch to the last result written: actor start-up (and Ray start-up) excluded."""

    feature_set: str
    config_hash: str
    workers: int
    processed: int
    wall_seconds: float
    steady_seconds: float

    @property
    def rate(self) -> float:
        """Utterances per second once started."""
        return self.processed / self.steady_seconds if self.steady_seconds > 0 else float("nan")


@dataclass
class ExtractSummary:
    """What :func:`extract` did, per feature set and corpus."""

    store: str
    counts: list[CorpusCounts] = field(default_factory=list)
    runs: list[FeatureSetRun] = field(default_factory=list)

    @property
    def extracted(self) -> int:
        return sum(c.extracted for c in self.counts)

    @property
    def present(self) -> int:
        return sum(c.present for c in self.counts)

    @property
    def failed_before(self) -> int:
        return sum(c.failed_before for c in self.counts)

    def errors_by_reason(self) -> dict[str, int]:
        """New errors of this run, by kind of reason (``"empty audio"``, ``"too short"``, ...)."""
        total: Counter = Counter()
        for counts in self.counts:
            total.update(counts.errors)
        return dict(total.most_common())

    def format(self) -> str:
        """A plain-text table for the terminal."""
        header = ("feature set", "config", "corpus", "total", "extracted", "present", "failed before", "errors",
                  "reasons")
        rows = [(c.feature_set, c.config_hash, c.corpus, c.total, c.extracted, c.present, c.failed_before,
                 sum(c.errors.values()), ", ".join(f"{k} ×{n}" for k, n in c.errors.most_common()) or "-")
                for c in self.counts]
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        lines = [f"feature store: {self.store}"]
        for row in [header, *rows]:
            cells = [str(v).ljust(w) if i < 3 or i == 8 else str(v).rjust(w)
                     for i, (v, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
        for run in self.runs:
            lines.append(f"{run.feature_set}: {run.processed} utterances with {run.workers} workers in "
                         f"{run.wall_seconds:.1f} s ({run.rate:.1f} utt/s once started)")
        if self.failed_before:
            lines.append(f"{self.failed_before} utterances skipped because they failed before "
                         f"(see the errors tables; rerun with --retry-errors to try them again)")
        return "\n".join(lines)


# ---- the actor -------------------------------------------------------------------------------------------------
class ExtractActor:
    """Ray Data callable class: holds one extractor, set up once per actor, and maps batches through it."""

    def __init__(self, extractor: Extractor, device: str = "cpu") -> None:
        self.extractor = extractor
        self.extractor.setup(device)

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.time()
        records = batch.to_pylist()
        results = self.extractor.extract(records)
        if len(results) != len(records):
            raise RuntimeError(f"{type(self.extractor).__name__}.extract returned {len(results)} results "
                               f"for {len(records)} utterances")
        vectors = [r.vector.astype("<f4", copy=False).tobytes() if r.error is None and r.vector is not None
                   else None for r in results]
        errors = [r.error if r.error is not None else (None if r.vector is not None else "no vector returned")
                  for r in results]
        columns: dict[str, pa.Array] = {
            "utt_id": batch.column("utt_id"),
            "corpus": batch.column("corpus"),
            "path": batch.column("path"),
            FEATURES_COLUMN: pa.array(vectors, type=pa.binary()),
            "error": pa.array(errors, type=pa.string()),
            "started": pa.array(np.full(len(records), started)),
        }
        extra_keys = sorted({k for r in results for k in r.extras})
        clash = set(extra_keys) & set(RESULT_COLUMNS)
        if clash:
            raise RuntimeError(f"extractor extras {sorted(clash)} clash with reserved columns {RESULT_COLUMNS}")
        for key in extra_keys:
            columns[key] = pa.array([r.extras.get(key) for r in results], type=pa.string())
        return pa.table(columns)


# ---- the driver's writer ---------------------------------------------------------------------------------------
class PartWriter:
    """Buffers result blocks in the driver and writes them as part files (features and errors) every
    ``rows_per_part`` rows or ``seconds_per_part`` seconds, and on :meth:`flush`."""

    def __init__(self, store: FeatureStore, feature_set: str, config_hash: str, manifest: pd.DataFrame,
                 rows_per_part: int = ROWS_PER_PART, seconds_per_part: float = SECONDS_PER_PART) -> None:
        self.store = store
        self.feature_set = feature_set
        self.config_hash = config_hash
        self.manifest = manifest.set_index("utt_id", drop=False)
        self.rows_per_part = rows_per_part
        self.seconds_per_part = seconds_per_part
        self._features: dict[str, list[pa.Table]] = {}
        self._errors: dict[str, list[pa.Table]] = {}
        self._buffered = 0
        self._last_flush = time.monotonic()
        self.written = 0
        self.dim: int | None = None

    def add(self, block: pa.Table) -> tuple[list[str], list[tuple[str, str]]]:
        """Buffer one result block; returns (corpus of each vector added, [(corpus, error reason), ...])."""
        failed = pc.is_valid(block.column("error"))
        good = block.filter(pc.invert(failed))
        bad = block.filter(failed)
        if len(good):
            self._check_dim(good)
            self._buffer(self._features, self._feature_rows(good))
        reasons: list[tuple[str, str]] = []
        if len(bad):
            reasons = list(zip(bad.column("corpus").to_pylist(), bad.column("error").to_pylist()))
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            errors = pa.table({
                "utt_id": bad.column("utt_id").cast(pa.string()),
                "corpus": bad.column("corpus").cast(pa.string()),
                "path": bad.column("path").cast(pa.string()),
                "reason": bad.column("error"),
                "kind": pa.array([reason_kind(r) for _, r in reasons], type=pa.string()),
                "time": pa.array([now] * len(bad), type=pa.string()),
            }).select(list(ERROR_COLUMNS))
            self._buffer(self._errors, errors)
        self._buffered += len(block)
        if self._buffered >= self.rows_per_part or time.monotonic() - self._last_flush >= self.seconds_per_part:
            self.flush()
        return good.column("corpus").to_pylist(), reasons

    def _check_dim(self, good: pa.Table) -> None:
        sizes = set(pc.unique(pc.binary_length(good.column(FEATURES_COLUMN))).to_pylist())
        dims = {size // 4 for size in sizes} | ({self.dim} if self.dim is not None else set())
        if len(dims) != 1:
            raise RuntimeError(f"feature set {self.feature_set!r} produced vectors of different sizes {sorted(dims)}")
        self.dim = dims.pop()

    def _feature_rows(self, good: pa.Table) -> pa.Table:
        ids = good.column("utt_id").to_numpy(zero_copy_only=False)
        meta = self.manifest.loc[ids].reset_index(drop=True)
        table = pa.Table.from_pandas(meta, preserve_index=False)
        for name in good.column_names:
            if name in RESULT_COLUMNS:
                continue
            column = good.column(name)
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, column)
            else:
                table = table.append_column(name, column)
        return table.append_column(FEATURES_COLUMN, good.column(FEATURES_COLUMN))

    @staticmethod
    def _buffer(buffers: dict[str, list[pa.Table]], table: pa.Table) -> None:
        corpora = table.column("corpus").cast(pa.string())
        for corpus in pc.unique(corpora).to_pylist():
            buffers.setdefault(corpus, []).append(table.filter(pc.equal(corpora, corpus)))

    def flush(self) -> None:
        """Write everything buffered as part files."""
        for errors, buffers in ((False, self._features), (True, self._errors)):
            for corpus, tables in buffers.items():
                table = pa.concat_tables(tables, promote_options="permissive")
                self.store.write_part(DatasetKey(self.feature_set, self.config_hash, corpus), table, errors=errors)
                if not errors:
                    self.written += len(table)
            buffers.clear()
        self._buffered = 0
        self._last_flush = time.monotonic()


# ---- planning and running --------------------------------------------------------------------------------------
def validate_manifest(manifest: pd.DataFrame) -> pd.DataFrame:
    """``manifest`` with string ids, checked for the columns extraction needs and unique utt_ids."""
    missing = [c for c in REQUIRED_COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}; it has {list(manifest.columns)}")
    manifest = manifest.reset_index(drop=True).copy()
    for column in REQUIRED_COLUMNS:
        manifest[column] = manifest[column].astype(str)
    duplicated = manifest["utt_id"][manifest["utt_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"manifest has {len(duplicated)} duplicate utt_id(s), e.g. {duplicated.iloc[:5].tolist()}; "
                         f"utt_id must be unique across all manifests")
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


def _versions() -> dict[str, str]:
    found = {}
    for package in ("rdlr", "opensmile", "torch", "transformers", "openai-whisper", "ray", "pyarrow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _config_info(extractor: Extractor, feature_set: str, requested: str) -> dict[str, Any]:
    return {
        "feature_set": feature_set,
        "requested_name": requested,
        "config_hash": extractor.config.config_hash(),
        "extractor": f"{type(extractor).__module__}.{type(extractor).__qualname__}",
        "config": extractor.config.to_dict(),
        "dim": getattr(extractor, "dim", None),
        "vector_encoding": "float32 little-endian bytes in the binary column 'features'",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }


def actor_resources(ray: Any, workers: int | None, device: str) -> tuple[int, dict[str, float]]:
    """Actor count and per-actor resources. Default workers: the cluster's CPUs minus one (for the driver).
    More workers than CPUs share them (fractional CPUs) instead of waiting forever for a free CPU."""
    if device not in DEVICES:
        raise ValueError(f"device {device!r}; valid: {', '.join(DEVICES)}")
    resources = ray.cluster_resources()
    cpus = float(resources.get("CPU", 1.0))
    if workers is None:
        workers = max(1, int(cpus) - 1)
    if workers < 1:
        raise ValueError(f"workers={workers}; give at least 1")
    request: dict[str, float] = {"num_cpus": min(1.0, cpus / workers)}
    if workers > cpus:
        log.warning("%d workers on %g CPUs: each actor gets %.2f CPU", workers, cpus, request["num_cpus"])
    if device == "cuda":
        gpus = float(resources.get("GPU", 0.0))
        if gpus <= 0:
            raise ValueError("device 'cuda' but the Ray cluster has no GPU; use --device cpu, or --address of a "
                             "cluster with GPUs")
        request["num_gpus"] = min(1.0, gpus / workers)
    return workers, request


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
            bar.update(len(block))
            bar.set_postfix(errors=n_errors, refresh=False)
    finally:
        writer.flush()
        bar.close()
        context.enable_progress_bars = saved_bars
    end = time.time()
    steady = end - first_started if np.isfinite(first_started) else 0.0
    return FeatureSetRun(writer.feature_set, writer.config_hash, workers, processed, end - start, steady)


def extract(manifest_df: pd.DataFrame, feature_sets: str | Iterable[str], store: str, workers: int | None = None,
            device: str = "cpu", models: Mapping[str, str] | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
            retry_errors: bool = False, address: str | None = None, progress: bool = True,
            rows_per_part: int = ROWS_PER_PART) -> ExtractSummary:
    """Extract ``feature_sets`` (``"is10+w2v"``, ``"is10,bert"`` or a list) for every utterance of ``manifest_df``
    into the feature store at ``store`` (folder or URI), skipping what it already holds.

    ``models`` maps ``w2v``/``bert``/``whisper`` to local model paths. Uses the Ray cluster already initialised in
    this process if any, else ``address``, else starts a local one (and shuts it down afterwards).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; give at least 1")
    manifest = validate_manifest(manifest_df)
    feature_store = FeatureStore(store)
    summary = ExtractSummary(store=feature_store.uri)
    jobs = []
    for requested in parse_feature_sets(feature_sets):
        extractor = build_extractor(requested, models or {})
        name = check_name("feature set", store_name(requested))
        config_hash = extractor.config.config_hash()
        todo, counts = plan(manifest, feature_store, name, config_hash, retry_errors)
        summary.counts.extend(counts)
        jobs.append((requested, name, extractor, config_hash, todo, {c.corpus: c for c in counts}))
    if all(job[4].empty for job in jobs):
        return summary
    with ray_session(address) as ray:
        n_workers, resources = actor_resources(ray, workers, device)
        for requested, name, extractor, config_hash, todo, counts in jobs:
            if todo.empty:
                continue
            if not feature_store.has_config(name, config_hash):
                feature_store.write_config(name, config_hash, _config_info(extractor, name, requested))
            writer = PartWriter(feature_store, name, config_hash, manifest, rows_per_part=rows_per_part)
            run = run_feature_set(ray, extractor, todo, writer, counts, n_workers, resources, device,
                                  batch_size, progress)
            summary.runs.append(run)
            info = feature_store.read_config(name, config_hash)
            if writer.dim is not None and info.get("dim") != writer.dim:
                feature_store.write_config(name, config_hash, {**info, "dim": writer.dim})
            for corpus in counts:
                feature_store.compact(DatasetKey(name, config_hash, corpus))
    return summary
