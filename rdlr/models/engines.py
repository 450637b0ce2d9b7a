"""The two engines that turn raw feature vectors into class probabilities: PyTorch and onnxruntime.

Both compute the same function: z-normalisation with the training statistics, the classifier F of Section 3.2 in
eval mode, softmax. ``torch`` runs the weights of ``model.safetensors``; ``onnx`` runs ``model.onnx`` (written by
``rdlr onnx``, :mod:`rdlr.models.onnx_export`) through onnxruntime, which needs neither torch's autograd nor
rdlr's model code at prediction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rdlr.model import EmotionClassifier
from rdlr.models.errors import ModelFolderError

ENGINES = ("torch", "onnx")
FEATURE_BATCH = 4096


class TorchScorer:
    """Probabilities from F's PyTorch weights on ``device``, ``FEATURE_BATCH`` rows at a time."""

    def __init__(self, classifier: EmotionClassifier, mean: np.ndarray, std: np.ndarray, device: str) -> None:
        self.classifier = classifier.eval().to(device)
        self.device = device
        self._mean = torch.as_tensor(mean, device=device)
        self._std = torch.as_tensor(std, device=device)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> np.ndarray:
        chunks = []
        for start in range(0, len(x), FEATURE_BATCH):
            batch = (x[start : start + FEATURE_BATCH].to(self.device) - self._mean) / self._std
            chunks.append(torch.softmax(self.classifier(batch).logits, dim=1).cpu())
        return torch.cat(chunks).numpy()


class OnnxScorer:
    """Probabilities from ``model.onnx`` through an onnxruntime session (CPU, or CUDA where onnxruntime has it).

    Pickles as the graph's bytes (a Ray Serve replica builds its own session)."""

    def __init__(self, graph: bytes, path: Path, device: str, threads: int | None = None) -> None:
        self.graph = graph
        self.path = path
        self.device = device
        self.threads = threads
        self._session: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_session": None}

    def limit_threads(self, threads: int) -> None:
        """Run on at most ``threads`` threads from now on (a new session is made at the next call)."""
        self.threads = threads
        self._session = None

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = onnx_session(self.graph, self.path, self.device, self.threads)
        return self._session

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        rows = x.numpy()
        chunks = [
            self.session.run(None, {"features": rows[start : start + FEATURE_BATCH]})[0]
            for start in range(0, len(rows), FEATURE_BATCH)
        ]
        return np.concatenate(chunks).astype(np.float32, copy=False)


def onnx_session(graph: bytes, path: Path, device: str, threads: int | None) -> Any:
    """An onnxruntime session of ``graph`` (the bytes of ``path``) on ``device``."""
    try:
        import onnxruntime
    except ImportError:
        raise ModelFolderError("the onnx engine needs onnxruntime: pip install 'rdlr[onnx]'") from None
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            raise ModelFolderError(
                "onnxruntime here has no CUDA provider: pip install onnxruntime-gpu, or use "
                "--device cpu with --engine onnx"
            )
        providers.insert(0, "CUDAExecutionProvider")
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(graph, sess_options=options, providers=providers)
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph on malformed files
        raise ModelFolderError(
            f"{path}: onnxruntime cannot load it ({str(error).splitlines()[0]}); write it again "
            f"with rdlr onnx {path.parent}"
        ) from None
