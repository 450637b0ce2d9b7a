"""The human-readable model card: ``README.md`` beside ``model.json``, in the Hugging Face model-card format.

YAML front matter (``library_name``, ``tags``, the emotion classes, the datasets, the metrics) followed by the
method and its hyperparameters, the training corpora and split, the validation/test metrics, how to load and
predict, and the limits of what the model saw. Everything comes from the ``model.json`` document, so the card
never says more than the model folder records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from rdlr.io.safe_text import parse_yaml
from rdlr.normalization import DEFAULT_NORMALIZATION, MIN_FILES, TITLES

README_FILE = "README.md"
LIBRARY_NAME = "rdlr"
PAPER = (
    "Ahn et al., Speech Emotion Recognition Incorporating Relative Difficulty and Labeling Reliability, Sensors 2024"
)


def _corpora(doc: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    corpora = doc.get("training", {}).get("corpora", {})
    return corpora if isinstance(corpora, dict) else {}


def _scalar_metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """The numeric top-level metrics (``val_ua``, ``test_ua``, ...); nested stage-1 metrics stay in model.json."""
    metrics = doc.get("metrics", {})
    return {
        key: value for key, value in metrics.items() if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def front_matter(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The model card's metadata block, keyed as the Hugging Face model-card spec names them."""
    method = doc.get("method", {})
    features = [spec.get("name") for spec in doc.get("features", [])]
    metrics = _scalar_metrics(doc)
    return {
        "library_name": LIBRARY_NAME,
        "pipeline_tag": "audio-classification",
        "tags": [
            "speech-emotion-recognition",
            "cross-corpus",
            LIBRARY_NAME,
            *(f"features-{name}" for name in features),
            *([f"method-{method['id']}"] if method.get("id") else []),
        ],
        "datasets": sorted(_corpora(doc)),
        "metrics": sorted(metrics),
        "emotion_classes": list(doc.get("classes", [])),
        "model-index": [
            {
                "name": f"rdlr-{method.get('id', 'model')}",
                "results": [
                    {
                        "task": {"type": "audio-classification", "name": "Speech emotion recognition"},
                        "metrics": [{"type": key, "value": value} for key, value in metrics.items()],
                    }
                ],
            }
        ],
    }


def _rows(mapping: Mapping[str, Any]) -> list[str]:
    return [f"| `{key}` | {value} |" for key, value in mapping.items()]


def _normalization_text(doc: Mapping[str, Any]) -> str:
    """How the model's inputs are z-normalised, in words (:mod:`rdlr.normalization`)."""
    strategy = (doc.get("normalization") or {}).get("strategy", DEFAULT_NORMALIZATION)
    if strategy == DEFAULT_NORMALIZATION:
        return "z-normalised with the training rows' statistics"
    where = "all the files predicted together" if strategy == "corpus" else "each speaker's files"
    return (
        f"z-normalised {TITLES.get(strategy, strategy)}: at prediction the statistics of {where} (at least "
        f"{MIN_FILES} files; `--normalization train` uses the training rows' statistics kept in the folder)"
    )


def _label_map_text(doc: Mapping[str, Any]) -> str:
    """``IEM: excited → happy; *: calm → neutral`` (``none`` when every emotion is its own class)."""
    parts = [
        f"{corpus}: "
        + ", ".join(
            f"{emotion} → {target if target is not None else 'left out'}" for emotion, target in mapping.items()
        )
        for corpus, mapping in doc.get("label_map", {}).items()
        if mapping
    ]
    return "; ".join(parts) or "none (each emotion that is a class name is that class)"


def model_card(doc: Mapping[str, Any], folder_name: str = "MODEL_FOLDER") -> str:
    """The text of ``README.md`` for the model whose ``model.json`` document is ``doc``."""
    method = doc.get("method", {})
    corpora = _corpora(doc)
    features = ", ".join(f"`{spec.get('name')}` ({spec.get('dim')} dims)" for spec in doc.get("features", []))
    training = {key: value for key, value in doc.get("training", {}).items() if key != "corpora"}
    roles = sorted({role for counts in corpora.values() for role in counts})
    split = [f"| corpus | {' | '.join(roles)} |", f"|---|{'---|' * len(roles)}"]
    split += [
        f"| {corpus} | {' | '.join(str(counts.get(role, 0)) for role in roles)} |" for corpus, counts in corpora.items()
    ]
    metrics = _scalar_metrics(doc)
    lines = [
        "---",
        yaml.safe_dump(front_matter(doc), sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# rdlr speech emotion model: {method.get('label', method.get('id', '?'))}",
        "",
        f"A classifier of {len(doc.get('classes', []))} emotion classes "
        f"({', '.join(doc.get('classes', []))}) trained with [rdlr](https://pypi.org/project/rdlr/), "
        f"which reproduces {PAPER}.",
        "",
        "## Method",
        "",
        f"Method `{method.get('id')}` (components: {', '.join(method.get('components', []))}); input features "
        f"{features}, {_normalization_text(doc)}; seed {doc.get('seed')}.",
        "",
        f"Classes (output order): {', '.join(doc.get('classes', []))}; label map: {_label_map_text(doc)}.",
        "",
        "| hyperparameter | value |",
        "|---|---|",
        *_rows(doc.get("hparams", {})),
        "",
        "## Training data and split",
        "",
        *(split if corpora else ["The model folder records no per-corpus counts."]),
        "",
        *(["| training | value |", "|---|---|", *_rows(training), ""] if training else []),
        "## Metrics",
        "",
        *(["| metric | value |", "|---|---|", *_rows(metrics)] if metrics else ["No metrics recorded."]),
        "",
        "## Use",
        "",
        "```python",
        "import rdlr",
        "",
        f'model = rdlr.load_model("{folder_name}")  # this folder, e.g. from huggingface_hub.snapshot_download',
        'predictions = model.predict(["speech.wav"])  # one row a file: the class and its probabilities',
        "```",
        "",
        f"or `rdlr predict {folder_name} speech.wav`.",
        "",
        *onnx_section(doc, folder_name),
        "## Limitations",
        "",
        f"The model saw only the corpora above ({', '.join(corpora) or 'not recorded'}) and their languages and "
        "recording conditions; expect lower accuracy on other languages, speakers, microphones or emotion "
        "definitions, and check it on held-out data of your own before relying on it.",
        "",
    ]
    return "\n".join(lines)


def onnx_section(doc: Mapping[str, Any], folder_name: str) -> list[str]:
    """The card's ONNX section when ``rdlr onnx`` wrote ``model.onnx`` (its ``onnx`` entry in ``model.json``)."""
    onnx = doc.get("onnx")
    if not isinstance(onnx, dict):
        return []
    configs = {spec.get("name"): spec for spec in doc.get("features", [])}
    rows = [
        f"| `{part['name']}` | {part['start']}–{part['stop'] - 1} | `{configs.get(part['name'], {}).get('extractor')}` "
        f"| `{configs.get(part['name'], {}).get('config_hash')}` |"
        for part in onnx.get("input_order", [])
    ]
    return [
        "## ONNX",
        "",
        f"`{onnx['file']}` (opset {onnx['opset']}) holds the z-normalisation and the classifier: input "
        f"`{onnx['input']}`, float32, batch × {doc.get('input_dim')}, the raw features in this order (computed as rdlr "
        f"computes them; the configs are in `model.json` and in the file's `rdlr.features` metadata); output "
        f"`{onnx['output']}`, batch × {len(onnx.get('classes', []))}, over {', '.join(onnx.get('classes', []))}.",
        "",
        "| feature set | columns | extractor | config hash |",
        "|---|---|---|---|",
        *rows,
        "",
        f"onnxruntime {onnx.get('onnxruntime')} and PyTorch differ by at most {onnx.get('max_abs_diff_vs_torch'):.2g} "
        f"on {onnx.get('rows_checked')} check rows. `rdlr predict --engine onnx {folder_name} speech.wav` computes the "
        "features and runs this file.",
        "",
    ]


def parse_front_matter(text: str, where: str = "model card") -> dict[str, Any]:
    """The YAML front matter of a model card's text (between the leading ``---`` lines), read within the bounds of
    :mod:`rdlr.io.safe_text`; ``where`` names the card in errors."""
    head, sep, _ = text.removeprefix("---\n").partition("\n---\n")
    if not text.startswith("---\n") or not sep:
        raise ValueError(f"{where}: no YAML front matter (a block between two '---' lines at the top)")
    return parse_yaml(head, where)
