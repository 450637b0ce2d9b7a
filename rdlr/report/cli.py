"""``rdlr report STORAGE [--out reports/] [--spec-id ID] [--selection validation|paper]``.

STORAGE is the sweep's storage path (holding ``<spec_id>/results.csv``), one spec folder, or a results.csv file;
``s3://``-style URIs need ``--spec-id`` (or the results.csv URI) and a pandas filesystem driver for the scheme.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from rdlr.report.layout import PAPER_SELECTION_DIR, PROPOSED
from rdlr.report.selection import SELECTIONS
from rdlr.results import RESULTS_FILE, parse_results_csv, validate_results



def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr report``."""
    parser.add_argument(
        "storage", help="sweep storage path (holding <spec_id>/results.csv), a spec folder, or a results.csv"
    )
    parser.add_argument(
        "--out", default="reports", type=Path, help="report folder; writes <out>/<spec_id>/ (default: reports)"
    )
    parser.add_argument("--spec-id", default=None, help="which spec under STORAGE (needed when it holds several)")
    parser.add_argument(
        "--selection", choices=list(SELECTIONS), default="validation",
        help="hyperparameter selection: best mean validation UA (default) or the paper's protocol, best mean test UA "
        f"(written to <out>/<spec_id>/{PAPER_SELECTION_DIR}/)",
    )  # fmt: skip
    parser.add_argument(
        "--proposed", default=PROPOSED, help=f"method compared with every baseline (default: {PROPOSED})"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")


def locate_results(storage: str, spec_id: str | None) -> str:
    """The results.csv of ``spec_id`` under ``storage`` (or the only one there); clear errors otherwise."""
    if "://" in storage:
        if storage.endswith(".csv"):
            return storage
        if not spec_id:
            raise ValueError(f"{storage}: pass --spec-id for a remote storage path (or the URI of its results.csv)")
        return f"{storage.rstrip('/')}/{spec_id}/{RESULTS_FILE}"
    root = Path(storage)
    if root.is_file():
        return str(root)
    if not root.is_dir():
        raise FileNotFoundError(f"storage path not found: {root}")
    if (root / RESULTS_FILE).is_file() and not spec_id:
        return str(root / RESULTS_FILE)
    found = sorted(p.parent.name for p in root.glob(f"*/{RESULTS_FILE}"))
    if spec_id:
        if spec_id not in found:
            raise FileNotFoundError(
                f"no {RESULTS_FILE} for spec {spec_id!r} under {root}; found: {', '.join(found) or 'none'}"
            )
        return str(root / spec_id / RESULTS_FILE)
    if not found:
        raise FileNotFoundError(f"no <spec_id>/{RESULTS_FILE} under {root}; run `rdlr sweep` first")
    if len(found) > 1:
        raise ValueError(f"{root} holds several specs ({', '.join(found)}); pick one with --spec-id")
    return str(root / found[0] / RESULTS_FILE)


def run(args: argparse.Namespace) -> int:
    """Render the report; prints the index path. Bad input: a message on stderr and exit status 2."""
    from rdlr.report.build import find_spec, render_report  # matplotlib and scipy load only when a report is rendered

    try:
        location = locate_results(str(args.storage), args.spec_id)
        results: pd.DataFrame | str = location
        spec = None
        if "://" in location:
            results = validate_results(parse_results_csv(location), source=location)
        else:
            spec = find_spec(Path(location).parent)
        if spec is None and args.spec_id:
            spec = {"spec_id": args.spec_id}
        index = render_report(results, args.out, selection=args.selection, spec=spec, proposed=args.proposed,
                              plots=not args.no_plots)
    except (FileNotFoundError, ValueError) as error:
        print(f"rdlr report: error: {error}", file=sys.stderr)
        return 2
    print(f"report ({args.selection} selection): {index}")
    return 0
