"""``rdlr export STORAGE SPEC_ID --method M --held-out CORPUS --out MODEL_DIR``: the model of a sweep's selected
configuration, retrained from its result row and saved as a model folder (:mod:`rdlr.models.export`).

::

    rdlr export rdlr_runs demo --method rdlr_cww_dagger --held-out CRE-demo --out model/
"""

from __future__ import annotations

import argparse

from rdlr.commands.errors import fail
from rdlr.commands.options import add_device, add_model_out, add_normalization, add_selection, local_device


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr export``."""
    parser.add_argument("storage", help="the sweep's --storage (folder or s3:// URI)")
    parser.add_argument("spec_id", help="the sweep's spec id (folder under the storage)")
    parser.add_argument("--method", required=True, help="method id of the table row")
    parser.add_argument("--held-out", required=True, metavar="CORPUS", help="held-out (test) corpus of the row")
    add_selection(parser, "validation", "validation")
    parser.add_argument("--features", default=None, help="feature set (needed when the sweep has several)")
    parser.add_argument(
        "--protocol",
        choices=("out_of_corpus", "within_corpus"),
        default="out_of_corpus",
        help="which of the sweep's protocols the selected configuration comes from (default out_of_corpus)",
    )
    add_normalization(parser, "train", "the sweep's rows of this normalisation (default train)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed to export (default: the selected configuration's best seed by the same metric)",
    )
    add_device(parser, "the retraining")
    add_model_out(parser)


def run(args: argparse.Namespace) -> int:
    """Retrain the selected configuration, save it, say whether it matches the sweep's row."""
    from rdlr.corpora import SplitError
    from rdlr.features import FeatureStoreError
    from rdlr.models.export import export_model
    from rdlr.models.folder import ModelFolderError

    try:
        outcome = export_model(
            args.storage,
            args.spec_id,
            args.method,
            args.held_out,
            args.out,
            selection=args.selection,
            features=args.features,
            protocol=args.protocol,
            normalization=args.normalization,
            seed=args.seed,
            device=local_device(args.device),
            overwrite=args.overwrite,
        )
    except (FileNotFoundError, SplitError, FeatureStoreError, ModelFolderError, ValueError) as error:
        return fail("export", error)
    metrics, row = outcome.card.metrics, outcome.row
    match = (
        "matches the sweep's row"
        if outcome.reproduced
        else (
            f"differs from the sweep's row (val UA {100 * row['val_ua']:.2f}%, test UA {100 * row['test_ua']:.2f}%): "
            "the sweep trained on another device or library version"
        )
    )
    print(f"val UA {100 * metrics['val_ua']:.2f}%, test UA {100 * metrics.get('test_ua', float('nan')):.2f}%: {match}")
    print(f"model: {outcome.folder} ({outcome.wall_time_s:.0f}s)")
    return 0
