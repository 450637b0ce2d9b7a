"""``rdlr onnx MODEL_DIR``: write ``MODEL_DIR/model.onnx`` and check it against the PyTorch model.

The graph (:mod:`rdlr.models.onnx_graph`) is built from the folder's checked weights and statistics, run through
onnxruntime and through PyTorch on the same inputs (rows drawn around the training statistics: ``mean + k · std ·
N(0, 1)`` for k ∈ {0.5, 1, 3}, the scale of raw features), and written only when the largest absolute difference
of the probabilities is at most :data:`TOLERANCE`. Then ``model.json`` gains an ``onnx`` section (file, SHA-256,
opset, input and output names, input order, the difference measured, onnxruntime's version) and ``README.md``, the
model card, an ONNX section; ``model.json`` is written last, as everywhere in a model folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rdlr.io.safe_text import read_json
from rdlr.models.card import README_FILE, model_card
from rdlr.models.engines import OnnxScorer
from rdlr.models.errors import ModelFolderError
from rdlr.models.folder import CARD_FILE, ONNX_FILE, write_atomically
from rdlr.models.onnx_graph import INPUT, OPSET, OUTPUT, build_graph, graph_metadata, input_order
from rdlr.models.predictor import load_model

TOLERANCE = 1e-5
CHECK_ROWS = 96  # per scale
CHECK_SCALES = (0.5, 1.0, 3.0)
CHECK_SEED = 0


@dataclass(frozen=True)
class OnnxExport:
    """The written file, the largest |onnxruntime − PyTorch| difference of the probabilities, the time taken."""

    path: Path
    max_abs_diff: float
    rows_checked: int
    wall_time_s: float


def check_rows(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Inputs of the parity check: rows around the training statistics at several scales (see the docstring)."""
    rng = np.random.default_rng(CHECK_SEED)
    rows = [mean + scale * std * rng.standard_normal((CHECK_ROWS, len(mean))) for scale in CHECK_SCALES]
    return np.concatenate([mean[None, :], *rows]).astype(np.float32)


def export_onnx(model_dir: str | os.PathLike[str]) -> OnnxExport:
    """Write ``model.onnx`` into the model folder ``model_dir`` (see the module docstring)."""
    started = time.perf_counter()
    model = load_model(model_dir)
    folder = model.folder
    document = read_json(folder / CARD_FILE)
    graph = build_graph(
        model.scorer.classifier,
        model.card.feature_mean,
        model.card.feature_std,
        model.classes,
        graph_metadata(document),
    ).SerializeToString()
    rows = check_rows(model.card.feature_mean, model.card.feature_std)
    reference = model.probabilities(rows)
    exported = OnnxScorer(graph, folder / ONNX_FILE, "cpu")(torch.from_numpy(rows))
    difference = float(np.abs(exported - reference).max())
    if not difference <= TOLERANCE:
        raise ModelFolderError(
            f"{folder}: onnxruntime and PyTorch differ by up to {difference:.3g} (> {TOLERANCE:g}) "
            "on the check inputs; model.onnx was not written"
        )
    write_atomically(folder / ONNX_FILE, lambda tmp: Path(tmp).write_bytes(graph))
    document["onnx"] = onnx_section(graph, document, difference, len(rows))
    readme = model_card(document, folder.name)
    write_atomically(folder / README_FILE, lambda tmp: Path(tmp).write_text(readme, encoding="utf-8"))
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    write_atomically(folder / CARD_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return OnnxExport(folder / ONNX_FILE, difference, len(rows), time.perf_counter() - started)


def onnx_section(graph: bytes, document: dict, difference: float, rows: int) -> dict:
    """The ``onnx`` entry of ``model.json``."""
    import onnxruntime

    return {
        "file": ONNX_FILE,
        "sha256": hashlib.sha256(graph).hexdigest(),
        "opset": OPSET,
        "input": INPUT,
        "output": OUTPUT,
        "input_order": input_order(document["features"]),
        "classes": list(document["classes"]),
        "max_abs_diff_vs_torch": difference,
        "rows_checked": rows,
        "onnxruntime": onnxruntime.__version__,
    }
