"""``rdlr reproduce [SPEC] [--data-root DIR] [--demo] [--storage PATH] [--out reports/]``.

Prepare + extract + sweep + report in one command:

1. **prepare** the manifest of every corpus of the spec (the demo generator, the corpus loaders, or manifests);
2. **extract** the spec's feature sets into the feature store with Ray Data (only what the store lacks);
3. **sweep** the spec on Ray Tune (:mod:`rdlr.sweep`; resumes where an earlier run stopped);
4. **report**: Tables 2/3 with validation selection, and the paper's protocol (test selection) beside it.

``rdlr reproduce --demo`` generates the demo corpora and runs ``sweeps/demo.yaml`` on a local Ray; results in
``./rdlr_runs/demo``, report in ``./reports/demo``. Every step skips work already done, so re-running resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from rdlr.ray_session import ray_session
from rdlr.sweep.spec import SpecError, SweepSpec, load_spec
from rdlr.sweep.cli import (
    add_common_arguments,
    feature_store_uri,
    load_tables,
    print_outcome,
    read_results_uri,
    resolve_path,
    resolve_storage,
    resolved_models,
    spec_corpora,
    warn_storage,
)

DEMO_SPEC = "demo"
DEMO_DATA = "demo_data"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr reproduce``."""
    parser.add_argument("spec", nargs="?", default=None,
                        help="sweep spec (YAML file or packaged name: table2, table3, demo); default with --demo: demo")
    parser.add_argument("--demo", action="store_true",
                        help="generate the demo corpora and run the demo spec locally (minutes on a laptop)")
    add_common_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="report folder; the report goes to <out>/<spec id>/ (default: reports)")
    parser.add_argument("--workers", type=int, default=None,
                        help="feature-extraction actors (default: the cluster's CPUs minus one)")


class _Stages:
    """Numbered stage headers with elapsed times."""

    def __init__(self, total: int) -> None:
        self.total, self.number, self.started = total, 0, time.monotonic()

    def next(self, title: str) -> None:
        self.number += 1
        print(f"\n=== [{self.number}/{self.total}] {title} ({time.monotonic() - self.started:.0f}s elapsed)", flush=True)


def demo_data_root(args: argparse.Namespace, storage: str) -> Path:
    """Where the demo corpora are generated: --data-root, else beside the results (a local storage path)."""
    if args.data_root:
        return args.data_root.expanduser().resolve()
    if "://" in storage:
        return Path(DEMO_DATA).resolve()
    return Path(storage) / DEMO_DATA


def prepare(spec: SweepSpec, data_root: Path | None) -> pd.DataFrame:
    """The manifest of every corpus the spec reads (one schema, :mod:`rdlr.corpora`)."""
    from rdlr.corpora import load_corpus, read_manifest

    if spec.data.source == "demo":
        return load_corpus("demo", data_root, seed=spec.data.demo_seed)
    frames = []
    if spec.data.source == "real":
        for name, source in spec.data.corpora.items():
            root = resolve_path(source.root, data_root)
            print(f"{name}: {source.loader} corpus at {root}", flush=True)
            frame = load_corpus(source.loader, root, **source.options)
            found = sorted(set(frame["corpus"].astype(str)))
            if found != [name]:
                raise SpecError(f"data.corpora.{name}: the {source.loader} loader names its corpus "
                                f"{', '.join(found)}; use that name as the key (held_out refers to it)")
            frames.append(frame)
    else:
        for path in spec.data.manifests:
            frames.append(read_manifest(resolve_path(path, data_root)))
    manifest = pd.concat(frames, ignore_index=True)
    duplicated = manifest["utt_id"].duplicated()
    if duplicated.any():
        raise SpecError(f"data: utt_id {manifest.loc[duplicated, 'utt_id'].iloc[0]!r} appears in two corpora; "
                        "utt_ids must be unique across the spec's corpora")
    return manifest


def feature_components(spec: SweepSpec) -> list[str]:
    """Every single feature set the spec's combinations use (``is10+w2v`` -> ``is10``, ``w2v``)."""
    from rdlr.features.registry import parse_feature_sets

    return parse_feature_sets(list(spec.features))


def extraction_device(ray: object) -> str:
    """Neural extractors use a GPU when the cluster has one; IS10 (openSMILE) runs on CPU regardless."""
    return "cuda" if float(ray.cluster_resources().get("GPU", 0.0)) > 0 else "cpu"  # type: ignore[attr-defined]


def report(spec: SweepSpec, results_uri: str, out: Path) -> Path:
    """Render the report with validation selection (returned) and with the paper's protocol beside it."""
    from rdlr.report.build import render_report

    results = read_results_uri(results_uri)
    index = render_report(results, out, selection="validation", spec=spec.to_dict())
    render_report(results, out, selection="paper", spec=spec.to_dict())
    return index


def run(args: argparse.Namespace) -> int:
    """The four stages; a summary with the report's location at the end."""
    started = time.monotonic()
    try:
        spec_name = args.spec or (DEMO_SPEC if args.demo else None)
        if spec_name is None:
            raise SpecError("give a sweep spec (e.g. sweeps/table2.yaml) or --demo")
        spec = load_spec(spec_name)
        if args.demo and spec.data.source != "demo":
            raise SpecError(f"--demo runs a spec with data.source 'demo'; {spec_name!r} has {spec.data.source!r}")
        storage = resolve_storage(args.storage)
        if spec.data.source == "demo":
            data_root: Path | None = demo_data_root(args, storage)
        else:
            data_root = args.data_root.expanduser().resolve() if args.data_root else None
        store = feature_store_uri(spec, storage)
    except (SpecError, ValueError) as error:
        print(f"rdlr reproduce: error: {error}", file=sys.stderr)
        return 2
    warn_storage(storage, args.address)
    from rdlr.corpora import ManifestError, SplitError
    from rdlr.features import FeatureStoreError, extract
    from rdlr.sweep.driver import SweepError, run_sweep

    stages = _Stages(4)
    print(f"rdlr reproduce {spec.id}: {len(spec.jobs())} jobs, {spec.num_trials()} trials; storage {storage}")
    try:
        with ray_session(args.address, log_to_driver=False) as ray:
            stages.next(f"prepare manifests ({spec.data.source} data{f' under {data_root}' if data_root else ''})")
            manifest = prepare(spec, data_root)
            stages.next(f"extract {', '.join(feature_components(spec))} for {len(manifest)} utterances into {store}")
            extract(manifest, feature_components(spec), store, workers=args.workers, device=extraction_device(ray),
                    models=resolved_models(spec, data_root))
            stages.next(f"sweep {spec.id} on Ray Tune")
            tables = load_tables(spec, store, spec_corpora(spec, data_root))
            resolved = {"data_root": str(data_root) if data_root else None, "feature_store": store,
                        "models": resolved_models(spec, data_root)}
            outcome = run_sweep(spec, tables, storage, adapt_resources=not args.no_adapt, resolved=resolved)
        print_outcome(outcome)
        if not outcome.rows:
            print("rdlr reproduce: no finished trials, so no report", file=sys.stderr)
            return 1
        stages.next(f"report into {args.out / spec.id}")
        index = report(spec, outcome.results_uri, args.out)
    except (SpecError, SweepError, ManifestError, SplitError, FeatureStoreError, ValueError) as error:
        print(f"rdlr reproduce: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rdlr reproduce: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"\ndone in {minutes}m{seconds:02d}s: {outcome.rows} trials; results {outcome.results_uri}; "
          f"report {index} (paper's protocol in {index.parent / 'paper-selection'})")
    return 0 if outcome.ok else 1
