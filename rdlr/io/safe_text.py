"""Reading the YAML and JSON documents rdlr is given (sweep specs, model cards, feature-store and sweep metadata,
figures, autoscaler configs) within fixed bounds, so that a hostile or broken file costs an error line, not the
machine: the one place every such file is parsed.

Bounds (each refusal one line that names the file):

* **size**: at most :data:`MAX_BYTES` (1 MiB; rdlr's own specs are a few KiB), checked before parsing;
* **nesting**: at most :data:`MAX_DEPTH` levels of lists and mappings (the parsers recurse per level: a few
  thousand levels end in ``RecursionError``);
* **YAML aliases**: the document counted with every alias expanded holds at most :data:`MAX_NODES` nodes, so
  anchors and merge keys (``<<: *base``) work while "billion laughs" (aliases of aliases, 10⁹ nodes from a few
  hundred bytes) is refused before anything is built;
* **integers** have at most :data:`MAX_INT_DIGITS` digits (Python refuses to parse more than 4300 anyway, with an
  error that names no file).

The checks walk PyYAML's event stream (an iterative parser, libyaml's where installed) and the JSON text's
brackets, in time and memory linear in the file, before the document is built.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import yaml

MAX_BYTES = 2**20
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_INT_DIGITS = 64

_EVENT_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 100x faster on hostile text
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


class DocumentError(ValueError):
    """A YAML or JSON file that is too large, too deep, not valid, or expands too far; one line naming it."""


def read_bytes(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``, refused when the file holds more than ``max_bytes`` (never more is read)."""
    with open(path, "rb") as stream:
        data = stream.read(max_bytes + 1)
    check_size(data, str(path), max_bytes)
    return data


def check_size(data: bytes | str, where: str, max_bytes: int = MAX_BYTES) -> None:
    """Refuse a document of more than ``max_bytes`` bytes."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise DocumentError(
            f"{where}: more than {max_bytes} bytes ({_size(max_bytes)}); rdlr reads no larger "
            "YAML or JSON file (is it the right file?)"
        )


def read_json(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document in ``path``, within the module's bounds (:class:`DocumentError` otherwise)."""
    return parse_json(read_bytes(path, max_bytes), str(path), max_bytes, max_depth)


def parse_json(data: bytes | str, where: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document ``data`` read from ``where`` (named in errors), within the module's bounds."""
    raw = data.encode() if isinstance(data, str) else data
    check_size(raw, where, max_bytes)
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > max_depth:
            raise _too_deep(where, max_depth)
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_int=lambda text: _integer(text, where))
    except UnicodeDecodeError as error:
        raise DocumentError(f"{where}: not UTF-8 text (byte {error.start}); JSON files are UTF-8") from None
    except json.JSONDecodeError as error:
        raise DocumentError(f"{where}: not valid JSON: {error}") from None


def read_yaml(
    path: str | os.PathLike[str], loader: type[yaml.SafeLoader] = yaml.SafeLoader, max_bytes: int = MAX_BYTES
) -> Any:
    """The YAML document in ``path`` read by ``loader`` (a ``SafeLoader``), within the module's bounds."""
    return parse_yaml(read_bytes(path, max_bytes), str(path), loader, max_bytes)


def parse_yaml(
    data: bytes | str,
    where: str,
    loader: type[yaml.SafeLoader] = yaml.SafeLoader,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """The YAML document ``data`` read from ``where`` by ``loader``, after :func:`check_yaml`. Errors of the
    loader itself (a duplicate key of a strict loader, a syntax error) become one :class:`DocumentError` line."""
    text = check_yaml(data, where, max_bytes, max_depth, max_nodes)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader (sub)class: no Python objects
    except yaml.MarkedYAMLError as error:
        raise DocumentError(f"{where}: {yaml_problem(error)}") from None
    except (yaml.YAMLError, ValueError) as error:
        raise DocumentError(f"{where}: not valid YAML: {error}") from None


def check_yaml(
    data: bytes | str, where: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> str:
    """The text of the YAML document ``data``, once its size, nesting, alias expansion and integers are within
    bounds (:class:`DocumentError` otherwise); the document itself is not built."""
    check_size(data, where, max_bytes)
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise DocumentError(f"{where}: not UTF-8 text (byte {error.start}); save the YAML file as UTF-8") from None
    try:
        _check_yaml_events(yaml.parse(text, Loader=_EVENT_LOADER), where, max_depth, max_nodes)
    except yaml.MarkedYAMLError as error:
        if "nesting depth" in str(error):  # libyaml's own bound (1000 levels) met while it reads ahead
            raise _too_deep(where, max_depth) from None
        raise DocumentError(f"{where}: {yaml_problem(error)}") from None
    return text


def yaml_problem(error: yaml.MarkedYAMLError) -> str:
    """One line for a PyYAML error: what is wrong and where (PyYAML's own message spans several lines)."""
    mark = error.problem_mark
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = error.problem or error.context or "not valid YAML"
    return problem if "line " in problem else f"not valid YAML: {problem}{at}"


def _check_yaml_events(events: Iterator[yaml.Event], where: str, max_depth: int, max_nodes: int) -> None:
    """Walk the event stream: the nesting depth, and the node count with every alias expanded to the size of its
    anchored node (so aliases of aliases multiply), without building anything."""
    sizes: dict[str, int] = {}  # anchor -> expanded node count of the node it names
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, nodes counted so far) of each open list / mapping
    total = 0
    for event in events:
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(open_nodes) >= max_depth:
                raise _too_deep(where, max_depth, event.start_mark.line + 1)
            open_nodes.append((event.anchor, 1))
            continue
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, count = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = count
        elif isinstance(event, yaml.ScalarEvent):
            count = 1
            if event.tag is None and event.implicit[0] and _looks_like_long_integer(event.value):
                raise _long_integer(where, event.start_mark.line + 1)
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            count = sizes.get(event.anchor, 1)
        else:
            continue
        if open_nodes:  # counted into the list or mapping that holds it
            anchor, counted = open_nodes[-1]
            open_nodes[-1] = (anchor, counted + count)
            reached = total + counted + count
        else:
            total += count
            reached = total
        if reached > max_nodes:
            line = event.start_mark.line + 1
            raise DocumentError(
                f"{where}: more than {max_nodes} values once its aliases (*name) are expanded "
                f"(line {line}); rdlr refuses such alias bombs: write the values out"
            )


def _looks_like_long_integer(value: str) -> bool:
    digits = value.lstrip("+-").replace("_", "")
    return len(digits) > MAX_INT_DIGITS and digits.isdigit()


def _integer(text: str, where: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _long_integer(where)
    return int(text)


def _long_integer(where: str, line: int | None = None) -> DocumentError:
    at = f" (line {line})" if line else ""
    return DocumentError(f"{where}: an integer of more than {MAX_INT_DIGITS} digits{at}; no rdlr setting needs one")


def _too_deep(where: str, max_depth: int, line: int | None = None) -> DocumentError:
    at = f" (line {line})" if line else ""
    return DocumentError(f"{where}: nested more than {max_depth} levels deep{at}; rdlr reads no deeper document")


def _size(count: int) -> str:
    return f"{count / 2**20:g} MiB" if count >= 2**20 else f"{count / 2**10:g} KiB"
