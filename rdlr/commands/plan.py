"""``rdlr plan SPEC [--data-root DIR] [--storage PATH] [--rates FILE] [--calibrate]``: the jobs, trials,
configurations per method, what each trial asks for and the projected cost of a sweep spec, without starting Ray
(:mod:`rdlr.sweep.plan`, printed by :mod:`rdlr.sweep.plan_text`). The rates are measured on this machine and cached
(:mod:`rdlr.sweep.calibrate`), or read from a figures file measured on another (``--rates``, e.g. the cluster's node
type); only what ``<storage>/<spec id>`` has not finished is projected."""

from __future__ import annotations

import argparse
from pathlib import Path

from rdlr.commands.errors import fail
from rdlr.commands.options import add_spec, add_storage
from rdlr.spec import SpecError, load_spec


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr plan``."""
    add_spec(parser)
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="read the spec's corpora here for the trials' sizes (default: the sizes the corpora "
        "document, e.g. the paper's Table 1)",
    )
    add_storage(parser)
    parser.add_argument(
        "--rates",
        "--figures",
        dest="rates",
        type=Path,
        default=None,
        metavar="FILE",
        help="rates measured on another machine by benchmarks/bench_scale.py (JSON, e.g. the cluster's node type; "
        "the packaged ones: rdlr/data/scale_figures.json); default: measured on this machine (a few seconds, "
        "cached per machine)",
    )
    parser.add_argument(
        "--calibrate", action="store_true", help="measure this machine's rates again (default: the cached ones)"
    )
    parser.add_argument("--node-cpus", type=int, default=16, help="CPUs of the node of the wall-clock estimate")


def run(args: argparse.Namespace) -> int:
    """Print the plan; 2 on a bad spec, data root or rates file."""
    from rdlr.corpora import ManifestError, SplitError
    from rdlr.sweep.cost import FiguresError, load_figures
    from rdlr.sweep.inputs import resolve_data_root, resolve_storage
    from rdlr.sweep.plan import make_plan, planning_manifest
    from rdlr.sweep.plan_text import plan_lines

    if args.node_cpus < 1:
        return fail("plan", f"--node-cpus must be >= 1, got {args.node_cpus}")
    if args.rates is not None and args.calibrate:
        return fail("plan", "--calibrate measures this machine; --rates reads another's: give one of them")
    try:
        spec = load_spec(args.spec)
        if args.rates is not None:
            load_figures(args.rates)  # a bad rates file is named before the corpora are read
        storage = resolve_storage(args.storage)
        meta, source = planning_manifest(spec, resolve_data_root(args.data_root))
        plan = make_plan(spec, meta, source, storage=storage, rates=args.rates, recalibrate=args.calibrate)
    except (SpecError, FiguresError, ManifestError, SplitError, FileNotFoundError, ValueError) as error:
        return fail("plan", error)
    print("\n".join(plan_lines(plan, node_cpus=args.node_cpus, finished=f"{storage}/{spec.id}")))
    return 0
