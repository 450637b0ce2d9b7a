"""``rdlr sweep SPEC [--data-root DIR] [--storage PATH] [--address auto] [--autoscaler-config YAML]``: run a sweep
spec on Ray Tune.

SPEC is a YAML file or a packaged spec name (``table2``, ``table3``, ``demo``). Features must already be in the
feature store (``rdlr extract``, or use ``rdlr reproduce`` for prepare + extract + sweep + report). Results go to
``<storage>/<spec id>/results.csv``; re-running the same command resumes the sweep.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any
from pathlib import Path

from rdlr.cluster.capacity import find_capacity
from rdlr.cluster.session import cluster_address, ray_session
from rdlr.storage import check_writable
from rdlr.tracking import prepare_mlflow
from rdlr.sweep.inputs import (
    feature_store_uri, load_tables, resolve_data_root, resolve_storage, resolved_info, spec_corpora, storage_note,
)  # fmt: skip
from rdlr.sweep.model_paths import check_model_paths
from rdlr.sweep.spec import SpecError, SweepSpec, TrackingSpec, load_spec
from rdlr.sweep.spec_files import packaged_specs, resolve_spec_path

DEFAULT_STORAGE = "rdlr_runs"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr sweep``."""
    parser.add_argument("spec", help=f"sweep spec (YAML file, or one of: {', '.join(packaged_specs())})")
    add_common_arguments(parser)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``rdlr sweep`` and ``rdlr reproduce``."""
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder the spec's corpus roots, manifests and model paths are relative to")
    parser.add_argument("--storage", default=DEFAULT_STORAGE,
                        help=f"results, Tune state, stage-1 cache and (by default) features: a folder or s3:// URI "
                             f"(default: ./{DEFAULT_STORAGE}; multi-node clusters need s3:// or a shared NFS path)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join: auto (the one running on this machine, as on a `ray up` head), "
                             "HOST:6379 or ray://HOST:10001; default: the cluster named by RAY_ADDRESS, else a "
                             "private local Ray started for this command (a Ray running on this machine is not "
                             "joined unless named)")
    parser.add_argument("--autoscaler-config", metavar="YAML", default=None,
                        help="autoscaler config whose node types bound the cluster: trials and extraction actors "
                             "are sized for the nodes it may launch (default with --address: "
                             "~/ray_bootstrap_config.yaml, written by `ray up` on the head; without one the "
                             "cluster is fixed)")
    parser.add_argument("--no-adapt", action="store_true",
                        help="request the spec's trial resources as written, even where no node (type) can hold "
                             "them; by default they are adapted to the node types an autoscaler may launch, "
                             "or on a fixed cluster to the nodes present now")
    parser.add_argument("--verbose", action="store_true",
                        help="show Ray's own log lines, warnings and workers' output (default: rdlr's lines and "
                             "errors only; Ray's logs stay in its session folder, /tmp/ray/session_*/logs)")
    parser.add_argument("--mlflow", metavar="URI",
                        help="also log every trial as an MLflow run (experiment: the spec id) at this tracking URI, "
                             "e.g. file:./mlruns or http://HOST:5000; overrides the spec's tracking.mlflow; needs "
                             "pip install 'rdlr[tracking]'. TensorBoard events are always written, under "
                             "<storage>/<spec id>/tune")


def with_tracking(spec: SweepSpec, mlflow: str | None) -> SweepSpec:
    """``spec`` with ``--mlflow``'s URI in place of its ``tracking.mlflow``; MLflow checked usable when set."""
    if mlflow is not None:
        spec = dataclasses.replace(spec, tracking=TrackingSpec(mlflow=mlflow))
    if spec.tracking is not None and spec.tracking.mlflow:
        prepare_mlflow(spec.tracking.mlflow)
    return spec


def run(args: argparse.Namespace) -> int:
    """Validate the spec, load its features, run (or resume) the sweep, print a summary."""
    started = time.monotonic()
    try:
        spec = with_tracking(load_spec(args.spec), args.mlflow)
        storage = resolve_storage(args.storage)
        check_writable(storage, what="storage path")
        data_root = resolve_data_root(args.data_root)
        store = feature_store_uri(spec, storage)
        corpora = spec_corpora(spec, data_root)
        check_model_paths(spec, data_root, str(resolve_spec_path(args.spec)), store)
        capacity = find_capacity(args.autoscaler_config, joined=cluster_address(args.address) is not None)
    except (SpecError, ValueError, OSError) as error:  # OSError: unwritable or full storage, unreadable files
        print(f"rdlr sweep: error: {error}", file=sys.stderr)
        return 2
    note = storage_note(storage, cluster_address(args.address))
    if note:
        print(note, file=sys.stderr)
    from rdlr.features.store import FeatureStoreError
    from rdlr.sweep.driver import SweepError, run_sweep, table_shape
    from rdlr.sweep.plan import print_plan
    from rdlr.sweep.summary import outcome_text

    with ray_session(args.address, verbose=args.verbose):
        try:
            labels: dict[str, Any] = {}
            tables = load_tables(spec, store, corpora, object_store=True, summary=labels)
            print_plan(spec, next(iter(tables.values()))[1], "the spec's feature tables",
                       {features: table_shape(x)[1] for features, (x, _) in tables.items()})
            outcome = run_sweep(spec, tables, storage, adapt_resources=not args.no_adapt,
                                resolved=resolved_info(spec, data_root, store, labels), capacity=capacity)
        except FeatureStoreError as error:
            print(f"rdlr sweep: error: {error}\n(extract the features first: `rdlr extract`, or run "
                  f"`rdlr reproduce {args.spec}`)", file=sys.stderr)
            return 2
        except (SpecError, SweepError, OSError) as error:
            print(f"rdlr sweep: error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
    print(outcome_text(outcome))
    print(f"report: rdlr report {storage} --spec-id {spec.id}   ({time.monotonic() - started:.0f}s in all)")
    return 0 if outcome.ok else 1
