"""Corpora: one manifest schema for every corpus, loaders for the official layouts, and the paper's splits.

* :func:`load_corpus` — manifest of CREMA-D, IEMOCAP, MSP-IMPROV, MSP-Podcast, LibriSpeech, EmoDB, RAVDESS, ESD,
  SAVEE, TESS, EMOVO, URDU, ShEMO, any CSV manifest, or the generated demo corpora;
* :func:`read_manifest` / :func:`write_manifest` — manifest CSV files (validated on read);
* :func:`assign_roles` — train/val/test/unlabeled/unused roles for a protocol (Section 3.1).
"""

from __future__ import annotations

from rdlr.corpora.csv_manifest import read_manifest
from rdlr.corpora.manifest import COLUMNS, REQUIRED_COLUMNS, ManifestError, summarize, write_manifest
from rdlr.corpora.registry import list_corpora, load_corpus
from rdlr.corpora.splits import PROTOCOLS, ROLES, SplitError, assign_roles

__all__ = [
    "COLUMNS",
    "PROTOCOLS",
    "REQUIRED_COLUMNS",
    "ROLES",
    "ManifestError",
    "SplitError",
    "assign_roles",
    "list_corpora",
    "load_corpus",
    "read_manifest",
    "summarize",
    "write_manifest",
]
