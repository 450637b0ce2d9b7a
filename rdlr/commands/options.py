"""The options two or more ``rdlr`` commands share, each declared once here with one default and one help text.

A command module calls the ``add_*`` functions it needs from its ``configure_parser``; what an option's value means
is resolved by the helpers below it (:func:`model_paths`, :func:`local_device`), so every command reads it alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rdlr.labels import LabelMap, LabelSet

AUTO = "auto"
DEVICES = ("cpu", "cuda")
DEFAULT_STORAGE = "rdlr_runs"
DEFAULT_FEATURE_STORE = f"{DEFAULT_STORAGE}/features"  # --storage's default + the packaged specs' data.store
MODEL_OPTIONS = {"w2v": "w2v_checkpoint", "whisper": "whisper_checkpoint", "bert": "bert_dir"}  # key: attribute


def add_spec(parser: argparse.ArgumentParser, **kwargs: object) -> None:
    """The positional sweep spec: a YAML file or a packaged name."""
    from rdlr.spec.files import packaged_specs

    parser.add_argument(
        "spec", help=f"sweep spec: a YAML file or a packaged name ({', '.join(packaged_specs())})", **kwargs
    )  # type: ignore[arg-type]


def add_address(parser: argparse.ArgumentParser) -> None:
    """``--address``: the Ray cluster to join."""
    parser.add_argument(
        "--address",
        metavar="ADDR",
        default=None,
        help="Ray cluster to join: auto (the one running on this machine, as on a `ray up` head), "
        "HOST:6379 or ray://HOST:10001 (default: the cluster named by RAY_ADDRESS, else a private "
        "local Ray started for this command; a Ray running on this machine is not joined unless "
        "named)",
    )


def add_autoscaler_config(parser: argparse.ArgumentParser) -> None:
    """``--autoscaler-config``: the node types bounding the cluster's size."""
    parser.add_argument(
        "--autoscaler-config",
        metavar="YAML",
        default=None,
        help="autoscaler config whose node types bound the cluster: trials and extraction actors "
        "are sized for the nodes it may launch (default with --address: ~/ray_bootstrap_config.yaml, "
        "written by `ray up` on the head; without one the cluster is fixed)",
    )


def add_device(parser: argparse.ArgumentParser, what: str) -> None:
    """``--device``: ``auto`` (the default), ``cpu`` or ``cuda``; ``what`` says what runs there."""
    parser.add_argument(
        "--device",
        choices=(AUTO, *DEVICES),
        default=AUTO,
        help=f"where {what} run; auto (default): cuda where there is a GPU (for extraction: where "
        "the cluster has or can start a GPU node), else cpu. is10 (openSMILE) always runs on CPU",
    )


def local_device(requested: str) -> str:
    """The device of work done in this process: ``requested``, or for ``auto`` cuda when torch sees a GPU."""
    if requested != AUTO:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


ENGINES = ("torch", "onnx")  # rdlr.models.engines.ENGINES (named here without importing torch for --help)


def add_engine(parser: argparse.ArgumentParser) -> None:
    """``--engine``: what computes the classifier's probabilities (``rdlr predict``, ``rdlr serve``)."""
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="torch",
        help="what runs the classifier: torch (model.safetensors; default) or onnx (model.onnx through onnxruntime: "
        "write it first with rdlr onnx MODEL_DIR; needs pip install 'rdlr[onnx]'). rdlr computes the features either "
        "way",
    )


def add_model_paths(parser: argparse.ArgumentParser) -> None:
    """``--w2v-checkpoint``, ``--whisper-checkpoint``, ``--bert-dir``: local model files of the extractors."""
    parser.add_argument("--w2v-checkpoint", metavar="PATH", help="wav2vec checkpoint (needed for w2v)")
    parser.add_argument(
        "--whisper-checkpoint",
        metavar="PATH",
        help="Whisper checkpoint for transcripts (bert; default: the manifest's transcripts)",
    )
    parser.add_argument("--bert-dir", metavar="DIR", help="BERT model folder (needed for bert)")


def model_paths(args: argparse.Namespace) -> dict[str, str]:
    """``{model key: path}`` of the model options given on the command line."""
    return {key: getattr(args, attribute) for key, attribute in MODEL_OPTIONS.items() if getattr(args, attribute)}


def add_extraction(parser: argparse.ArgumentParser) -> None:
    """``--workers``: feature-extraction actors per feature set."""
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="extraction actors per feature set (default: one per CPU of the CPU nodes the cluster "
        "may run, see --autoscaler-config, else the cluster's CPUs minus one; on cuda one per GPU)",
    )


def add_manifests(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--manifest CSV`` (repeatable, required)."""
    parser.add_argument("--manifest", action="append", required=True, metavar="CSV", help=help_text)


def add_features(parser: argparse.ArgumentParser) -> None:
    """``--features NAMES``: feature sets, comma- or plus-separated."""
    from rdlr.features.registry import valid_names

    parser.add_argument(
        "--features",
        required=True,
        metavar="NAMES",
        help=f"feature sets, comma- or plus-separated; valid: {', '.join(valid_names())}",
    )


def add_model_out(parser: argparse.ArgumentParser, help_text: str = "model folder to write") -> None:
    """``--out MODEL_DIR`` (required) and ``--overwrite``."""
    parser.add_argument("--out", required=True, type=Path, metavar="MODEL_DIR", help=help_text)
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in --out")


def add_mlflow(parser: argparse.ArgumentParser, what: str) -> None:
    """``--mlflow URI``: also log to MLflow; ``what`` says what is logged."""
    parser.add_argument(
        "--mlflow",
        metavar="URI",
        help=f"also log {what} to MLflow at this tracking URI (e.g. file:./mlruns, "
        "http://HOST:5000); needs pip install 'rdlr[tracking]'",
    )


def add_progress(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: Ray's own console output."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show Ray's own log lines, warnings and workers' output (default: rdlr's lines and "
        "errors only; Ray's logs stay in its session folder, /tmp/ray/session_*/logs)",
    )


def add_all_rows(parser: argparse.ArgumentParser) -> None:
    """``--all-rows``: the paper's full table layout."""
    parser.add_argument(
        "--all-rows",
        action="store_true",
        help="report the paper's full table layout: rows without results shown as missing (default: left out)",
    )


def add_selection(parser: argparse.ArgumentParser, default: str | None, default_text: str) -> None:
    """``--selection``: how a configuration is selected (``validation`` or the paper's ``paper``)."""
    from rdlr.report.selection import SELECTIONS

    parser.add_argument(
        "--selection",
        choices=list(SELECTIONS),
        default=default,
        help="hyperparameter selection: validation, the best mean validation UA over seeds, or "
        f"paper, the paper's protocol, the best mean test UA; default: {default_text}",
    )


def add_storage(parser: argparse.ArgumentParser) -> None:
    """``--storage``: where sweeps keep their results (``rdlr sweep``, ``reproduce``, ``plan``)."""
    parser.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help=f"results, Tune state, stage-1 cache and (by default) features: a folder or s3:// URI "
        f"(default: ./{DEFAULT_STORAGE}; multi-node clusters need s3:// or a shared NFS path)",
    )


def add_normalization(parser: argparse.ArgumentParser, default: str | None, help_text: str) -> None:
    """``--normalization``: how inputs are z-normalised (:mod:`rdlr.normalization`: train, corpus, speaker)."""
    from rdlr.normalization import NORMALIZATIONS

    parser.add_argument(
        "--normalization",
        choices=list(NORMALIZATIONS),
        default=default,
        help=f"input z-normalisation: train, the training rows' statistics (the paper's); corpus, each corpus with "
        f"its own statistics; speaker, each speaker with their own (transductive; docs: normalization.md); "
        f"{help_text}",
    )


def add_run_location(parser: argparse.ArgumentParser) -> None:
    """Where a sweep reads and writes: ``--data-root``, ``--storage``, ``--address``, ``--autoscaler-config``,
    ``--no-adapt``, ``--verbose``, ``--mlflow`` (``rdlr sweep`` and ``rdlr reproduce``)."""
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder the spec's corpus roots, manifests and model paths are relative to",
    )
    add_storage(parser)
    add_address(parser)
    add_autoscaler_config(parser)
    parser.add_argument(
        "--no-adapt",
        action="store_true",
        help="request the spec's trial resources as written, even where no node (type) can hold "
        "them; by default they are adapted to the node types an autoscaler may launch, or on a "
        "fixed cluster to the nodes present now",
    )
    add_verbose(parser)
    add_mlflow(
        parser,
        "every trial as a run (experiment: the spec id; overrides the spec's tracking.mlflow; "
        "TensorBoard events are always written, under <storage>/<spec id>/tune)",
    )


def add_labels(parser: argparse.ArgumentParser, default_text: str, map_text: str) -> None:
    """``--labels`` (a named set or the classes in output order) and ``--label-map`` (repeatable) of
    ``rdlr train`` and ``rdlr predict``; ``default_text`` says what the command uses without ``--labels``,
    ``map_text`` what the map is laid over. Read them with :func:`label_options` or :func:`class_set`."""
    from rdlr.labels import NAMED_SETS

    parser.add_argument(
        "--labels",
        metavar="A,B,C",
        help="the classes in output order, comma-separated (e.g. neutral,happy,sad,angry,fear), or a named set: "
        f"{', '.join(NAMED_SETS)} (paper4: IEMOCAP excited -> happy); {default_text}",
    )
    parser.add_argument(
        "--label-map",
        action="append",
        default=[],
        metavar="CORPUS:EMOTION=CLASS",
        help="map a corpus' emotion onto a class (repeat; CORPUS '*' for every corpus; CLASS null leaves it out), "
        f"e.g. 'RAVDESS:calm=neutral'; an emotion that is a class needs none; {map_text}",
    )


def label_options(args: argparse.Namespace) -> tuple[str | list[str] | None, LabelMap]:
    """``--labels`` (``None``, a named set, or the list of classes) and ``--label-map`` (a label map) as given;
    :class:`rdlr.labels.LabelSetError` naming the option for a malformed map."""
    from rdlr.labels import LabelSetError, parse_label_map_options

    names: str | list[str] | None = args.labels
    if args.labels is not None and "," in args.labels:
        names = [name.strip() for name in args.labels.split(",")]
    try:
        return names, parse_label_map_options(args.label_map)
    except LabelSetError as error:
        raise option_error(error) from None


def class_set(args: argparse.Namespace) -> LabelSet:
    """The class set of ``--labels`` and ``--label-map`` (default paper4); :class:`rdlr.labels.LabelSetError`
    naming the option."""
    from rdlr.labels import LabelSetError, label_set

    try:
        return label_set(*label_options(args))
    except LabelSetError as error:
        raise option_error(error) from None


def option_error(error: Exception) -> Exception:
    """A class-set error whose message names the spec key (``labels:``, ``label_map:``), renamed to the option
    (``--labels:``, ``--label-map:``); other errors unchanged."""
    text = str(error)
    for key, option in (("labels:", "--labels:"), ("label_map:", "--label-map:")):
        if text.startswith(key):
            return type(error)(option + text[len(key) :])
    return error
