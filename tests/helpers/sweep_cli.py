"""`rdlr sweep` run in-process for tests of what it checks before Ray starts."""

from __future__ import annotations

import argparse

import pytest

from rdlr.commands import sweep as cli


def run_sweep_cli(*argv: str) -> int:
    """The exit status of ``rdlr sweep ARGV``."""
    parser = argparse.ArgumentParser(prog="rdlr sweep")
    cli.configure_parser(parser)
    return cli.run(parser.parse_args(list(argv)))


def refuse_ray(monkeypatch: pytest.MonkeyPatch, reason: str) -> None:
    """Make any start of Ray by ``rdlr sweep`` fail the test with ``reason``."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"Ray started although {reason}")

    monkeypatch.setattr(cli, "ray_session", refuse)
