"""``rdlr prepare <corpus> --root DIR --out manifest.csv``: write a corpus manifest and print its summary.

Corpus names are those of :func:`rdlr.corpora.load_corpus` (cremad, iemocap, msp_improv, msp_podcast,
librispeech, emodb, csv, demo). ``demo`` generates the synthetic corpora into ``--root`` with
:func:`rdlr.corpora.demo.generate_demo_corpora` and, without ``--out``, leaves the manifest it wrote there.
The summary lists rows per corpus and class, the utterances excluded (other emotions) or dropped, and every
difference from the counts the corpus documents.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import ManifestError, summarize, write_manifest
from rdlr.corpora.registry import DEMO, list_corpora, load_corpus, resolve_name


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr prepare``."""
    parser.add_argument("corpus", help=f"corpus loader: {', '.join(list_corpora())}")
    parser.add_argument("--root", required=True, type=Path,
                        help="corpus folder in its official layout (for csv: the manifest CSV; for demo: output folder)")
    parser.add_argument("--out", type=Path, default=None,
                        help="manifest CSV to write (required except for demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the demo corpora (demo only)")
    parser.add_argument("--no-check-audio", action="store_true",
                        help="do not check every audio file (faster on network storage; missing, empty or "
                             "truncated files go unnoticed until extraction)")
    parser.add_argument("--vote-modality", default=None, choices=("voice", "face", "audiovisual", "all"),
                        help="CREMA-D: which raters' votes fill the votes_* columns (default voice)")
    parser.add_argument("--exclude-other-labels", action="store_true",
                        help="csv: leave out rows whose label is not neutral/happy/sad/angry instead of failing")


def _options(name: str, args: argparse.Namespace) -> dict[str, object]:
    options: dict[str, object] = {}
    check = not args.no_check_audio
    if name == DEMO:
        options.update(seed=args.seed, check_files=check)
    elif name == "csv":
        options.update(check_files=check, other_labels="exclude" if args.exclude_other_labels else "error")
    else:
        options["check_audio"] = check
    if args.vote_modality is not None:
        if name != "cremad":
            raise ManifestError("--vote-modality applies to cremad only")
        options["vote_modality"] = args.vote_modality
    return options


def run(args: argparse.Namespace) -> int:
    """Load the corpus, write the manifest, print the summary; 0 on success, 2 on bad input."""
    try:
        name = resolve_name(args.corpus)
        if args.out is None and name != DEMO:
            raise ManifestError("--out is required: the manifest CSV to write")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            df = load_corpus(name, args.root, verbose=False, **_options(name, args))
        for warning in caught:
            if not issubclass(warning.category, CorpusCountWarning):
                print(f"warning: {warning.message}", file=sys.stderr)
        out = write_manifest(df, args.out) if args.out is not None else None
    except (ManifestError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summarize(df))
    if out is not None:
        print(f"wrote {len(df)} rows to {out}")
    elif "source" in df.attrs:
        print(f"manifest: {df.attrs['source']}")
    return 0
