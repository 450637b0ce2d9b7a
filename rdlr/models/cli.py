"""``rdlr train``, ``rdlr predict`` and ``rdlr export``: argparse and calls only (the work is in this package).

::

    rdlr train --manifest emodb.csv --features is10 --method ce --hparam batch_size=32 --store feats/ --out model/
    rdlr predict model/ clip.wav recordings/ more.csv --out predictions.csv
    rdlr export rdlr_runs demo --method rdlr_cww_dagger --held-out CRE-demo --out model/
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rdlr.labels import LabelSet

DEVICES = ("cpu", "cuda")
DEFAULT_FEATURE_STORE = "rdlr_runs/features"  # rdlr sweep's default: --storage rdlr_runs, the spec's data.store


@dataclass(frozen=True)
class Command:
    """One subcommand, as :mod:`rdlr.cli` expects it: ``configure_parser(parser)`` and ``run(args) -> int``."""

    configure_parser: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def parse_hparams(items: list[str] | None) -> dict[str, Any]:
    """``["batch_size=32", "lambda_rd=0.01"]`` -> ``{"batch_size": 32, "lambda_rd": 0.01}`` (numbers only)."""
    hparams: dict[str, Any] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--hparam {item!r}: write NAME=VALUE, e.g. batch_size=32")
        try:
            value: Any = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"--hparam {item!r}: {text!r} is not a number") from None
        hparams[name.strip()] = value
    return hparams


def parse_labels(labels: str | None, label_map: list[str]) -> LabelSet:
    """``--labels`` (a named set or comma-separated classes) and ``--label-map`` options as a class set; the
    errors name the option (:class:`rdlr.labels.LabelSetError`)."""
    from rdlr.labels import LabelSetError, label_set, parse_label_map_options

    names: str | list[str] | None = labels
    if labels is not None and "," in labels:
        names = [name.strip() for name in labels.split(",")]
    try:
        return label_set(names, parse_label_map_options(label_map))
    except LabelSetError as error:
        text = str(error)
        for key, option in (("labels:", "--labels:"), ("label_map:", "--label-map:")):
            if text.startswith(key):
                text = option + text[len(key):]
        raise LabelSetError(text) from None


def _error(command: str, error: BaseException) -> int:
    print(f"rdlr {command}: error: {error}", file=sys.stderr)
    return 2


# ---- rdlr train ------------------------------------------------------------------------------------------------
def configure_train(parser: argparse.ArgumentParser) -> None:
    from rdlr.features.registry import valid_names
    from rdlr.methods import list_methods

    parser.add_argument("--manifest", action="append", required=True, metavar="CSV",
                        help="labeled manifest (repeat for several corpora); each corpus is split into train and "
                             "validation speakers")
    parser.add_argument("--unlabeled-manifest", action="append", default=[], metavar="CSV",
                        help="unlabeled speech for AE (12) / PEL (13), e.g. LibriSpeech (labels ignored)")
    parser.add_argument("--test-manifest", action="append", default=[], metavar="CSV",
                        help="held-out corpus: scored (test UA in the model card), never trained on")
    parser.add_argument("--features", required=True, metavar="NAMES",
                        help=f"feature sets, comma- or plus-separated; valid: {', '.join(valid_names())}")
    parser.add_argument("--method", required=True,
                        help=f"method id ({', '.join(list_methods())}) or a composition such as rd+lr+cww")
    parser.add_argument("--hparam", action="append", metavar="NAME=VALUE",
                        help="hyperparameter (repeat), e.g. batch_size=32 lambda_rd=0.01; others take defaults")
    parser.add_argument("--labels", metavar="A,B,C",
                        help="the classes in output order, comma-separated (e.g. neutral,happy,sad,angry,fear), or "
                             "a named set: paper4 (default; IEMOCAP excited -> happy), ekman, arousal, valence")
    parser.add_argument("--label-map", action="append", default=[], metavar="CORPUS:EMOTION=CLASS",
                        help="map a corpus' emotion onto a class (repeat; CORPUS '*' for every corpus; CLASS null "
                             "leaves it out), e.g. 'RAVDESS:calm=neutral'; an emotion that is a class needs none")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed (default 0)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation speaker draw")
    parser.add_argument("--max-epochs", type=int, default=None, help="epoch limit (default 100; early stopping)")
    parser.add_argument("--store", default=DEFAULT_FEATURE_STORE, metavar="DIR_OR_URI",
                        help=f"feature store, filled as needed (default: {DEFAULT_FEATURE_STORE}, the one rdlr sweep "
                             "and rdlr reproduce use by default, so features are extracted once)")
    parser.add_argument("--out", required=True, type=Path, metavar="MODEL_DIR",
                        help="model folder to write; TensorBoard events of every epoch go to MODEL_DIR/tensorboard "
                             "(stage1/ and stage2/ for LR and self-KD): tensorboard --logdir MODEL_DIR/tensorboard")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    parser.add_argument("--mlflow", metavar="URI",
                        help="also log the run to MLflow at this tracking URI (e.g. file:./mlruns, http://HOST:5000): "
                             "params, per-epoch and final metrics, the model card; needs pip install 'rdlr[tracking]'")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="where extraction models and training run")
    parser.add_argument("--workers", type=int, default=None, help="extraction actors (default: CPUs minus one)")
    parser.add_argument("--address", help="Ray cluster for extraction: auto (the one running on this machine), "
                             "HOST:6379 or ray://HOST:10001 (default: RAY_ADDRESS, else a private local Ray)")
    parser.add_argument("--w2v-checkpoint", metavar="PATH", help="wav2vec checkpoint (needed for w2v)")
    parser.add_argument("--whisper-checkpoint", metavar="PATH", help="Whisper checkpoint for bert transcripts")
    parser.add_argument("--bert-dir", metavar="DIR", help="BERT model folder (needed for bert)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for training (default 1: extra threads slow training down many times "
                             "on a busy machine; on an idle one 2 threads are ~1.5x faster)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true",
                        help="no per-epoch lines, progress bars or notes: only the result")
    parser.add_argument("--verbose", action="store_true", help="show Ray's own log lines during extraction")


def run_train(args: argparse.Namespace) -> int:
    from rdlr.corpora import ManifestError, SplitError
    from rdlr.features import FeatureStoreError
    from rdlr.labels import LabelSetError
    from rdlr.models.folder import ModelFolderError
    from rdlr.models.training import train_model

    try:
        labels = parse_labels(args.labels, args.label_map)
    except LabelSetError as error:
        return _error("train", error)

    models = {key: value for key, value in (("w2v", args.w2v_checkpoint), ("whisper", args.whisper_checkpoint),
                                            ("bert", args.bert_dir)) if value}
    training = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    try:
        outcome = train_model(args.manifest, args.features, args.method, args.out, args.store,
                              hparams=parse_hparams(args.hparam), seed=args.seed,
                              unlabeled_manifests=args.unlabeled_manifest, test_manifests=args.test_manifest,
                              models=models, training=training, split_seed=args.split_seed, device=args.device,
                              workers=args.workers, address=args.address,
                              progress=not (args.no_progress or args.quiet), epoch_lines=not args.quiet,
                              **({} if args.threads is None else {"threads": args.threads}),
                              verbose=args.verbose, overwrite=args.overwrite,
                              mlflow=args.mlflow, labels=labels, log=(lambda line: None) if args.quiet else print)
    except (ManifestError, SplitError, FeatureStoreError, ModelFolderError, ValueError) as error:
        return _error("train", error)
    metrics = outcome.card.metrics
    per_corpus = ", ".join(f"{key.split('/', 1)[1]} {100 * value:.1f}%" for key, value in metrics.items()
                           if key.startswith("val_ua/"))
    hparams = ", ".join(f"{name} {value}" for name, value in outcome.card.hparams.items())
    print(f"{outcome.card.method['id']} ({hparams}); classes {', '.join(outcome.card.classes)}; "
          f"seed {outcome.card.seed}")
    print(f"validation UA {100 * metrics['val_ua']:.1f}% ({per_corpus}); best epoch {metrics['best_epoch']} of "
          f"{metrics['epochs']}")
    if "test_ua" in metrics:
        print(f"test UA {100 * metrics['test_ua']:.1f}%")
    print(f"model: {outcome.folder} ({outcome.wall_time_s:.0f}s)")
    return 0


# ---- rdlr predict ----------------------------------------------------------------------------------------------
def configure_predict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL_DIR", help="model folder (rdlr train / rdlr export)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="audio files, folders (searched recursively) or manifest CSVs")
    parser.add_argument("--out", type=Path, default=None, metavar="CSV",
                        help="predictions CSV to write (default: print it), probabilities to 6 decimals; "
                             "checked writable before any audio is read. Cells starting with = + - @ tab or CR get a leading ' so spreadsheets do "
                             "not evaluate them")
    parser.add_argument("--batch-size", type=int, default=16, help="files per extraction batch (default 16)")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="where extractors and model run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Any) -> Any:
    """``cell`` with a leading ``'`` when it starts like a spreadsheet formula (the OWASP CSV-injection rule)."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def safe_frame(frame: Any) -> Any:
    """``frame`` with every text cell and column name passed through :func:`spreadsheet_safe`."""
    text = frame.select_dtypes(include="object").columns
    safe = frame.copy()
    safe[text] = safe[text].map(spreadsheet_safe)
    safe.columns = [spreadsheet_safe(name) for name in frame.columns]
    return safe


PROBABILITY_DECIMALS = 6


def to_safe_csv(frame: Any, target: Any) -> None:
    """Write ``frame`` to ``target`` spreadsheet-safe, every text cell quoted (pandas leaves a bare CR unquoted),
    numbers rounded to :data:`PROBABILITY_DECIMALS` decimals (and left unquoted)."""
    import csv

    safe_frame(frame).round(PROBABILITY_DECIMALS).to_csv(target, index=False, quoting=csv.QUOTE_NONNUMERIC)


def write_atomically_csv(frame: Any, path: Path) -> None:
    """:func:`to_safe_csv` into ``path``, atomically."""
    from rdlr.models.folder import write_atomically

    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: to_safe_csv(frame, tmp))


def check_writable(path: Path) -> None:
    """Raise ``OSError`` naming ``path`` unless a file can be created in its folder (created when missing)."""
    import tempfile

    folder = path.expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rdlr-write-check-"):
            pass
    except OSError as error:
        raise OSError(f"{path}: cannot write the predictions there ({error.strerror or error}); "
                      "choose another --out") from None


def run_predict(args: argparse.Namespace) -> int:
    from rdlr.corpora import ManifestError
    from rdlr.models.folder import ModelFolderError
    from rdlr.models.predictor import load_model

    started = time.perf_counter()
    try:
        if args.out is not None:
            check_writable(args.out)
        model = load_model(args.model, device=args.device)
        frame = model.predict(args.inputs, batch_size=args.batch_size, progress=not args.no_progress)
    except (ManifestError, ModelFolderError, ValueError, OSError) as error:
        return _error("predict", error)
    failed = frame["error"] != ""
    if args.out is None:
        to_safe_csv(frame, sys.stdout)
    else:
        write_atomically_csv(frame, args.out)
    counts = frame.loc[~failed, "label"].value_counts()
    summary = ", ".join(f"{name} {int(counts.get(name, 0))}" for name in model.classes)
    print(f"predicted {int((~failed).sum())} of {len(frame)} inputs ({summary}); {int(failed.sum())} could not "
          f"be read{'' if args.out is None else f'; wrote {args.out}'} ({time.perf_counter() - started:.1f}s)",
          file=sys.stderr)
    for reason in frame.loc[failed, "error"].head(5):
        print(f"  {reason}", file=sys.stderr)
    return 0 if (~failed).any() else 1


# ---- rdlr export -----------------------------------------------------------------------------------------------
def configure_export(parser: argparse.ArgumentParser) -> None:
    from rdlr.report.selection import SELECTIONS

    parser.add_argument("storage", help="the sweep's --storage (folder or s3:// URI)")
    parser.add_argument("spec_id", help="the sweep's spec id (folder under the storage)")
    parser.add_argument("--method", required=True, help="method id of the table row")
    parser.add_argument("--held-out", required=True, metavar="CORPUS", help="held-out (test) corpus of the row")
    parser.add_argument("--selection", choices=list(SELECTIONS), default="validation",
                        help="validation: best mean validation UA over seeds (default); paper: best mean test UA")
    parser.add_argument("--features", default=None, help="feature set (needed when the sweep has several)")
    parser.add_argument("--protocol", choices=("out_of_corpus", "within_corpus"), default="out_of_corpus",
                        help="which of the sweep's protocols the selected configuration comes from "
                             "(default out_of_corpus)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed to export (default: the selected configuration's best seed by the same metric)")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="where to retrain")
    parser.add_argument("--out", required=True, type=Path, metavar="MODEL_DIR", help="model folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in --out")


def run_export(args: argparse.Namespace) -> int:
    from rdlr.corpora import SplitError
    from rdlr.features import FeatureStoreError
    from rdlr.models.export import export_model
    from rdlr.models.folder import ModelFolderError

    try:
        outcome = export_model(args.storage, args.spec_id, args.method, args.held_out, args.out,
                               selection=args.selection, features=args.features, protocol=args.protocol,
                               seed=args.seed, device=args.device, overwrite=args.overwrite)
    except (FileNotFoundError, SplitError, FeatureStoreError, ModelFolderError, ValueError) as error:
        return _error("export", error)
    metrics, row = outcome.card.metrics, outcome.row
    match = "matches the sweep's row" if outcome.reproduced else (
        f"differs from the sweep's row (val UA {100 * row['val_ua']:.2f}%, test UA {100 * row['test_ua']:.2f}%): "
        "the sweep trained on another device or library version")
    print(f"val UA {100 * metrics['val_ua']:.2f}%, test UA {100 * metrics.get('test_ua', float('nan')):.2f}%: "
          f"{match}")
    print(f"model: {outcome.folder} ({outcome.wall_time_s:.0f}s)")
    return 0


train = Command(configure_train, run_train)
predict = Command(configure_predict, run_predict)
export = Command(configure_export, run_export)
