"""The one way a command reports bad input: a single line on stderr, ``rdlr <command>: error: <what and what to
do>``, and exit status 2 (nothing computed is lost: the commands check their input before any work, and work
already done stays where it was written)."""

from __future__ import annotations

import sys

BAD_INPUT = 2


def fail(command: str, error: BaseException | str) -> int:
    """Print ``error`` as one line for ``rdlr command`` and return :data:`BAD_INPUT`."""
    print(f"rdlr {command}: error: {error}", file=sys.stderr)
    return BAD_INPUT
