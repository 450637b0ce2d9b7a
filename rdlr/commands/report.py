"""``rdlr report STORAGE [--out reports/] [--spec-id ID] [--selection validation|paper] [--all-rows]``.

STORAGE is the sweep's storage path (holding ``<spec_id>/results.csv``), one spec folder, or a results.csv file;
``s3://``-style URIs need ``--spec-id`` (or the results.csv URI) and a pandas filesystem driver for the scheme.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rdlr.commands.errors import fail
from rdlr.commands.options import add_all_rows, add_selection
from rdlr.report.files import PAPER_SELECTION_DIR, given_spec_text, report_input
from rdlr.report.layout import PROPOSED
from rdlr.report.selection import DEFAULT_SELECTION


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr report``."""
    parser.add_argument(
        "storage", help="sweep storage path (holding <spec_id>/results.csv), a spec folder, or a results.csv"
    )
    parser.add_argument(
        "--out", default="reports", type=Path, help="report folder; writes <out>/<spec_id>/ (default: reports)"
    )
    parser.add_argument("--spec-id", default=None, help="which spec under STORAGE (needed when it holds several)")
    add_selection(
        parser,
        None,
        "the spec's `headline` (table2-paper and table3-paper: paper), else validation; "
        f"paper's selection is written to <out>/<spec_id>/{PAPER_SELECTION_DIR}/",
    )
    parser.add_argument(
        "--proposed", default=PROPOSED, help=f"method compared with every baseline (default: {PROPOSED})"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figures (PNG and PDF)")
    add_all_rows(parser)


def run(args: argparse.Namespace) -> int:
    """Render the report; prints the index path. Bad input: a message on stderr and exit status 2."""
    from rdlr.report.build import render_report  # matplotlib and scipy load only when a report is rendered

    try:
        results, spec = report_input(str(args.storage), args.spec_id)
        selection = args.selection or (spec or {}).get("headline") or DEFAULT_SELECTION
        index = render_report(
            results,
            args.out,
            selection=selection,
            spec=spec,
            proposed=args.proposed,
            plots=not args.no_plots,
            all_rows=args.all_rows,
            spec_text=given_spec_text(results),
        )
    except (FileNotFoundError, ValueError) as error:
        return fail("report", error)
    print(f"report ({selection} selection): {index}")
    return 0
