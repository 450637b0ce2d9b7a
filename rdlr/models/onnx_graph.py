"""The ONNX form of a model: z-normalisation and the classifier F of Section 3.2 in one graph.

Input ``features`` (batch × input_dim, float32): the raw feature vector, the model's feature sets concatenated in
its order (:func:`input_order`); the graph computes ``(x - mean) / std`` with the training statistics and F's
logits, and outputs ``probabilities`` (batch × classes), their softmax, over the model's classes in order. The
batch dimension is dynamic. The feature sets with their extractor configs, the classes and the label map, the input
order and the SHA-256 of the weights the graph was written from go into the model's metadata (``rdlr.*`` keys, JSON
values).

The graph is written node by node with ``onnx.helper``: Sub, Div, then F's layers (Gemm, Relu) × 4, Gemm, and
Softmax, the nodes PyTorch's exporters produce for F in eval mode (dropout is the identity there). torch 2.13's
``torch.onnx.export`` needs onnxscript for its default exporter and warns that its TorchScript exporter will be
removed; writing the nine nodes needs neither, and every export is checked against PyTorch
(:mod:`rdlr.models.onnx_export`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from rdlr.model import EmotionClassifier
from rdlr.models.errors import ModelFolderError
from rdlr.models.folder import ONNX_FILE, WEIGHTS_FILE

OPSET = 17
IR_VERSION = 8  # the IR version of opset 17 (ONNX 1.12): readable by onnxruntime >= 1.12
INPUT = "features"
OUTPUT = "probabilities"
FORMAT = "rdlr-onnx"
FORMAT_VERSION = 1
PREFIX = "rdlr."


def input_order(features: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Where each feature set sits in the input vector: ``[{"name", "start", "stop"}, ...]`` (stop exclusive)."""
    order, start = [], 0
    for spec in features:
        order.append({"name": spec["name"], "start": start, "stop": start + int(spec["dim"])})
        start += int(spec["dim"])
    return order


def graph_metadata(document: Mapping[str, Any]) -> dict[str, str]:
    """The ``rdlr.*`` metadata of the graph of the model whose ``model.json`` document is ``document``."""
    values = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": list(document["classes"]),
        "features": list(document["features"]),
        "input_order": input_order(document["features"]),
        "input": f"{INPUT}: raw features (batch x {document['input_dim']}, float32) in input_order; the graph "
        "z-normalises them with the training statistics",
        "output": f"{OUTPUT}: softmax over classes (batch x {len(document['classes'])})",
        "weights_sha256": document["weights"]["sha256"],
        "label_map": document.get("label_map", {}),
        "method": document.get("method", {}),
    }
    return {PREFIX + key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def classifier_layers(classifier: EmotionClassifier) -> list[nn.Linear]:
    """F's linear layers in order, after checking that F is Linear, then (ReLU, Dropout, Linear) repeated: the
    structure the graph's nodes reproduce."""
    modules = [m for m in classifier.modules() if not isinstance(m, (nn.Sequential, EmotionClassifier))]
    kinds = [type(m) for m in modules]
    expected = [nn.Linear] + [nn.ReLU, nn.Dropout, nn.Linear] * ((len(kinds) - 1) // 3)
    if kinds != expected:
        names = ", ".join(kind.__name__ for kind in kinds)
        raise ModelFolderError(
            f"the ONNX writer knows F as Linear, (ReLU, Dropout, Linear) x N; this classifier has {names}"
        )
    return [m for m in modules if isinstance(m, nn.Linear)]


def build_graph(
    classifier: EmotionClassifier,
    mean: np.ndarray,
    std: np.ndarray,
    classes: Sequence[str],
    metadata: Mapping[str, str],
) -> Any:
    """The checked ``onnx.ModelProto`` of ``(x - mean) / std`` → F → softmax (see the module docstring)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rdlr import __version__

    tensors = [
        numpy_helper.from_array(np.asarray(mean, np.float32), "mean"),
        numpy_helper.from_array(np.asarray(std, np.float32), "std"),
    ]
    nodes = [helper.make_node("Sub", [INPUT, "mean"], ["centred"]), helper.make_node("Div", ["centred", "std"], ["z"])]
    layers = classifier_layers(classifier)
    previous = "z"
    for index, layer in enumerate(layers):
        weight, bias = (p.detach().cpu().float().numpy() for p in (layer.weight, layer.bias))
        tensors += [
            numpy_helper.from_array(weight, f"fc{index}.weight"),
            numpy_helper.from_array(bias, f"fc{index}.bias"),
        ]
        nodes.append(
            helper.make_node("Gemm", [previous, f"fc{index}.weight", f"fc{index}.bias"], [f"fc{index}"], transB=1)
        )
        previous = f"fc{index}"
        if index < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [previous], [f"relu{index}"]))
            previous = f"relu{index}"
    nodes.append(helper.make_node("Softmax", [previous], [OUTPUT], axis=1))
    graph = helper.make_graph(
        nodes,
        "rdlr_emotion_classifier",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", len(mean)])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", len(classes)])],
        tensors,
        doc_string="rdlr: z-normalisation + emotion classifier F (Ahn et al., Sensors 2024, Section 3.2)",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rdlr",
        producer_version=__version__,
        ir_version=IR_VERSION,
    )
    helper.set_model_props(model, dict(metadata))
    onnx.checker.check_model(model, full_check=True)
    return model


def read_onnx(folder: Path, document: Mapping[str, Any]) -> bytes:
    """The bytes of ``folder``'s ``model.onnx`` (``document`` is its ``model.json``), after checking they are the
    file rdlr onnx recorded there."""
    path = folder / ONNX_FILE
    if not path.is_file():
        raise ModelFolderError(f"{path} does not exist: write it with rdlr onnx {folder}")
    data = path.read_bytes()
    recorded = (document.get("onnx") or {}).get("sha256")
    if recorded is not None and hashlib.sha256(data).hexdigest() != recorded:
        raise ModelFolderError(
            f"{path}: the file differs from the one rdlr onnx wrote (SHA-256 in model.json); "
            f"write it again with rdlr onnx {folder}"
        )
    return data


def check_metadata(metadata: Mapping[str, str], document: Mapping[str, Any], path: Path) -> None:
    """Refuse a graph written from other weights, or for other classes, than the model folder's."""
    if metadata.get(PREFIX + "weights_sha256") != document["weights"]["sha256"]:
        raise ModelFolderError(
            f"{path} was written from other weights than {WEIGHTS_FILE} beside it (the model was "
            f"retrained or replaced): write it again with rdlr onnx {path.parent}"
        )
    if metadata.get(PREFIX + "classes") != json.dumps(list(document["classes"])):
        raise ModelFolderError(
            f"{path}: its classes differ from those of model.json; write it again with rdlr onnx {path.parent}"
        )
