"""Reading the text files corpora ship (transcripts, label files, CSV manifests) in whatever encoding they came in:
the one place every loader decodes text.

A byte-order mark decides: UTF-32 LE/BE, UTF-8, UTF-16 LE/BE, each decoded strictly. Without one, NUL bytes near
the start mean UTF-16 LE (Windows tools write it without a mark), else UTF-8, else the loader's ``fallback`` (the
encoding a corpus is known to use besides UTF-8: Latin-1, GB18030). A file that none of these decodes — UTF-16
with an odd number of bytes or an unpaired surrogate, UTF-8 when no fallback is given — raises
:class:`UnreadableText`, one line naming the file, which loaders count as dropped instead of a traceback.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pandas as pd

from rdlr.corpora.manifest import ManifestError

BYTE_ORDER_MARKS: tuple[tuple[bytes, str], ...] = (  # UTF-32 first: its LE mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
SNIFF_BYTES = 200


class UnreadableText(ManifestError):
    """A text file that does not decode in the encoding its byte-order mark (or its bytes) announce."""


def _encoding(data: bytes) -> tuple[str, int]:
    """(encoding, length of its byte-order mark) of ``data``; ``("", 0)`` when nothing marks it."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return encoding, len(mark)
    if b"\x00" in data[:SNIFF_BYTES]:
        return "utf-16-le", 0
    return "", 0


def decode_text(data: bytes, where: str, fallback: str | None = None) -> str:
    """The text of ``data`` (read from ``where``, named in errors), decoded as the module docstring says."""
    encoding, mark = _encoding(data)
    try:
        if encoding:
            return data[mark:].decode(encoding)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            if fallback is None:
                raise
            return data.decode(fallback)
    except UnicodeDecodeError as error:
        shown = (encoding or fallback or "utf-8").upper()
        what = "odd number of bytes" if error.reason == "truncated data" else error.reason
        raise UnreadableText(
            f"{where}: not readable as {shown} text ({what} at byte {error.start + mark}); save it again as UTF-8"
        ) from None


def read_text(path: str | Path, fallback: str | None = None) -> str:
    """The text of the file at ``path`` (:func:`decode_text`); :class:`UnreadableText` when it does not decode."""
    return decode_text(Path(path).read_bytes(), str(path), fallback)


def read_csv_text(path: str | Path, fallback: str | None = None) -> pd.DataFrame:
    """The CSV file at ``path`` as strings (empty cells ``""``), decoded by :func:`read_text` first so UTF-16 and
    BOM-marked files read like UTF-8 ones."""
    return pd.read_csv(io.StringIO(read_text(path, fallback)), dtype=str, keep_default_na=False)
