"""Local-or-URI folders (rdlr.storage): files appear whole or not at all."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from rdlr.storage import Storage, open_filesystem, put_file


def test_an_interrupted_write_leaves_no_file_behind(tmp_path) -> None:
    def fail_halfway(stream) -> None:
        stream.write(b"PAR1 half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        put_file(pafs.LocalFileSystem(), f"{tmp_path.as_posix()}/is10/abc/CRE/part-1.parquet", fail_halfway)
    assert list((tmp_path / "is10" / "abc" / "CRE").iterdir()) == []


def test_storage_writes_reads_and_lists_whole_files(tmp_path) -> None:
    storage = Storage(f"file://{tmp_path}")
    storage.write(b"{}", "spec", "trials", "k.json")
    assert storage.exists("spec", "trials", "k.json") and not storage.exists("spec", "nothing")
    assert storage.read("spec", "trials", "k.json") == b"{}"
    assert storage.child("spec").list("trials") == ["k.json"] and storage.list("missing") == []
    _, root = open_filesystem(tmp_path)
    assert storage.root == root
