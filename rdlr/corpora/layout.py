"""Folder helpers shared by the loaders of the freely downloadable corpora (RAVDESS, ESD, SAVEE, TESS, EMOVO,
URDU, ShEMO): find the corpus folder the way its archive unpacks, list its audio files, decode its text files.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from pathlib import Path

from rdlr.corpora.manifest import ManifestError


def audio_files(folder: Path, pattern: str = "*.wav") -> list[Path]:
    """Audio files of ``folder`` matching ``pattern`` (a glob, ``**/`` for subfolders), sorted; macOS resource-fork
    copies (``._name.wav``) left out."""
    return sorted(path for path in folder.glob(pattern) if path.is_file() and not path.name.startswith("._"))


def child(folder: Path, name: str) -> Path | None:
    """The subfolder of ``folder`` called ``name``, matched case-insensitively (archives differ in case)."""
    exact = folder / name
    if exact.is_dir():
        return exact
    if not folder.is_dir():
        return None
    matches = sorted(path for path in folder.iterdir() if path.is_dir() and path.name.lower() == name.lower())
    return matches[0] if matches else None


def locate(
    root: Path,
    wrappers: Iterable[str],
    looks_right: Callable[[Path], bool],
    corpus: str,
    expected: str,
) -> Path:
    """The corpus folder: ``root`` itself or one of its ``wrappers`` subfolders (the folder the archive unpacks to),
    whichever ``looks_right``; else a :class:`ManifestError` naming the layout ``expected``."""
    candidates = [root] + [found for name in wrappers if (found := child(root, name)) is not None]
    for candidate in candidates:
        if looks_right(candidate):
            return candidate
    where = " or ".join(str(path) for path in [root] + [root / name for name in wrappers])
    raise ManifestError(f"{corpus}: not the official layout under {where}: expected {expected}; "
                        "point --root at the unpacked corpus folder")


def read_text(path: Path, fallback: str = "latin-1") -> str:
    """The text of ``path``: UTF-16 (with a byte-order mark, or little-endian without one), else UTF-8, else
    ``fallback`` (corpora ship their text files in mixed encodings)."""
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data[:200]:
        return data.decode("utf-16-le", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode(fallback, errors="replace")
