"""``rdlr prepare <corpus> --root DIR --out manifest.csv``: write a corpus manifest and print its summary.

Corpus names are those of :func:`rdlr.corpora.load_corpus` (cremad, iemocap, msp_improv, msp_podcast,
librispeech, emodb, ravdess, esd, savee, tess, emovo, urdu, shemo, csv, demo); ``rdlr prepare list`` describes
each. ``demo`` generates the synthetic corpora into ``--root`` with :func:`rdlr.corpora.demo.generate_demo_corpora`
and, without ``--out``, leaves the manifest it wrote there. The summary lists rows per corpus and class, the
utterances left out (other emotions, named in words: EmoDB ``A`` as fear) or dropped, the counts the corpus
documents and every difference from them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path

from rdlr.commands.errors import fail
from rdlr.corpora.checks import CorpusCountWarning
from rdlr.corpora.manifest import ManifestError, summarize, write_manifest
from rdlr.corpora.registry import DEMO, MODULES, list_corpora, load_corpus, resolve_name

LIST = "list"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr prepare``."""
    parser.add_argument("corpus", help=f"corpus loader: {', '.join(list_corpora())}; or '{LIST}' to describe them")
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="corpus folder in its official layout (for csv: the manifest CSV; for demo: output folder)",
    )
    required = parser.add_argument_group("required (except for demo)")
    required.add_argument("--out", type=Path, default=None, help="manifest CSV to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the demo corpora (demo only)")
    parser.add_argument(
        "--no-check-audio",
        action="store_true",
        help="do not check every audio file (faster on network storage; missing, empty or "
        "truncated files go unnoticed until extraction)",
    )
    parser.add_argument(
        "--vote-modality",
        default=None,
        choices=("voice", "face", "audiovisual", "all"),
        help="CREMA-D: which raters' votes fill the votes_* columns (default voice)",
    )
    parser.add_argument(
        "--language",
        default=None,
        choices=("en", "zh"),
        help="esd: English speakers 0011-0020 (ESD-en, default) or Mandarin 0001-0010 (ESD-zh)",
    )
    parser.add_argument(
        "--exclude-other-labels",
        action="store_true",
        help="csv: leave out rows whose label is outside the emotion vocabulary (rdlr.labels.VOCABULARY) "
        "instead of keeping them",
    )


def _options(name: str, args: argparse.Namespace) -> dict[str, object]:
    options: dict[str, object] = {}
    check = not args.no_check_audio
    if name == DEMO:
        options.update(seed=args.seed, check_files=check)
    elif name == "csv":
        options.update(check_files=check, other_labels="exclude" if args.exclude_other_labels else "keep")
    else:
        options["check_audio"] = check
    if args.vote_modality is not None:
        if name != "cremad":
            raise ManifestError("--vote-modality applies to cremad only")
        options["vote_modality"] = args.vote_modality
    if args.language is not None:
        if name != "esd":
            raise ManifestError("--language applies to esd only")
        options["language"] = args.language
    return options


def describe_loaders() -> str:
    """One line per loader: its name and the first line of its module's docstring."""
    lines = []
    for name, module in MODULES.items():
        doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()
        lines.append(f"{name:<12} {doc[0] if doc else ''}")
    lines.append(f"{DEMO:<12} the generated synthetic demo corpora (rdlr.corpora.demo)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load the corpus, write the manifest, print the summary; 0 on success, 2 on bad input."""
    if args.corpus.strip().lower() == LIST:
        print(describe_loaders())
        return 0
    try:
        name = resolve_name(args.corpus)
        if args.root is None:
            raise ManifestError("--root is required: the corpus folder (csv: the manifest CSV; demo: output folder)")
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
        return fail("prepare", error)
    print(summarize(df))
    if out is not None:
        print(f"wrote {len(df)} rows to {out}")
    elif "source" in df.attrs:
        print(f"manifest: {df.attrs['source']}")
    return 0
