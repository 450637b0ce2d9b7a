"""``rdlr train``: train one model from manifests and save it as a model folder (:mod:`rdlr.models.training`).

::

    rdlr train --manifest emodb.csv --features is10 --method ce --hparam batch_size=32 --store feats/ --out model/
    rdlr train --manifest emodb.csv --features is10 --method ce --labels neutral,happy,sad,angry,fear --out model/
"""

from __future__ import annotations

import argparse
from typing import Any

from rdlr.commands.errors import fail
from rdlr.commands.options import (
    DEFAULT_FEATURE_STORE,
    add_address,
    add_device,
    add_extraction,
    add_features,
    add_labels,
    add_manifests,
    add_mlflow,
    add_model_out,
    add_model_paths,
    add_normalization,
    add_progress,
    add_verbose,
    class_set,
    local_device,
    model_paths,
)


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


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr train``."""
    from rdlr.methods import list_methods

    add_manifests(
        parser, "labeled manifest (repeat for several corpora); each corpus is split into train and validation speakers"
    )
    parser.add_argument(
        "--unlabeled-manifest",
        action="append",
        default=[],
        metavar="CSV",
        help="unlabeled speech for AE (12) / PEL (13), e.g. LibriSpeech (labels ignored)",
    )
    parser.add_argument(
        "--test-manifest",
        action="append",
        default=[],
        metavar="CSV",
        help="held-out corpus: scored (test UA in the model card), never trained on",
    )
    add_features(parser)
    parser.add_argument(
        "--method", required=True, help=f"method id ({', '.join(list_methods())}) or a composition such as rd+lr+cww"
    )
    parser.add_argument(
        "--hparam",
        action="append",
        metavar="NAME=VALUE",
        help="hyperparameter (repeat), e.g. batch_size=32 lambda_rd=0.01; others take defaults",
    )
    parser.add_argument(
        "--seen-corpora",
        action="append",
        default=[],
        metavar="FEATURE_SET=CORPUS[,CORPUS]",
        help="corpora the backbone of a feature set was trained or fine-tuned on (repeat; a name without @N "
        "covers every layer), e.g. whisper=IEM; a --test-manifest corpus among them is refused",
    )
    parser.add_argument(
        "--allow-seen",
        action="store_true",
        help="test on a corpus --seen-corpora says the backbone saw (the test UA is then not cross-corpus)",
    )
    add_labels(
        parser,
        "default paper4",
        "with a named set, its merges are kept unless replaced",
    )
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed (default 0)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation speaker draw")
    add_normalization(
        parser,
        "train",
        "default train; corpus and speaker normalise test manifests with their own statistics, and the model "
        "folder records the choice for rdlr predict",
    )
    parser.add_argument("--max-epochs", type=int, default=None, help="epoch limit (default 100; early stopping)")
    parser.add_argument(
        "--store",
        default=DEFAULT_FEATURE_STORE,
        metavar="DIR_OR_URI",
        help=f"feature store, filled as needed (default: {DEFAULT_FEATURE_STORE}, the one rdlr sweep "
        "and rdlr reproduce use by default, so features are extracted once)",
    )
    add_model_out(
        parser,
        "model folder to write; TensorBoard events of every epoch go to MODEL_DIR/tensorboard "
        "(stage1/ and stage2/ for LR and self-KD): tensorboard --logdir MODEL_DIR/tensorboard",
    )
    add_mlflow(parser, "the run (params, per-epoch and final metrics, the model card)")
    add_device(parser, "extraction models and training")
    add_extraction(parser)
    add_address(parser)
    add_model_paths(parser)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for training (default 1: extra threads slow training down many times "
        "on a busy machine; on an idle one 2 threads are ~1.5x faster)",
    )
    add_progress(parser)
    parser.add_argument(
        "--quiet", action="store_true", help="no per-epoch lines, progress bars or notes: only the result"
    )
    add_verbose(parser)


def check_test_corpora(args: argparse.Namespace) -> None:
    """Refuse (ValueError, one line) a --test-manifest corpus that --seen-corpora says the backbone of a feature set
    saw, unless --allow-seen, which prints a note per such corpus instead (:mod:`rdlr.features.seen`)."""
    from rdlr.corpora import read_manifest
    from rdlr.features.seen import check_seen, parse_seen_options, seen_by

    seen = parse_seen_options(args.seen_corpora)
    if not seen:
        return
    corpora = sorted({str(c) for path in args.test_manifest for c in read_manifest(path, check_files=False)["corpus"]})
    if not args.allow_seen:
        check_seen(args.features, corpora, seen)
        return
    check_seen(args.features, [], seen)
    for corpus in (corpus for corpus in corpora if seen_by(args.features, corpus, seen)):
        print(
            f"rdlr train: note: the backbone of {args.features} saw {corpus} (--seen-corpora, --allow-seen): its "
            "test UA is not cross-corpus evidence"
        )


def run(args: argparse.Namespace) -> int:
    """Train, save the model folder, print its validation (and test) UA."""
    from rdlr.corpora import ManifestError, SplitError
    from rdlr.features import FeatureStoreError
    from rdlr.labels import LabelSetError
    from rdlr.models.folder import ModelFolderError
    from rdlr.models.training import train_model

    try:
        labels = class_set(args)
    except LabelSetError as error:
        return fail("train", error)

    try:
        check_test_corpora(args)
    except (ManifestError, ValueError) as error:
        return fail("train", error)
    training = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    try:
        outcome = train_model(
            args.manifest,
            args.features,
            args.method,
            args.out,
            args.store,
            hparams=parse_hparams(args.hparam),
            seed=args.seed,
            unlabeled_manifests=args.unlabeled_manifest,
            test_manifests=args.test_manifest,
            models=model_paths(args),
            training=training,
            split_seed=args.split_seed,
            normalization=args.normalization,
            device=local_device(args.device),
            workers=args.workers,
            address=args.address,
            progress=not (args.no_progress or args.quiet),
            epoch_lines=not args.quiet,
            **({} if args.threads is None else {"threads": args.threads}),
            verbose=args.verbose,
            overwrite=args.overwrite,
            mlflow=args.mlflow,
            labels=labels,
            log=(lambda line: None) if args.quiet else print,
        )
    except (ManifestError, SplitError, FeatureStoreError, ModelFolderError, ValueError) as error:
        return fail("train", error)
    metrics = outcome.card.metrics
    per_corpus = ", ".join(
        f"{key.split('/', 1)[1]} {100 * value:.1f}%" for key, value in metrics.items() if key.startswith("val_ua/")
    )
    hparams = ", ".join(f"{name} {value}" for name, value in outcome.card.hparams.items())
    print(
        f"{outcome.card.method['id']} ({hparams}); classes {', '.join(outcome.card.classes)}; seed {outcome.card.seed}"
    )
    print(
        f"validation UA {100 * metrics['val_ua']:.1f}% ({per_corpus}); best epoch {metrics['best_epoch']} of "
        f"{metrics['epochs']}"
    )
    if "test_ua" in metrics:
        print(f"test UA {100 * metrics['test_ua']:.1f}%")
    print(f"model: {outcome.folder} ({outcome.wall_time_s:.0f}s)")
    return 0
