"""The README and the documentation site against the code: every ``rdlr`` command line they show names a subcommand
that exists and only options that subcommand's ``--help`` lists, every docs page is in the site's nav, and the
README stays short. The parser is built in-process (``rdlr.cli.build_parser``), as ``rdlr <command> --help`` builds
it."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from rdlr.cli import SUBCOMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 250

SHELL_LANGUAGES = frozenset({"", "bash", "sh", "shell", "console"})  # code blocks of command lines
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<lang>[\w+-]*)")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
COMMAND_END = frozenset({"&&", "||", ";", "|", ")", "&"})


@dataclass(frozen=True)
class Call:
    """One ``rdlr`` command line shown in a document: its subcommand (or a top-level option) and options."""

    where: str
    command: str
    options: tuple[str, ...]


def documents() -> list[Path]:
    """README.md and every page of the documentation site."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def code_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, command line) of the shell code blocks of a Markdown text, with backslash continuations
    joined, and of its inline code spans that start with ``rdlr``."""
    lines = text.splitlines()
    fence: str | None = None
    shell = False
    pending: list[str] = []
    start = 0
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, shell = match["fence"], match["lang"].lower() in SHELL_LANGUAGES
                continue
            for span in INLINE_CODE.findall(line):
                if span.startswith("rdlr "):
                    yield number, span
            continue
        if match and match["fence"].startswith(fence) and not match["lang"]:
            fence = None
            continue
        if not shell:
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        yield start, " ".join([*pending, line])
        pending = []


def shell_words(line: str) -> list[str]:
    """The words of a shell line, its comment left out; lines shlex cannot split fall back to whitespace."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split("#", 1)[0].split()


def rdlr_calls(text: str, where: str) -> Iterator[Call]:
    """Every ``rdlr <command> ...`` in the code of a Markdown text (also after ``&&``, ``python -m``, ``--``).
    Placeholders (``rdlr <command>``) are skipped; options are the words starting with ``--`` up to the end of the
    command (``&&``, ``;``, a pipe) or of the line; comments and quoted text are not read."""
    for number, line in code_lines(text):
        words = shell_words(line)
        for index, word in enumerate(words[:-1]):
            if word != "rdlr" or words[index + 1].startswith("<"):
                continue
            options = []
            for option in words[index + 2 :]:
                if option in COMMAND_END:
                    break
                option = option.strip("[]")
                if option.startswith("--") and len(option) > 2:
                    options.append(option.split("=", 1)[0])
            yield Call(f"{where}:{number}", words[index + 1].strip("[]"), tuple(options))


@cache
def command_options(command: str) -> frozenset[str]:
    """The option strings ``rdlr <command> --help`` lists (or those of ``rdlr`` itself for ``""``)."""
    parser = build_parser(configured=[command] if command else [])
    if not command:
        return frozenset(s for action in parser._actions for s in action.option_strings)
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = subparsers.choices[command]
    return frozenset(s for action in sub._actions for s in action.option_strings)


def problems(calls: list[Call]) -> list[str]:
    """One line per unknown subcommand or option among ``calls``."""
    found = []
    for call in calls:
        if call.command.startswith("-"):  # rdlr --version, rdlr --help
            unknown = [o for o in (call.command, *call.options) if o not in command_options("")]
        elif call.command not in SUBCOMMANDS:
            found.append(f"{call.where}: unknown subcommand 'rdlr {call.command}'; valid: {', '.join(SUBCOMMANDS)}")
            continue
        else:
            unknown = [o for o in call.options if o not in command_options(call.command)]
        found += [f"{call.where}: 'rdlr {call.command}' has no option {o}" for o in unknown]
    return found


def all_calls() -> list[Call]:
    return [
        call
        for path in documents()
        for call in rdlr_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]


def test_every_rdlr_option_the_docs_show_exists() -> None:
    calls = all_calls()
    assert set(SUBCOMMANDS) <= {call.command for call in calls}  # the docs show every subcommand at least once
    assert problems(calls) == []


def test_the_check_finds_an_option_or_a_subcommand_that_does_not_exist() -> None:
    fake = """
Some prose with `rdlr train --manifest a.csv --learning-rate 0.1`.

```bash
rdlr sweep sweeps/demo.yaml --data-root /data \\
    --storage s3://bucket --gpus 4   # a comment --not-an-option
rdlr prepare emodb --root x --out y.csv && rdlr sweeps demo
python -m rdlr --version
```

```python
import rdlr
from rdlr import losses  # python blocks hold no command lines
```
"""
    calls = list(rdlr_calls(fake, "fake.md"))
    assert [(c.command, c.options) for c in calls] == [
        ("train", ("--manifest", "--learning-rate")),
        ("sweep", ("--data-root", "--storage", "--gpus")),
        ("prepare", ("--root", "--out")),
        ("sweeps", ()),
        ("--version", ()),
    ]
    assert calls[1].where == "fake.md:5"  # a continued line is reported where it starts
    assert problems(calls) == [
        "fake.md:2: 'rdlr train' has no option --learning-rate",
        "fake.md:5: 'rdlr sweep' has no option --gpus",
        "fake.md:7: unknown subcommand 'rdlr sweeps'; valid: " + ", ".join(SUBCOMMANDS),
    ]


def nav_pages(node: object) -> Iterator[str]:
    """The page paths of a MkDocs nav (nested lists of paths and {title: path-or-list} mappings)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from nav_pages(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from nav_pages(value)


def test_the_site_nav_lists_every_docs_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = list(nav_pages(config["nav"]))
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(set(listed)) == pages
    assert len(listed) == len(set(listed))  # no page twice
    assert config["strict"] is True


def test_the_readme_is_short_and_points_into_the_site() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    for target in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / target).is_file(), target


@pytest.mark.parametrize("name", ["README.md", ".ci/run"])
def test_the_readme_test_command_is_what_ci_runs(name: str) -> None:
    command = (
        "python3.11 -m venv .venv && . .venv/bin/activate && (python -c 'import torch' 2>/dev/null || "
        "pip install torch==2.13.0) && pip install -e '.[dev]' && python -m pytest"
    )
    assert command in (ROOT / name).read_text(encoding="utf-8")


def test_every_decisions_anchor_a_docstring_cites_exists() -> None:
    """Docstrings point to ``docs/decisions.md#anchor`` (and list further ``#anchor``s after one such pointer)."""
    anchors = set(re.findall(r"\{ #([\w-]+) \}", (DOCS / "decisions.md").read_text(encoding="utf-8")))
    cited: set[str] = set()
    for path in (ROOT / "rdlr").rglob("*.py"):
        for line in re.findall(r"docs/decisions\.md#.*", path.read_text(encoding="utf-8")):
            cited |= set(re.findall(r"#([\w-]+)", line))
    assert cited, "no docstring points to the decisions page"
    assert cited <= anchors, f"unknown anchors: {sorted(cited - anchors)}"
