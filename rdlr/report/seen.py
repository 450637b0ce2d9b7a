"""Cells whose held-out corpus the backbone of their features saw in training (the spec's ``seen_corpora``, run with
``allow_seen``): marked with :data:`rdlr.features.seen.SEEN_MARK` and explained under the table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from rdlr.features.seen import seen_by, seen_note
from rdlr.report.cells import Table
from rdlr.report.layout import AVG


def mark_seen(tables: Sequence[Table], spec: Mapping[str, Any]) -> None:
    """Mark every cell of ``tables`` whose held-out corpus ``spec["seen_corpora"]`` says the backbone of the row's
    features saw (and the row's Avg, which averages it), and add one note per feature set to its table."""
    seen = spec.get("seen_corpora") or {}
    if not seen:
        return
    for table in tables:
        found: dict[str, tuple[set[str], set[str]]] = {}
        for row in table.rows:
            for column in table.columns:
                keys = seen_by(row.features, column, seen) if column != AVG else []
                if not keys:
                    continue
                corpora, names = found.setdefault(row.features, (set(), set()))
                corpora.add(column)
                names.update(keys)
                for marked in (column, AVG):
                    cell = table.cells.get((row.key, marked))
                    if cell is not None:
                        table.cells[(row.key, marked)] = replace(cell, seen=True)
        table.notes += [seen_note(f, sorted(c), sorted(k)) for f, (c, k) in found.items()]
