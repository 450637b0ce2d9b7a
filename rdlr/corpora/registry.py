"""``load_corpus(name, root, **options)``: one entry point for every corpus loader.

Names: the paper's corpora cremad, iemocap, msp_improv, msp_podcast, librispeech; the freely downloadable emodb,
ravdess, esd, savee, tess, emovo, urdu, shemo; csv (``root`` is the manifest CSV) and demo (``root`` is the folder
the synthetic corpora are generated into). The corpus codes of the paper (cre, iem, imp, pod, lib) and the usual
spellings (crema-d, msp-improv, ravdess-speech, ...) are accepted as aliases.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from rdlr.corpora.csv_manifest import read_manifest
from rdlr.corpora.manifest import ManifestError, summarize

MODULES: dict[str, str] = {
    "cremad": "rdlr.corpora.cremad",
    "iemocap": "rdlr.corpora.iemocap",
    "msp_improv": "rdlr.corpora.msp_improv",
    "msp_podcast": "rdlr.corpora.msp_podcast",
    "librispeech": "rdlr.corpora.librispeech",
    "emodb": "rdlr.corpora.emodb",
    "ravdess": "rdlr.corpora.ravdess",
    "esd": "rdlr.corpora.esd",
    "savee": "rdlr.corpora.savee",
    "tess": "rdlr.corpora.tess",
    "emovo": "rdlr.corpora.emovo",
    "urdu": "rdlr.corpora.urdu",
    "shemo": "rdlr.corpora.shemo",
    "csv": "rdlr.corpora.csv_manifest",
}
DEMO = "demo"
ALIASES: dict[str, str] = {
    "cre": "cremad",
    "crema-d": "cremad",
    "crema_d": "cremad",
    "iem": "iemocap",
    "imp": "msp_improv",
    "msp-improv": "msp_improv",
    "mspimprov": "msp_improv",
    "pod": "msp_podcast",
    "msp-podcast": "msp_podcast",
    "msppodcast": "msp_podcast",
    "lib": "librispeech",
    "emo-db": "emodb",
    "emo_db": "emodb",
    "rav": "ravdess",
    "ravdess-speech": "ravdess",
    "ravdess_speech": "ravdess",
    "emotional-speech-dataset": "esd",
    "emotional_speech_dataset": "esd",
    "toronto": "tess",
    "surrey": "savee",
    "sharif": "shemo",
}


def list_corpora() -> list[str]:
    """The loader names accepted by :func:`load_corpus`."""
    return [*MODULES, DEMO]


def resolve_name(name: str) -> str:
    """The canonical loader name for ``name`` (case-insensitive, aliases allowed)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in MODULES and key != DEMO:
        raise ManifestError(f"unknown corpus {name!r}; valid: {', '.join(list_corpora())}")
    return key


def _check_options(name: str, loader: Callable[..., object], options: dict[str, object]) -> None:
    valid = [p for p in inspect.signature(loader).parameters if p != "root"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ManifestError(f"unknown option(s) {unknown} for corpus {name!r}; valid: {', '.join(valid) or 'none'}")


def load_demo(root: str | Path, seed: int = 0, check_files: bool = True) -> pd.DataFrame:
    """Generate the synthetic demo corpora into ``root`` (:mod:`rdlr.corpora.demo`) and read their manifest."""
    from rdlr.corpora import demo

    manifest_path = demo.generate_demo_corpora(Path(root).expanduser(), seed=seed)
    return read_manifest(manifest_path, check_files=check_files)


def load_corpus(name: str, root: str | Path, *, verbose: bool = True, **options: object) -> pd.DataFrame:
    """The manifest of corpus ``name`` read from ``root``; prints :func:`summarize` unless ``verbose=False``.

    ``options`` go to the corpus loader (e.g. ``vote_modality`` for cremad, ``seed`` for demo,
    ``other_labels`` for csv); an unknown option raises with the valid ones.
    """
    key = resolve_name(name)
    loader: Callable[..., pd.DataFrame] = load_demo if key == DEMO else importlib.import_module(MODULES[key]).load
    _check_options(key, loader, options)
    df = loader(root, **options)
    if verbose:
        print(summarize(df))
    return df
