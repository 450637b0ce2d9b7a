"""`rdlr reproduce` run in-process, and the tone-corpus run the end-to-end tests start from."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rdlr.cli import build_parser
from rdlr.labels import CLASSES
from tests.helpers.tone_corpus import write_corpus


def reproduce(*argv: str) -> int:
    """The exit status of ``rdlr reproduce ARGV``, run in this process."""
    args = build_parser().parse_args(["reproduce", *argv])
    return args._run(args)


def tone_run(root: Path, spec: Mapping[str, Any], emotions: tuple[str, ...] = CLASSES) -> tuple[str, ...]:
    """Write the tone corpus (one utterance per emotion of ``emotions`` and speaker) and ``spec`` (as
    ``<id>.yaml``) under ``root``; the arguments of ``rdlr reproduce`` that run them, with the runs in
    ``root/runs`` and the reports in ``root/reports``."""
    write_corpus(root, emotions)
    path = root / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(dict(spec)))
    return str(path), "--data-root", str(root), "--storage", str(root / "runs"), "--out", str(root / "reports")
