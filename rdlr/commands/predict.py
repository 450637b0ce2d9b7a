"""``rdlr predict MODEL_DIR INPUT ...``: the emotion of audio files, folders or manifests with a model folder
(:mod:`rdlr.models.predictor`); a manifest with a ``label`` column is also scored (:mod:`rdlr.models.scoring`).

::

    rdlr predict model/ clip.wav recordings/ more.csv --out predictions.csv
    rdlr predict --engine onnx model/ clip.wav      # through model.onnx (rdlr onnx model/)
    rdlr predict model/ ravdess.csv --label-map RAVDESS:calm=neutral   # scored: UA, WA, macro-F1, recalls
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rdlr.commands.errors import fail
from rdlr.commands.options import (
    add_device,
    add_engine,
    add_labels,
    add_normalization,
    add_progress,
    label_options,
    local_device,
    option_error,
)
from rdlr.normalization import MIN_FILES, MIN_SPEAKER_UTTERANCES


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr predict``."""
    parser.add_argument("model", type=Path, metavar="MODEL_DIR", help="model folder (rdlr train / rdlr export)")
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="audio files, folders (searched recursively) or manifest CSVs; a manifest with a label column is also "
        "scored: its emotions are mapped onto the model's classes (with the model's label map), a true_label column "
        "is written beside the predictions, and one line per corpus and one over all give UA (over the classes "
        "present), WA, macro-F1, the recall of each class and the rows the class set left out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="CSV",
        help="predictions CSV to write (default: print it), probabilities to 6 decimals; "
        "checked writable before any audio is read. Cells starting with = + - @ tab or CR get a leading ' so "
        "spreadsheets do not evaluate them",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="files per extraction batch (default 16)")
    add_normalization(
        parser,
        None,
        "default: the model's (model.json normalization.strategy); corpus normalises the files predicted "
        f"together, speaker each speaker's files, with their own statistics (at least {MIN_FILES} files)",
    )
    parser.add_argument(
        "--speaker-from",
        metavar="REGEX",
        help="speaker of each file for --normalization speaker: the first group of this regular expression over "
        "the file name, e.g. '^(\\d\\d)' for EmoDB (default: a manifest's speaker column)",
    )
    add_labels(
        parser,
        "default: the model's classes (model.json). For a labeled manifest: the class set its emotions are mapped "
        "to, which must be the model's (same classes, same order), else predict stops before reading audio",
        "laid over the model's own label map (model.json) when --labels is not given",
    )
    add_device(parser, "extractors and the model")
    add_engine(parser)
    add_progress(parser)


def check_out(path: Path) -> None:
    """Raise ``OSError`` (one line naming ``path``) unless the predictions file can be written: its folder exists
    or can be created, can be written and has room."""
    from rdlr.io.storage import check_writable

    try:
        check_writable(path.expanduser().resolve().parent, what=f"--out {path}: folder")
    except OSError as error:
        raise OSError(f"{error}; choose another --out") from None


def normalization_line(used: dict[str, Any]) -> str:
    """What prediction normalised with, in words (``TrainedModel.predict``'s ``attrs["normalization"]``)."""
    strategy, files = used["strategy"], used["files"]
    if strategy == "train":
        return "the training statistics stored in the model"
    if strategy == "corpus":
        return f"the statistics of the {files} files predicted together"
    return (
        f"per speaker: {used['speakers']} speakers with statistics of their own; {used['fallback_speakers']} "
        f"speakers with fewer than {MIN_SPEAKER_UTTERANCES} files and files without a speaker "
        f"({used['fallback_files']} files) used the statistics of all {files} files"
    )


def run(args: argparse.Namespace) -> int:
    """Predict every input, write or print the table, summarise the labels on stderr."""
    from rdlr.corpora import ManifestError
    from rdlr.io.safe_csv import to_safe_csv, write_safe_csv
    from rdlr.models.folder import ModelFolderError
    from rdlr.models.predictor import load_model

    started = time.perf_counter()
    try:
        labels, label_map = label_options(args)
        if args.out is not None:
            check_out(args.out)
        model = load_model(args.model, device=local_device(args.device), engine=args.engine)
        frame = model.predict(
            args.inputs,
            batch_size=args.batch_size,
            progress=not args.no_progress,
            normalization=args.normalization,
            speaker_from=args.speaker_from,
            score=True,
            labels=labels,
            label_map=label_map,
        )
    except (ManifestError, ModelFolderError, ValueError, OSError) as error:
        return fail("predict", option_error(error))
    failed = frame["error"] != ""
    if args.out is None:
        to_safe_csv(frame, sys.stdout)
    else:
        write_safe_csv(frame, args.out)
    counts = frame.loc[~failed, "label"].value_counts()
    summary = ", ".join(f"{name} {int(counts.get(name, 0))}" for name in model.classes)
    print(
        f"predicted {int((~failed).sum())} of {len(frame)} inputs ({summary}); {int(failed.sum())} could not "
        f"be read{'' if args.out is None else f'; wrote {args.out}'} ({time.perf_counter() - started:.1f}s)",
        file=sys.stderr,
    )
    print(f"normalisation: {normalization_line(frame.attrs['normalization'])}", file=sys.stderr)
    for reason in frame.loc[failed, "error"].head(5):
        print(f"  {reason}", file=sys.stderr)
    if "scores" in frame.attrs:
        print(
            f"scores against the labels, mapped onto {', '.join(model.classes)} (UA: mean recall over the classes "
            "present):",
            file=sys.stderr,
        )
        for score in frame.attrs["scores"]:
            print(f"  {score.line()}", file=sys.stderr)
    return 0 if (~failed).any() else 1
