"""``rdlr reproduce [SPEC] [--data-root DIR] [--demo] [--storage PATH] [--out reports/] [--all-rows]``.

Prepare + extract + sweep + report in one command:

1. **prepare** the manifest of every corpus of the spec (the demo generator, the corpus loaders, or manifests);
2. **extract** the spec's feature sets into the feature store with Ray Data (only what the store lacks);
3. **sweep** the spec on Ray Tune (:mod:`rdlr.sweep`; resumes where an earlier run stopped);
4. **report**: Tables 2/3 with validation selection, and the paper's protocol (test selection) beside it.

``rdlr reproduce --demo`` generates the demo corpora and runs ``sweeps/demo.yaml`` (on a private local Ray unless
``--address`` or ``RAY_ADDRESS`` names a cluster); results in ``./rdlr_runs/demo``,
report in ``./reports/demo``. Every step skips work already done, so re-running resumes. The stages' logic lives
in library modules (:mod:`rdlr.sweep.inputs`, :mod:`rdlr.features`, :mod:`rdlr.sweep.driver`, :mod:`rdlr.report`).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any
from pathlib import Path

from rdlr.cluster.capacity import find_capacity
from rdlr.features.placement import AUTO, DEVICES, extraction_device
from rdlr.cluster.session import cluster_address, ray_session
from rdlr.storage import check_writable
from rdlr.sweep.cli import add_common_arguments, with_tracking
from rdlr.sweep.inputs import (
    demo_data_root, extraction_options, feature_components, feature_store_uri, load_tables, prepare_manifest,
    resolve_data_root, resolve_storage, resolved_info, resolved_models, spec_corpora, storage_note,
)  # fmt: skip
from rdlr.sweep.model_paths import check_model_paths
from rdlr.sweep.spec import SpecError, SweepSpec, load_spec
from rdlr.sweep.spec_files import packaged_specs, resolve_spec_path

DEMO_SPEC = "demo"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr reproduce``."""
    parser.add_argument("spec", nargs="?", default=None,
                        help=f"sweep spec: a YAML file or a packaged name ({', '.join(packaged_specs())}); "
                        "default with --demo: demo")
    parser.add_argument("--demo", action="store_true",
                        help="generate the demo corpora and run the demo spec (minutes on a laptop)")
    add_common_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="report folder; the report goes to <out>/<spec id>/ (default: reports)")
    parser.add_argument("--workers", type=int, default=None,
                        help="feature-extraction actors per feature set (default: sized from the cluster, see "
                             "rdlr extract --help)")
    parser.add_argument("--device", choices=(AUTO, *DEVICES), default=AUTO,
                        help="where extractors with a model (w2v, bert, hf:) run; auto: cuda when the cluster has "
                             "or can start a GPU node. is10 always runs on CPU (CPU nodes)")
    parser.add_argument("--all-rows", action="store_true",
                        help="report the paper's full table layout: rows without results shown as missing "
                        "(default: left out)")


class _Stages:
    """Numbered stage headers with elapsed times."""

    def __init__(self, total: int) -> None:
        self.total, self.number, self.started = total, 0, time.monotonic()

    def next(self, title: str) -> None:
        self.number += 1
        print(f"\n=== [{self.number}/{self.total}] {title} ({time.monotonic() - self.started:.0f}s elapsed)", flush=True)


def _say(line: str) -> None:
    print(line, flush=True)


def _resolve(args: argparse.Namespace) -> tuple[SweepSpec, str, Path | None, str]:
    """(spec, storage, data root, feature store) of the command line; :class:`SpecError` on a bad request,
    :class:`rdlr.storage.StorageError` for a storage path or feature store that cannot be written."""
    spec_name = args.spec or (DEMO_SPEC if args.demo else None)
    if spec_name is None:
        raise SpecError("give a sweep spec (e.g. sweeps/table2.yaml) or --demo")
    spec = load_spec(spec_name)
    if args.demo and spec.data.source != "demo":
        raise SpecError(f"--demo runs a spec with data.source 'demo'; {spec_name!r} has {spec.data.source!r}")
    spec = with_tracking(spec, args.mlflow)
    storage = resolve_storage(args.storage)
    if spec.data.source == "demo":
        data_root: Path | None = demo_data_root(args.data_root, storage)
    else:
        data_root = resolve_data_root(args.data_root)
    store = feature_store_uri(spec, storage)
    check_writable(storage, what="storage path")
    check_writable(store, what="feature store")
    spec_corpora(spec, data_root)  # a manifests spec: its corpora checked against the manifests before Ray starts
    check_model_paths(spec, data_root, str(resolve_spec_path(spec_name)), store)
    return spec, storage, data_root, store


def _report(spec: SweepSpec, results_uri: str, out: Path, all_rows: bool = False,
            resolved: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Render the report with validation selection and with the paper's protocol (test-set selection) beside it;
    returns the index of the spec's headline selection, then the other's. ``resolved``: what the run resolved
    (its class set's per-corpus summary goes into the report's header)."""
    from rdlr.report.build import render_report
    from rdlr.report.selection import SELECTIONS
    from rdlr.sweep.files import RESOLVED_KEY, read_results_uri

    results = read_results_uri(results_uri)
    document = {**spec.to_dict(), **({RESOLVED_KEY: dict(resolved)} if resolved else {})}
    indexes = {selection: render_report(results, out, selection=selection, spec=document, all_rows=all_rows,
                                        spec_text=spec.source_text)
               for selection in SELECTIONS}
    headline = spec.headline_selection
    return indexes[headline], next(index for selection, index in indexes.items() if selection != headline)


def run(args: argparse.Namespace) -> int:
    """The four stages; a summary with the report's location at the end."""
    started = time.monotonic()
    try:
        spec, storage, data_root, store = _resolve(args)
        capacity = find_capacity(args.autoscaler_config, joined=cluster_address(args.address) is not None)
    except (SpecError, ValueError, OSError) as error:
        print(f"rdlr reproduce: error: {error}", file=sys.stderr)
        return 2
    note = storage_note(storage, cluster_address(args.address))
    if note:
        print(note, file=sys.stderr)
    from rdlr.corpora import ManifestError, SplitError
    from rdlr.features import FeatureStoreError, extract
    from rdlr.sweep.driver import SweepError, run_sweep
    from rdlr.sweep.plan import print_plan
    from rdlr.sweep.summary import outcome_text

    stages = _Stages(4)
    print(f"rdlr reproduce {spec.id}: {len(spec.jobs())} jobs, {spec.num_trials()} trials; storage {storage}")
    try:
        with ray_session(args.address, verbose=args.verbose) as ray:
            stages.next(f"prepare manifests ({spec.data.source} data{f' under {data_root}' if data_root else ''})")
            manifest = prepare_manifest(spec, data_root, log=_say)
            print_plan(spec, manifest, "the spec's corpora", log=_say)
            stages.next(f"extract {', '.join(feature_components(spec))} for {len(manifest)} utterances into {store}")
            summary = extract(manifest, feature_components(spec), store, workers=args.workers,
                              device=extraction_device(args.device, ray, capacity),
                              models=resolved_models(spec, data_root), capacity=capacity, **extraction_options(spec))
            print(summary.format(), flush=True)
            stages.next(f"sweep {spec.id} on Ray Tune")
            labels: dict[str, Any] = {}
            tables = load_tables(spec, store, spec_corpora(spec, data_root), object_store=True, summary=labels)
            resolved = resolved_info(spec, data_root, store, labels)
            outcome = run_sweep(spec, tables, storage, adapt_resources=not args.no_adapt, resolved=resolved,
                                capacity=capacity)
        print(outcome_text(outcome))
        if not outcome.rows:
            print("rdlr reproduce: no finished trials, so no report", file=sys.stderr)
            return 1
        stages.next(f"report into {args.out / spec.id}")
        index, beside = _report(spec, outcome.results_uri, args.out, all_rows=args.all_rows,
                                resolved={"labels": resolved["labels"]} if "labels" in resolved else None)
    except (SpecError, SweepError, ManifestError, SplitError, FeatureStoreError, ValueError, OSError) as error:
        print(f"rdlr reproduce: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rdlr reproduce: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"\ndone in {minutes}m{seconds:02d}s: {outcome.rows} trials; results {outcome.results_uri}; "
          f"report {index} (the other selection beside it: {beside})")
    return 0 if outcome.ok else 1
