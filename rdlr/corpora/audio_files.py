"""Whether a manifest's audio path can hold an utterance, from the file system and the WAV header alone.

Used where audio files are checked (corpus loaders, CSV manifests) and before decoding in feature extraction. It
tells apart a missing path, a directory, a 0-byte file, a WAV header without samples, and a WAV whose ``data``
chunk claims more bytes than the file holds: libsndfile reads such a truncated WAV without complaint and returns
only the frames present, so the cut-off is found here by walking the RIFF chunks.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from typing import BinaryIO

MISSING = "missing"
DIRECTORY = "directory"
NOT_REGULAR = "not a regular file"
EMPTY = "empty"
TRUNCATED = "truncated"

_UNKNOWN_DATA_SIZE = 0xFFFFFFFF  # written by streaming encoders that never went back to fill the size in
_MAX_CHUNKS = 64


@dataclass(frozen=True)
class FileProblem:
    """Why an audio path is unusable: ``kind`` is one of the constants above; ``detail`` adds numbers."""

    kind: str
    detail: str = ""


def _wav_data_chunk(handle: BinaryIO, size: int) -> tuple[int, int, int] | None:
    """(bytes the ``data`` chunk claims, bytes after its header, block align or 0) of a RIFF/WAVE file; ``None``
    when it is not one or has no ``data`` chunk (the decoder then says why it cannot read it)."""
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position, block_align = 12, 0
    for _ in range(_MAX_CHUNKS):
        header = handle.read(8)
        if len(header) < 8:
            return None
        chunk, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
        position += 8
        if chunk == b"data":
            return chunk_size, size - position, block_align
        if chunk == b"fmt " and chunk_size >= 14:
            fmt = handle.read(14)
            block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) == 14 else 0
        position += chunk_size + (chunk_size & 1)
        handle.seek(position)
    return None


def _wav_problem(path: str, size: int) -> FileProblem | None:
    with open(path, "rb") as handle:
        found = _wav_data_chunk(handle, size)
    if found is None:
        return None
    claimed, held, block_align = found
    if claimed == _UNKNOWN_DATA_SIZE:
        return None
    if claimed == 0 and held == 0:
        return FileProblem(EMPTY, "a WAV header without samples")
    if claimed > held:
        unit, per = ("frames", block_align) if block_align else ("bytes", 1)
        return FileProblem(TRUNCATED, f"header claims {claimed // per} {unit}, file holds {held // per}")
    return None


def audio_file_problem(path: str | os.PathLike[str]) -> FileProblem | None:
    """Why the audio file at ``path`` cannot be used, or ``None`` when nothing short of decoding it says so."""
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return FileProblem(MISSING)
    except OSError:
        return None  # e.g. no permission: the decoder reports it with its own reason
    if stat.S_ISDIR(info.st_mode):
        return FileProblem(DIRECTORY)
    if not stat.S_ISREG(info.st_mode):
        return FileProblem(NOT_REGULAR)
    if info.st_size == 0:
        return FileProblem(EMPTY, "0 bytes")
    try:
        return _wav_problem(path, info.st_size)
    except OSError:
        return None  # unreadable: the decoder reports it with its own reason
