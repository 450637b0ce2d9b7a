"""The one text decoder of the loaders: byte-order marks, unmarked UTF-16, fallbacks, and one line for a file
that does not decode."""

from __future__ import annotations

import codecs

import pytest

from rdlr.corpora.text_files import UnreadableText, decode_text, read_csv_text

TEXT = "0011_000001\tA caf\u00e9, \u4f60\u597d \U0001f600\n"


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
        codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
        TEXT.encode("utf-16-le"),  # no mark: told by its NUL bytes
        TEXT.encode("utf-8"),
    ],
    ids=["utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16-le-unmarked", "utf-8"],
)
def test_every_marked_encoding_decodes_to_the_same_text(encoded):
    assert decode_text(encoded, "t.txt") == TEXT


def test_unmarked_non_utf8_text_uses_the_fallback_or_is_unreadable():
    latin = "caf\u00e9\n".encode("latin-1")
    assert decode_text(latin, "t.txt", fallback="latin-1") == "caf\u00e9\n"
    with pytest.raises(UnreadableText, match=r"^t.txt: not readable as UTF-8 text \(invalid continuation byte"):
        decode_text(latin, "t.txt")


@pytest.mark.parametrize(
    "broken, why",
    [
        (codecs.BOM_UTF16_LE + "ab".encode("utf-16-le") + b"c", r"UTF-16-LE text \(odd number of bytes at byte 6\)"),
        (codecs.BOM_UTF16_LE + b"a\x00\x00\xdcb\x00", r"UTF-16-LE text \(illegal encoding at byte 4\)"),
        (codecs.BOM_UTF32_LE + b"\x00\x00\x11\x00", r"UTF-32-LE text \(code point not in range"),
    ],
    ids=["odd-bytes", "unpaired-surrogate", "utf-32-out-of-range"],
)
def test_broken_marked_text_is_one_line_naming_the_file(broken, why):
    with pytest.raises(UnreadableText, match=rf"^/data/0011\.txt: not readable as {why}") as caught:
        decode_text(broken, "/data/0011.txt", fallback="latin-1")  # a mark is never overruled by the fallback
    assert "\n" not in str(caught.value)


def test_csv_in_utf16_reads_like_utf8(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "a,b\nx\u00e9,\n".encode("utf-16-le"))
    assert read_csv_text(path).to_dict("records") == [{"a": "x\u00e9", "b": ""}]
