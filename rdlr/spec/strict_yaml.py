"""Reading a spec file's YAML strictly: what plain ``yaml.safe_load`` lets through silently is an error here.

* A key written twice in one mapping is an error naming both lines (``yaml.safe_load`` keeps the last one).
* A spec ``id`` is text. Unquoted, YAML reads ``007`` as the integer 7, ``1.5e3`` as a number, ``null`` or an empty
  value as nothing and ``yes`` as true, so such an id is an error that quotes what was written and says to quote it
  (``id: "007"``). Ids that YAML reads as text anyway (``1e3``, ``NA``) are used as written.

Size, nesting and alias expansion are bounded (:mod:`rdlr.io.safe_text`). Non-finite numbers and seed ranges are
checked with the rest of the spec (:mod:`rdlr.spec.schema`, :mod:`rdlr.spec.checks`).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

from rdlr.io.safe_text import DocumentError, check_yaml, parse_yaml, read_bytes

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping of the YAML document names a key twice."""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys in a mapping (merge keys ``<<`` may still be overridden)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, Hashable):
                continue  # SafeLoader reports unhashable keys itself
            if key in seen:
                raise DuplicateKeyError(
                    None,
                    None,
                    f"duplicate key {key!r} (line {line}; first at line {seen[key]}): write each key once",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class SpecFileError(ValueError):
    """A spec file that cannot be read as a spec document; the message names the file and the problem."""


def read_spec_document(path: Path) -> Any:
    """The parsed YAML of the spec file ``path``: duplicate keys and a spec id that is not text are errors, and so
    is a file beyond the bounds of :mod:`rdlr.io.safe_text` (size, nesting, alias expansion)."""
    try:
        text = check_yaml(read_bytes(path), str(path))
        raw = parse_yaml(text, str(path), loader=StrictLoader)
    except DocumentError as error:
        raise SpecFileError(str(error)) from None
    problem = id_problem(text, raw)
    if problem:
        raise SpecFileError(f"{path}: {problem}")
    return raw


def load_strict(text: str) -> Any:
    """The YAML document ``text`` (:class:`StrictLoader`); raises ``yaml.YAMLError`` (duplicates included)."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass: no Python objects


def id_problem(text: str, raw: Any) -> str | None:
    """Why the top-level ``id`` of a spec is not usable text, quoting what the file says; ``None`` when it is text
    (or absent: the schema reports a missing id)."""
    if not isinstance(raw, dict) or "id" not in raw or isinstance(raw["id"], str):
        return None
    written = _written_value(text, "id")
    value = raw["id"]
    if value is None:
        read_as = "nothing (null)"
    elif isinstance(value, bool):
        read_as = f"the boolean {str(value).lower()}"
    else:
        read_as = f"the number {value!r}"
    if not written:
        return "id: no value; give the spec an id, e.g. id: my-sweep"
    return f'id: YAML reads the unquoted {written!r} as {read_as}; a spec id is text: quote it (id: "{written}")'


def _written_value(text: str, key: str) -> str | None:
    """The source text of the top-level scalar ``key`` of the YAML document ``text``."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(root, MappingNode):
        for key_node, value_node in root.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key and isinstance(value_node, ScalarNode):
                return value_node.value
    return None
