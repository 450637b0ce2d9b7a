"""``rdlr plan SPEC [--data-root DIR] [--figures FILE]``: the jobs, trials, configurations per method, what each
trial asks for and the projected cost of a sweep spec, without starting Ray (:mod:`rdlr.sweep.plan`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rdlr.commands.errors import fail
from rdlr.commands.options import add_spec
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
    parser.add_argument(
        "--figures",
        type=Path,
        default=None,
        help="rates measured by benchmarks/bench_scale.py (JSON; default: the packaged ones)",
    )
    parser.add_argument("--node-cpus", type=int, default=16, help="CPUs of the node of the wall-clock estimate")


def run(args: argparse.Namespace) -> int:
    """Print the plan; 2 on a bad spec, data root or figures file."""
    from rdlr.corpora import ManifestError, SplitError
    from rdlr.sweep.cost import FiguresError, load_figures
    from rdlr.sweep.inputs import resolve_data_root
    from rdlr.sweep.plan import build_plan, plan_lines, planning_manifest

    if args.node_cpus < 1:
        return fail("plan", f"--node-cpus must be >= 1, got {args.node_cpus}")
    try:
        spec = load_spec(args.spec)
        figures = load_figures(args.figures)
        meta, source = planning_manifest(spec, resolve_data_root(args.data_root))
        plan = build_plan(spec, meta, source, figures)
    except (SpecError, FiguresError, ManifestError, SplitError, FileNotFoundError) as error:
        return fail("plan", error)
    print("\n".join(plan_lines(plan, node_cpus=args.node_cpus)))
    return 0
