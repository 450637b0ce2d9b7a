"""Sweep specs the tests build: the smallest demo spec as parsed YAML, with whole keys replaced."""

from __future__ import annotations

from typing import Any


def demo_raw(spec_id: str, **changes: Any) -> dict[str, Any]:
    """A one-job demo spec as parsed YAML (method ce out of corpus with CRE-demo held out, is10 features, seed 0);
    ``changes`` replace or add top-level keys (``seeds=[0, 1]``, ``search={...}``)."""
    return {
        "id": spec_id,
        "data": {"source": "demo"},
        "features": ["is10"],
        "held_out": ["CRE-demo"],
        "protocols": {"out_of_corpus": ["ce"]},
        "seeds": [0],
        **changes,
    }
