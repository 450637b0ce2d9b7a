"""``rdlr reproduce [SPEC] [--data-root DIR] [--demo] [--storage PATH] [--out reports/] [--all-rows]``.

Prepare + extract + sweep + report in one command:

1. **prepare** the manifest of every corpus of the spec (the demo generator, the corpus loaders, or manifests)
   and check it before Ray starts: every job has training utterances of every class of the spec's ``labels``;
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
from pathlib import Path
from typing import Any

from rdlr.cluster.session import ray_session
from rdlr.commands.errors import fail
from rdlr.commands.options import add_all_rows, add_device, add_extraction, add_run_location, add_spec
from rdlr.features.placement import extraction_device
from rdlr.spec import SpecError, SweepSpec
from rdlr.sweep.inputs import (
    check_manifest,
    extraction_options,
    feature_components,
    load_tables,
    prepare_manifest,
)
from rdlr.sweep.resolved import DEMO_SPEC, RunOptions, resolve_run

PREPARED = {"demo": "the demo corpora", "real": "data.corpora", "manifests": "data.manifests"}  # spec key per source


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr reproduce``."""
    add_spec(parser, nargs="?", default=None)
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"generate the demo corpora and run the {DEMO_SPEC} spec (minutes on a laptop)",
    )
    add_run_location(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="report folder; the report goes to <out>/<spec id>/ (default: reports)",
    )
    add_extraction(parser)
    add_device(parser, "extractors with a model (w2v, bert, hf:)")
    add_all_rows(parser)


class _Stages:
    """Numbered stage headers with elapsed times."""

    def __init__(self, total: int) -> None:
        self.total, self.number, self.started = total, 0, time.monotonic()

    def next(self, title: str) -> None:
        self.number += 1
        print(
            f"\n=== [{self.number}/{self.total}] {title} ({time.monotonic() - self.started:.0f}s elapsed)", flush=True
        )


def _say(line: str) -> None:
    print(line, flush=True)


def _report(
    spec: SweepSpec, results_uri: str, out: Path, all_rows: bool = False, resolved: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Render the report with validation selection and with the paper's protocol (test-set selection) beside it;
    returns the index of the spec's headline selection, then the other's. ``resolved``: what the run resolved
    (its class set's per-corpus summary goes into the report's header)."""
    from rdlr.report.build import render_report
    from rdlr.report.selection import SELECTIONS
    from rdlr.results import RESOLVED_KEY
    from rdlr.sweep.files import read_results_uri

    results = read_results_uri(results_uri)
    document = {**spec.to_dict(), **({RESOLVED_KEY: dict(resolved)} if resolved else {})}
    indexes = {
        selection: render_report(
            results, out, selection=selection, spec=document, all_rows=all_rows, spec_text=spec.source_text
        )
        for selection in SELECTIONS
    }
    headline = spec.headline_selection
    return indexes[headline], next(index for selection, index in indexes.items() if selection != headline)


def run(args: argparse.Namespace) -> int:
    """The four stages; a summary with the report's location at the end."""
    started = time.monotonic()
    try:
        run = resolve_run(
            args.spec,
            RunOptions(args.storage, args.data_root, args.address, args.autoscaler_config, args.mlflow, demo=args.demo),
            writes_store=True,
        )
    except (SpecError, ValueError, OSError) as error:
        return fail("reproduce", error)
    note = run.storage_note()
    if note:
        print(note, file=sys.stderr)
    from rdlr.corpora import ManifestError, SplitError
    from rdlr.features import FeatureStoreError, extract
    from rdlr.sweep.driver import SweepError, run_sweep
    from rdlr.sweep.plan_text import print_plan
    from rdlr.sweep.summary import outcome_text

    spec, store, data_root = run.spec, run.store, run.data_root
    stages = _Stages(4)
    print(f"rdlr reproduce {spec.id}: {len(spec.jobs())} jobs, {spec.num_trials()} trials; storage {run.storage}")
    try:
        stages.next(f"prepare manifests ({spec.data.source} data{f' under {data_root}' if data_root else ''})")
        manifest = prepare_manifest(spec, data_root, log=_say)
        check_manifest(spec, manifest, PREPARED[spec.data.source])  # before Ray starts: one line, exit 2
        plan = print_plan(spec, manifest, "the spec's corpora", log=_say, storage=run.storage)
        with ray_session(args.address, verbose=args.verbose) as ray:
            stages.next(f"extract {', '.join(feature_components(spec))} for {len(manifest)} utterances into {store}")
            summary = extract(
                manifest,
                feature_components(spec),
                store,
                workers=args.workers,
                device=extraction_device(args.device, ray, run.capacity),
                models=dict(run.models),
                capacity=run.capacity,
                **extraction_options(spec),
            )
            print(summary.format(), flush=True)
            stages.next(f"sweep {spec.id} on Ray Tune")
            labels: dict[str, Any] = {}
            tables = load_tables(spec, store, run.corpora, object_store=True, summary=labels)
            resolved = run.info(labels)
            outcome = run_sweep(
                spec,
                tables,
                run.storage,
                adapt_resources=not args.no_adapt,
                resolved=resolved,
                capacity=run.capacity,
                plan=plan,
            )
        print(outcome_text(outcome))
        if not outcome.rows:
            print("rdlr reproduce: no finished trials, so no report", file=sys.stderr)
            return 1
        stages.next(f"report into {args.out / spec.id}")
        index, beside = _report(
            spec,
            outcome.results_uri,
            args.out,
            all_rows=args.all_rows,
            resolved={"labels": resolved["labels"]} if "labels" in resolved else None,
        )
    except (SpecError, SweepError, ManifestError, SplitError, FeatureStoreError, ValueError, OSError) as error:
        return fail("reproduce", error)
    except KeyboardInterrupt:
        print("rdlr reproduce: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(
        f"\ndone in {minutes}m{seconds:02d}s: {outcome.rows} trials; results {outcome.results_uri}; "
        f"report {index} (the other selection beside it: {beside})"
    )
    return 0 if outcome.ok else 1
