"""``rdlr sweep SPEC [--data-root DIR] [--storage PATH] [--address auto] [--autoscaler-config YAML]``: run a sweep
spec on Ray Tune.

SPEC is a YAML file or a packaged spec name (``table2``, ``table3``, ``demo``). Features must already be in the
feature store (``rdlr extract``, or use ``rdlr reproduce`` for prepare + extract + sweep + report). Results go to
``<storage>/<spec id>/results.csv``; re-running the same command resumes the sweep.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rdlr.cluster.session import ray_session
from rdlr.commands.errors import fail
from rdlr.commands.options import add_run_location, add_spec
from rdlr.spec import SpecError
from rdlr.sweep.resolved import RunOptions, resolve_run


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr sweep``."""
    add_spec(parser)
    add_run_location(parser)


def run(args: argparse.Namespace) -> int:
    """Validate the spec, load its features, run (or resume) the sweep, print a summary."""
    from rdlr.features.store import FeatureStoreError
    from rdlr.sweep.driver import SweepError, run_sweep, table_shape
    from rdlr.sweep.inputs import check_stored_classes, load_tables
    from rdlr.sweep.plan_text import print_plan
    from rdlr.sweep.summary import outcome_text

    started = time.monotonic()
    try:  # OSError: unwritable or full storage, unreadable files
        run = resolve_run(
            args.spec, RunOptions(args.storage, args.data_root, args.address, args.autoscaler_config, args.mlflow)
        )
        check_stored_classes(run.spec, run.store, run.corpora)  # a class no job can train on: before Ray starts
    except (SpecError, ValueError, OSError) as error:
        return fail("sweep", error)
    note = run.storage_note()
    if note:
        print(note, file=sys.stderr)
    with ray_session(args.address, verbose=args.verbose):
        try:
            labels: dict[str, Any] = {}
            tables = load_tables(run.spec, run.store, run.corpora, object_store=True, summary=labels)
            plan = print_plan(
                run.spec,
                next(iter(tables.values()))[1],
                "the spec's feature tables",
                {features: table_shape(x)[1] for features, (x, _) in tables.items()},
                storage=run.storage,
            )
            outcome = run_sweep(
                run.spec,
                tables,
                run.storage,
                adapt_resources=not args.no_adapt,
                resolved=run.info(labels),
                capacity=run.capacity,
                plan=plan,
            )
        except FeatureStoreError as error:
            return fail(
                "sweep", f"{error}; extract the features first: `rdlr extract`, or run `rdlr reproduce {args.spec}`"
            )
        except (SpecError, SweepError, OSError) as error:
            return fail("sweep", error)
        except KeyboardInterrupt:
            return 130
    print(outcome_text(outcome))
    print(f"report: rdlr report {run.storage} --spec-id {run.spec.id}   ({time.monotonic() - started:.0f}s in all)")
    return 0 if outcome.ok else 1
