"""The classifier's throughput in PyTorch against onnxruntime: rows per second of z-normalisation + F + softmax on
IS10-wide inputs (1582), one thread each, at several batch sizes, and their ratio.

A model folder with random weights is written to a temporary folder and exported with ``rdlr onnx``'s code;
features are not extracted (that cost is the same for both engines; see bench_serve.py for whole requests).

    python benchmarks/bench_onnx.py            # ~30 s
    python benchmarks/bench_onnx.py --smoke    # one short round, to check the script runs
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from support.is10_model import is10_model_folder  # benchmarks/ is on the path: the scripts run from there

from rdlr.features.is10 import IS10_DIM
from rdlr.labels import CLASSES
from rdlr.models import load_model
from rdlr.models.onnx_export import export_onnx

BATCHES = (1, 32, 1024)


def model_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    return is10_model_folder(root, rng.normal(size=IS10_DIM), rng.uniform(0.5, 2, size=IS10_DIM))


def rows_per_second(score, x: np.ndarray, seconds: float) -> float:
    score(x)  # warm-up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        score(x)
        done += len(x)
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per engine and batch size (default 3)")
    parser.add_argument("--smoke", action="store_true", help="0.2 s per measurement")
    args = parser.parse_args()
    seconds = 0.2 if args.smoke else args.seconds
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        folder = model_folder(Path(root))
        outcome = export_onnx(folder)
        engines = {"torch": load_model(folder), "onnx": load_model(folder, engine="onnx")}
        engines["onnx"].scorer.limit_threads(1)
        print(
            f"classifier throughput, IS10 input ({IS10_DIM}), {len(CLASSES)} classes, 1 thread; "
            f"onnx vs torch max |diff| {outcome.max_abs_diff:.2g}"
        )
        print(f"{'batch':>6} {'torch rows/s':>14} {'onnxruntime rows/s':>19} {'onnx/torch':>11}")
        rng = np.random.default_rng(1)
        for batch in BATCHES:
            x = rng.normal(size=(batch, IS10_DIM)).astype(np.float32)
            speeds = {name: rows_per_second(model.probabilities, x, seconds) for name, model in engines.items()}
            print(
                f"{batch:>6} {speeds['torch']:>14,.0f} {speeds['onnx']:>19,.0f} "
                f"{speeds['onnx'] / speeds['torch']:>10.2f}x"
            )


if __name__ == "__main__":
    main()
