"""The ``rdlr`` command (also ``python -m rdlr``). Each subcommand lives in its own module of :mod:`rdlr.commands`,
which defines ``configure_parser(parser)`` and ``run(args) -> int``; this file only dispatches, importing only the
chosen subcommand's module so that ``rdlr --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata

from rdlr import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("rdlr.commands.prepare", "write a corpus manifest (CSV) from a corpus folder"),
    "extract": ("rdlr.commands.extract", "extract features from manifests into the Parquet feature store"),
    "plan": ("rdlr.commands.plan", "a sweep spec's jobs, trials and projected cost, without starting Ray"),
    "sweep": ("rdlr.commands.sweep", "run a sweep spec on Ray Tune"),
    "report": ("rdlr.commands.report", "render Tables 2/3 and plots from a sweep's results"),
    "reproduce": ("rdlr.commands.reproduce", "prepare + extract + sweep + report in one command"),
    "train": ("rdlr.commands.train", "train one model from manifests and save it as a model folder"),
    "predict": ("rdlr.commands.predict", "predict the emotion of audio files, folders or manifests with a model"),
    "export": ("rdlr.commands.export", "save the model of a sweep's selected configuration as a model folder"),
    "onnx": ("rdlr.commands.onnx", "write MODEL_DIR/model.onnx (z-normalisation + classifier) and check it"),
    "serve": ("rdlr.commands.serve", "serve models over HTTP on Ray Serve, with a page to try them"),
}


def installed_version() -> str:
    """The installed distribution's version; the package's own ``__version__`` when rdlr runs uninstalled."""
    try:
        return metadata.version("rdlr")
    except metadata.PackageNotFoundError:
        return __version__


def build_parser(configured: Iterable[str] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The ``rdlr`` parser; the subcommands in ``configured`` get their options (which imports their modules),
    the others only their one-line help."""
    parser = argparse.ArgumentParser(
        prog="rdlr",
        description="Cross-corpus speech emotion recognition with relative difficulty and labeling reliability "
        "(Ahn et al., Sensors 2024): corpora, features, sweeps, reports and trained models.",
    )
    parser.add_argument("--version", action="version", version=f"rdlr {installed_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    configured = set(configured)
    for name, (target, help_text) in SUBCOMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name not in configured:
            continue
        command = importlib.import_module(target)
        command.configure_parser(command_parser)
        command_parser.set_defaults(_run=command.run)
    return parser


def chosen_subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option), or None."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(configured=[chosen_subcommand(argv)])
    args = parser.parse_args(argv)
    if args.command is None:  # plain `rdlr`: the help, not just "arguments are required"
        parser.print_help(sys.stderr)
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
