"""The generic YAML-to-dataclass reader (rdlr.spec.schema), on a toy schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from rdlr.spec.schema import SchemaError, build, plain, type_name


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str
    sizes: tuple[int, ...] = ()
    inner: Inner = field(default_factory=Inner)
    extra: dict[str, Any] = field(default_factory=dict)
    note: str | None = None

    def __post_init__(self) -> None:
        if self.name == "bad":
            raise SchemaError("name: 'bad' is not allowed")


def test_builds_nested_dataclasses_and_converts_back() -> None:
    built = build(Outer, {"name": "a", "sizes": [1, 2], "inner": {"rate": 1}, "extra": {3: "x"}}, "")
    assert built == Outer("a", (1, 2), Inner(1), {"3": "x"})
    assert build(Outer, {"name": "a", "inner": None}, "").inner == Inner()
    assert plain({"sizes": (1, 2), "inner": {"rate": 1}}) == {"sizes": [1, 2], "inner": {"rate": 1}}


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ([1], r"the spec must be a mapping, got list \[1\]"),
        ({}, r"missing required key 'name' \(a string\)"),
        ({"name": "a", "size": 1}, r"unknown key 'size'; valid keys: name, sizes, inner, extra, note"),
        ({"name": "a", "inner": {"ratio": 1}}, r"unknown key 'inner.ratio'; valid keys of inner: rate"),
        ({"name": "a", "sizes": [1, True]}, r"sizes\[1\] must be an integer, got True"),
        ({"name": "a", "sizes": "1,2"}, r"sizes must be a list of an integer, got '1,2'"),
        ({"name": "a", "inner": {"rate": "fast"}}, r"inner.rate must be a number, got 'fast'"),
        ({"name": " "}, r"name must be a non-empty string, got ' '"),
        ({"name": "a", "note": 3}, r"note must be a non-empty string, got the number 3 \(quote text"),
        ({"name": "bad"}, r"^name: 'bad' is not allowed$"),
    ],
)
def test_errors_name_the_dotted_key_the_type_and_the_value(raw: object, match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        build(Outer, raw, "")


def test_type_names_read_as_words() -> None:
    assert type_name(tuple[int, ...]) == "a list of an integer"
    assert type_name(dict[str, float]) == "a mapping of a number"
    assert type_name(str | None) == "a string or null"
    assert type_name(Inner) == "a mapping (Inner)"
