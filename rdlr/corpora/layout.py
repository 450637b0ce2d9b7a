"""Folder helpers shared by the loaders of the freely downloadable corpora (RAVDESS, ESD, SAVEE, TESS, EMOVO,
URDU, ShEMO): find the corpus folder the way its archive unpacks and list its audio files (their text files are
read by :mod:`rdlr.corpora.text_files`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from rdlr.corpora.manifest import ManifestError


def any_case_suffix(pattern: str) -> str:
    """``pattern`` with its file extension matched in any case: ``"*.wav"`` -> ``"*.[wW][aA][vV]"``."""
    stem, dot, suffix = pattern.rpartition(".")
    if not dot or not suffix.isalnum():
        return pattern
    return stem + dot + "".join(f"[{char.lower()}{char.upper()}]" if char.isalpha() else char for char in suffix)


def audio_files(folder: Path, pattern: str = "*.wav") -> list[Path]:
    """Paths of ``folder`` matching ``pattern`` (a glob, ``**/`` for subfolders), sorted, the extension in any case
    (``.wav``, ``.WAV``, ``.Wav``: copies made on Windows or old Macs); macOS resource-fork copies (``._name.wav``)
    left out. A directory or other non-file of that name is listed too, so that the manifest builder counts it
    as dropped with its reason instead of it vanishing."""
    found = folder.glob(any_case_suffix(pattern))
    return sorted(path for path in found if not path.name.startswith("._"))


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
    raise ManifestError(
        f"{corpus}: not the official layout under {where}: expected {expected}; "
        "point --root at the unpacked corpus folder"
    )
