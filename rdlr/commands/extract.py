"""``rdlr extract``: manifests -> Ray Data extraction -> Parquet feature store, resumable, with a summary.

Example::

    rdlr extract --manifest cre.csv --manifest iem.csv --features is10,w2v --store features/ \\
        --w2v-checkpoint models/wav2vec_large.pt --workers 4
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from rdlr.cluster.capacity import find_capacity
from rdlr.cluster.session import cluster_address
from rdlr.commands.errors import fail
from rdlr.commands.options import (
    add_address,
    add_autoscaler_config,
    add_device,
    add_extraction,
    add_features,
    add_manifests,
    add_model_paths,
    add_progress,
    add_verbose,
    model_paths,
)
from rdlr.corpora import read_manifest as read_validated_manifest
from rdlr.corpora.manifest import check_unique_ids
from rdlr.features.pipeline import DEFAULT_BATCH_SIZE, extract
from rdlr.features.registry import HF_PREFIX, layered_name, parse_feature_sets
from rdlr.features.store import FeatureStoreError
from rdlr.features.summary import ExtractSummary


def read_manifest(path: str) -> pd.DataFrame:
    """One manifest CSV, validated by :func:`rdlr.corpora.read_manifest`. Audio files are not checked here: one
    that is missing or unreadable lands in the errors table with its reason, and the run carries on."""
    return read_validated_manifest(path, check_files=False)


def read_manifests(paths: list[str]) -> pd.DataFrame:
    """All manifests concatenated; utt_id must be unique across them."""
    frames = [read_manifest(path) for path in paths]
    manifest = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    check_unique_ids(manifest, f"utt_id repeated across manifests {', '.join(paths)}")
    return manifest


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr extract``."""
    add_manifests(parser, "manifest CSV (repeat for several corpora)")
    add_features(parser)
    parser.add_argument(
        "--store",
        required=True,
        metavar="DIR_OR_URI",
        help="feature store: a folder or a URI such as s3://bucket/features",
    )
    add_extraction(parser)
    add_device(
        parser,
        "models (w2v, bert, whisper, hf:); with cuda each actor asks for min(1, GPUs / workers) of a GPU: a "
        "whole one while there are enough, otherwise the actors share the GPUs and their memory",
    )
    add_autoscaler_config(parser)
    add_model_paths(parser)
    parser.add_argument(
        "--hf-layer",
        type=int,
        default=None,
        metavar="N",
        help="hidden layer of hf:<dir> encoders named without a layer suffix: index into hidden_states, 0 = the "
        "input to the first transformer layer, -1 = the last layer (default); hf:<dir>@N and whisper@N name their "
        "layer themselves (@0 = input to the first block, @L = final output, @all = every layer, each stored as "
        "its own feature set NAME@N)",
    )
    parser.add_argument(
        "--fp16",
        action="store_true",
        help="run the whisper and hf:<dir>@N encoders in half precision (GPU only: --device cuda or auto)",
    )
    add_address(parser)
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="utterances per actor call and per progress step"
    )
    parser.add_argument(
        "--retry-errors", action="store_true", help="try again the utterances recorded in the errors tables"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any utterance has no vector (default: only when a corpus has none)",
    )
    add_progress(parser)
    add_verbose(parser)


def errors_line(summary: ExtractSummary) -> str:
    """This run's new errors by kind of reason, or ``none``."""
    reasons = summary.errors_by_reason()
    listed = ", ".join(f"{reason} ×{count}" for reason, count in reasons.items())
    return f"errors by reason: {listed or 'none'}"


def extraction_failures(summary: ExtractSummary, strict: bool) -> list[str]:
    """Why the run failed: a (feature set, corpus) of the manifests with no vector in the store; with ``strict``,
    also any utterance without one (failed in this run or skipped because it failed before)."""
    failures = []
    for counts in summary.counts:
        failed = sum(counts.errors.values()) + counts.failed_before
        causes = [f"{reason} ×{n}" for reason, n in counts.errors.most_common()]
        causes += [f"failed before ×{counts.failed_before}"] if counts.failed_before else []
        why = f" ({', '.join(causes)})" if causes else ""
        where = f"{counts.feature_set} / {counts.corpus}"
        if counts.total and counts.present + counts.extracted == 0:
            failures.append(f"nothing extracted for {where}: all {counts.total} utterances failed{why}")
        elif strict and failed:
            failures.append(f"--strict: {failed} of {counts.total} utterances of {where} have no vector{why}")
    return failures


def run(args: argparse.Namespace) -> int:
    """Run the extraction and print the summary; 0 when done, 1 when extraction failed (see
    :func:`extraction_failures`), 2 on bad input or a store that cannot be written."""
    models = model_paths(args)
    try:
        feature_sets = parse_feature_sets(args.features)
        plain_hf = [n for n in feature_sets if n.startswith(HF_PREFIX) and layered_name(n).layer is None]
        if args.hf_layer is not None and not plain_hf:
            raise ValueError(
                f"--hf-layer applies to hf:<dir> feature sets only, those without a layer suffix (hf:<dir>@N names "
                f"its layer); --features is {args.features!r}"
            )
        manifest = read_manifests(args.manifest)
        print(
            f"rdlr extract: {len(manifest)} utterances from {len(args.manifest)} manifest(s); "
            f"feature sets {'+'.join(feature_sets)} -> {args.store}",
            flush=True,
        )
        capacity = find_capacity(args.autoscaler_config, joined=cluster_address(args.address) is not None)
        summary = extract(
            manifest,
            feature_sets,
            args.store,
            workers=args.workers,
            device=args.device,
            models=models,
            batch_size=args.batch_size,
            retry_errors=args.retry_errors,
            address=args.address,
            progress=not args.no_progress,
            hf_layer=args.hf_layer,
            capacity=capacity,
            verbose=args.verbose,
            fp16=args.fp16,
        )
    except (ValueError, FeatureStoreError, OSError) as error:  # OSError: unwritable or full store, store locked
        return fail("extract", error)
    except KeyboardInterrupt:
        print(
            "rdlr extract: interrupted; what finished is in the store, run the same command to resume", file=sys.stderr
        )
        return 130
    print(summary.format())
    print(errors_line(summary))
    failures = extraction_failures(summary, strict=args.strict)
    for failure in failures:
        print(
            f"rdlr extract: error: {failure}; see the errors tables in the store for each file's reason",
            file=sys.stderr,
        )
    return 1 if failures else 0
