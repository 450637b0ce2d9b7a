"""Local-or-URI folders (rdlr.io.storage): files appear whole or not at all, unusable folders are named before work
starts, and one writer at a time holds a folder's lock (stale locks of dead processes are broken)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pyarrow.fs as pafs
import pytest

from rdlr.io.storage import (
    FolderLock,
    LockHeldError,
    Storage,
    StorageError,
    check_writable,
    open_filesystem,
    put_file,
)


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


def test_a_failed_rename_leaves_no_temporary_file(tmp_path) -> None:
    target = tmp_path / "results.csv"
    target.mkdir()
    (target / "keep").write_text("a folder where the file should go: the rename fails")
    with pytest.raises(OSError):
        put_file(pafs.LocalFileSystem(), target.as_posix(), lambda stream: stream.write(b"a,b\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write into: chmod for a normal user, the immutable attribute for root."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    else:
        folder.chmod(0o555)
    try:
        try:
            (folder / "probe").write_bytes(b"")
        except OSError:
            yield folder
        else:
            pytest.skip("cannot make a read-only folder here (root without chattr)")
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


def test_check_writable_names_the_path_and_the_cause(tmp_path, read_only_folder, monkeypatch) -> None:
    check_writable(tmp_path / "new" / "store")  # can be created: fine, and nothing is created yet
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match=r"feature store .*/file/store cannot be created: .*/file is a file"):
        check_writable(tmp_path / "file" / "store", what="feature store")
    for target in (read_only_folder, read_only_folder / "store"):
        with pytest.raises(
            StorageError,
            match=rf"storage path {target} is not writable.*: (Permission denied|"
            r"Operation not permitted|Read-only file system)",
        ) as error:
            check_writable(target)
        assert "\n" not in str(error.value)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 * 2**30, 10 * 2**30, 2**20))
    with pytest.raises(StorageError, match=r"has only 1 MiB free on its disk; at least 256 MiB are needed"):
        check_writable(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path) -> None:
    fs, root = open_filesystem(tmp_path)
    with FolderLock(fs, root, "rdlr extract", what="feature store") as first:
        with pytest.raises(LockHeldError) as error:
            FolderLock(fs, root, "rdlr extract --manifest b.csv", what="feature store").acquire()
        message = str(error.value)
        assert f"locked by rdlr extract (pid {os.getpid()} on host {socket.gethostname()}, since " in message
        assert first.me.started in message and f"delete {root}/.lock if that process no longer runs" in message
    assert not (tmp_path / ".lock").exists()  # released


def test_a_second_writer_can_wait_for_the_first(tmp_path) -> None:
    fs, root = open_filesystem(tmp_path)
    first = FolderLock(fs, root, "first")
    first.acquire()
    threading.Timer(0.5, first.release).start()
    started = time.monotonic()
    with FolderLock(fs, root, "second", wait_s=30, poll_s=0.05) as second:
        assert 0.4 < time.monotonic() - started < 30
        assert json.loads((tmp_path / ".lock").read_text())["command"] == "second"
        first.release()  # not its lock any more: left alone
        assert (tmp_path / ".lock").exists() and second.me.command == "second"


@pytest.mark.slow
def test_stale_locks_are_broken(tmp_path) -> None:
    fs, root = open_filesystem(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    holder = {"host": socket.gethostname(), "pid": int(dead.stdout), "command": "rdlr extract", "started": "then"}
    (tmp_path / ".lock").write_text(json.dumps(holder))
    with FolderLock(fs, root, "next"):  # the holder is gone (kill -9): its lock is broken
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    (tmp_path / ".lock").write_bytes(b"")  # a lock file its writer was killed before filling
    with pytest.raises(LockHeldError, match="unknown process"):
        FolderLock(fs, root, "next").acquire()  # maybe being written right now
    old = time.time() - 60
    os.utime(tmp_path / ".lock", (old, old))
    with FolderLock(fs, root, "next"):
        assert json.loads((tmp_path / ".lock").read_text())["command"] == "next"
    other_host = {**holder, "host": "elsewhere"}
    (tmp_path / ".lock").write_text(json.dumps(other_host))
    with pytest.raises(LockHeldError, match="on host elsewhere"):  # cannot be checked: never broken
        FolderLock(fs, root, "next").acquire()
