"""``rdlr onnx MODEL_DIR``: write ``MODEL_DIR/model.onnx`` (z-normalisation + classifier in one graph) and print
how far onnxruntime's probabilities are from PyTorch's (:mod:`rdlr.models.onnx_export`).

::

    rdlr onnx model/
    rdlr predict --engine onnx model/ clip.wav
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rdlr.commands.errors import fail


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr onnx``."""
    parser.add_argument(
        "model",
        type=Path,
        metavar="MODEL_DIR",
        help="model folder (rdlr train / rdlr export); model.onnx is written into it and its card "
        "(model.json, README.md) gains an ONNX section",
    )


def run(args: argparse.Namespace) -> int:
    """Export, check against PyTorch, report."""
    from rdlr.models.folder import ModelFolderError
    from rdlr.models.onnx_export import TOLERANCE, export_onnx

    try:
        outcome = export_onnx(args.model)
    except ImportError as error:
        return fail("onnx", f"{error}; rdlr onnx needs onnx and onnxruntime: pip install 'rdlr[onnx]'")
    except (ModelFolderError, ValueError, OSError) as error:
        return fail("onnx", error)
    print(
        f"onnxruntime vs PyTorch on {outcome.rows_checked} rows: largest absolute difference "
        f"{outcome.max_abs_diff:.3g} (limit {TOLERANCE:g})"
    )
    print(f"wrote {outcome.path} ({outcome.path.stat().st_size / 2**20:.1f} MB, {outcome.wall_time_s:.1f}s)")
    return 0
