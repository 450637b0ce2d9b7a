"""The ``rdlr`` command (also ``python -m rdlr``). Each subcommand lives in its own module, which defines
``configure_parser(parser)`` and ``run(args) -> int`` (or in an object of a module, named ``module:object``, that
has both); this file only dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

from rdlr import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("rdlr.corpora.cli", "write a corpus manifest (CSV) from a corpus folder"),
    "extract": ("rdlr.features.cli", "extract features from manifests into the Parquet feature store"),
    "plan": ("rdlr.sweep.plan_cli", "a sweep spec's jobs, trials and projected cost, without starting Ray"),
    "sweep": ("rdlr.sweep.cli", "run a sweep spec on Ray Tune"),
    "report": ("rdlr.report.cli", "render Tables 2/3 and plots from a sweep's results"),
    "reproduce": ("rdlr.reproduce", "prepare + extract + sweep + report in one command"),
    "train": ("rdlr.models.cli:train", "train one model from manifests and save it as a model folder"),
    "predict": ("rdlr.models.cli:predict", "predict the emotion of audio files, folders or manifests with a model"),
    "export": ("rdlr.models.cli:export", "save the model of a sweep's selected configuration as a model folder"),
}


def installed_version() -> str:
    """The installed distribution's version; the package's own ``__version__`` when rdlr runs uninstalled."""
    try:
        return metadata.version("rdlr")
    except metadata.PackageNotFoundError:
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rdlr",
        description="Cross-corpus speech emotion recognition with relative difficulty and labeling reliability "
        "(Ahn et al., Sensors 2024): corpora, features, sweeps, reports and trained models.",
    )
    parser.add_argument("--version", action="version", version=f"rdlr {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (target, help_text) in SUBCOMMANDS.items():
        module_name, _, attribute = target.partition(":")  # "package.module:object" when a module has several
        module = importlib.import_module(module_name)
        command = getattr(module, attribute) if attribute else module
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command.configure_parser(command_parser)
        command_parser.set_defaults(_run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
