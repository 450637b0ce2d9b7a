"""Folders on the local disk or under a URI (``s3://bucket/prefix``), through pyarrow's filesystems: the one place
that knows how to write a file whole or not at all, checks that a folder can be written before work starts, and
takes a folder's writer lock. The feature store and a sweep's files both build on it.

Locks (:class:`FolderLock`): a lock file holding the holder's host, pid, command and start time. On a local (or
NFS-mounted) folder it is created with ``O_CREAT | O_EXCL``, so exactly one process gets it; a lock left by a dead
process on this host (``kill -9``) is broken by the next writer. On an object store (``s3://``) there is no atomic
create-if-absent, so the lock is a best-effort marker: checked, then written, then read back; two writers that
start within the same instant can both get it, and a marker left by a killed process must be deleted by hand (the
error message names it), because a process on another machine cannot be checked for liveness.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from rdlr.io.safe_text import parse_json

LOCK_FILE = ".lock"
MIN_FREE_BYTES = 256 * 1024**2  # refuse to start work on a disk with less free space than this
UNREADABLE_LOCK_S = 10.0  # an empty or garbled lock file older than this is left over from a crash


def open_filesystem(uri: str | os.PathLike[str]) -> tuple[pafs.FileSystem, str]:
    """pyarrow filesystem and root path for a local path or a URI such as ``s3://bucket/prefix``."""
    text = str(uri)
    if "://" in text:
        filesystem, root = pafs.FileSystem.from_uri(text)
        return filesystem, root.rstrip("/")
    return pafs.LocalFileSystem(), Path(text).expanduser().resolve().as_posix()


TMP_PREFIX = ".tmp-"  # temporary files of put_file; a process killed mid-write can leave one behind


def put_file(fs: pafs.FileSystem, path: str, write: Callable[[pa.NativeFile], object]) -> None:
    """Create ``path`` whole or not at all: locally via a hidden temporary file renamed into place (removed again if
    anything fails; an ``OSError`` then names ``path``, e.g. ``[Errno 28] No space left on device: '<path>'``); on
    object stores one upload, which becomes visible only when complete."""
    directory = path.rsplit("/", 1)[0]
    fs.create_dir(directory, recursive=True)
    if not isinstance(fs, pafs.LocalFileSystem):
        with fs.open_output_stream(path) as stream:
            write(stream)
        return
    tmp = f"{directory}/{TMP_PREFIX}{uuid.uuid4().hex}"
    try:
        with fs.open_output_stream(tmp) as stream:
            write(stream)
        fs.move(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):  # best effort: the original error is the one to report
            if fs.get_file_info(tmp).type == pafs.FileType.File:
                fs.delete_file(tmp)
        if isinstance(error, OSError) and error.errno and not error.filename:  # pyarrow's errors name no file
            raise OSError(error.errno, os.strerror(error.errno), path) from error
        raise


class Storage:
    """A folder on the local disk or under a URI (``s3://bucket/prefix``)."""

    def __init__(self, uri: str | os.PathLike[str]) -> None:
        text = str(uri)
        self.fs, self.root = open_filesystem(text)
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)
        self.uri = self.root if self.is_local else text.rstrip("/")

    def child(self, *parts: str) -> Storage:
        return Storage("/".join([self.uri, *parts]))

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def read(self, *parts: str, limit: int | None = None) -> bytes:
        """The bytes of a file; with ``limit``, at most that many (more are never read)."""
        with self.fs.open_input_stream(self.path(*parts)) as stream:
            return stream.read() if limit is None else stream.read(limit)

    def write(self, data: bytes, *parts: str) -> None:
        """Write a whole file (:func:`put_file`): readers never see half of it."""
        put_file(self.fs, self.path(*parts), lambda stream: stream.write(data))

    def list(self, *parts: str) -> list[str]:
        """File names directly under a folder (empty when it does not exist)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(*parts), allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.File and not i.base_name.startswith("."))


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """Create ``path`` whole or not at all: ``write(tmp)`` writes a hidden temporary file beside it, which is
    then renamed into place (``os.replace``); the file gets the usual permissions (umask)."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class StorageError(OSError):
    """A folder that cannot be used as asked; the message names the folder and the cause, in one line."""


def check_writable(
    uri: str | os.PathLike[str], what: str = "storage path", min_free_bytes: int = MIN_FREE_BYTES
) -> None:
    """Raise :class:`StorageError` (one line: the folder and the cause) unless the local folder ``uri`` can be
    written, or created, and its disk has at least ``min_free_bytes`` free: a read-only or full disk is reported
    before any work starts. An existing folder is probed by writing and removing a temporary file; for one still
    to be created, the nearest existing parent is checked. URIs of object stores (``s3://``) are not probed: the
    store reports such problems on the first write."""
    text = str(uri)
    if "://" in text and not text.startswith("file://"):
        return
    path = Path(open_filesystem(text)[1])
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise StorageError(f"{what} {path} cannot be created: {existing} is a file, not a folder")
    try:
        if existing == path:
            probe = path / f"{TMP_PREFIX}probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"rdlr")
            probe.unlink()
        elif not os.access(existing, os.W_OK | os.X_OK):
            cause = errno.EROFS if os.statvfs(existing).f_flag & os.ST_RDONLY else errno.EACCES
            raise OSError(cause, os.strerror(cause))
        free = shutil.disk_usage(existing).free
    except OSError as error:
        where = "" if existing == path else f" ({existing} cannot be written)"
        raise StorageError(f"{what} {path} is not writable{where}: {error.strerror or error}") from None
    if free < min_free_bytes:
        raise StorageError(
            f"{what} {path} has only {free / 2**20:.0f} MiB free on its disk; at least "
            f"{min_free_bytes / 2**20:.0f} MiB are needed (free some space or use another path)"
        )


@dataclass(frozen=True)
class LockHolder:
    """Who holds a folder's lock: recorded in the lock file."""

    host: str
    pid: int
    command: str
    started: str

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid} on host {self.host}, since {self.started})"


class LockHeldError(StorageError):
    """Another process holds the lock of a folder; the message names it and what to do."""


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


class FolderLock:
    """The writer lock of ``folder`` on ``fs`` (the file ``<folder>/.lock``), as a context manager.

    A second writer waits up to ``wait_s`` seconds for the holder to finish, then raises :class:`LockHeldError`
    naming the holder (host, pid, command, start time). See the module notes for local and object-store folders.
    """

    def __init__(
        self,
        fs: pafs.FileSystem,
        folder: str,
        command: str,
        what: str = "folder",
        wait_s: float = 0.0,
        poll_s: float = 0.2,
    ) -> None:
        self.fs, self.folder, self.what = fs, folder.rstrip("/"), what
        self.path = f"{self.folder}/{LOCK_FILE}"
        self.is_local = isinstance(fs, pafs.LocalFileSystem)
        self.wait_s, self.poll_s = wait_s, poll_s
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.me = LockHolder(socket.gethostname(), os.getpid(), command, started)
        self._token = json.dumps(asdict(self.me)).encode()
        self._held = False

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, breaking one left by a dead process of this host; raise if another holds it."""
        deadline = time.monotonic() + self.wait_s
        while True:
            acquired, raw = self._create()
            if acquired:
                self._held = True
                return
            if raw is None:
                continue  # the holder released it just now
            holder = _parse_holder(raw)
            if self._stale(raw, holder):
                self._break(raw)
                continue
            if time.monotonic() >= deadline:
                who = holder.describe() if holder else "an unknown process (unreadable lock file)"
                raise LockHeldError(
                    f"{self.what} {self.folder} is locked by {who}; wait for it to finish, or delete {self.path} if "
                    "that process no longer runs"
                )
            time.sleep(self.poll_s)

    def release(self) -> None:
        """Remove the lock file if it is still this lock's."""
        if self._held and self._read() == self._token:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(self.path)
        self._held = False

    def _create(self) -> tuple[bool, bytes | None]:
        """Create the lock file with this holder: (created, the bytes of the lock file found instead, if any)."""
        self.fs.create_dir(self.folder, recursive=True)
        if not self.is_local:
            present = self._read()
            if present is None:
                put_file(self.fs, self.path, lambda stream: stream.write(self._token))
                present = self._read()
            return present == self._token, present
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False, self._read()
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(self._token)
        return True, None

    def _read(self) -> bytes | None:
        try:
            with self.fs.open_input_stream(self.path) as stream:
                return stream.read()
        except FileNotFoundError:
            return None

    def _stale(self, raw: bytes, holder: LockHolder | None) -> bool:
        """A lock of a process of this host that no longer runs, or a garbled one older than a few seconds."""
        if holder is None:
            info = self.fs.get_file_info(self.path)
            if info.type == pafs.FileType.NotFound:
                return False  # gone meanwhile: simply try again
            age = time.time() - info.mtime.timestamp() if info.mtime else UNREADABLE_LOCK_S
            return age >= UNREADABLE_LOCK_S
        return holder.host == self.me.host and not _process_alive(holder.pid)

    def _break(self, raw: bytes) -> None:
        """Remove the stale lock ``raw``, never a fresh one another process created meanwhile."""
        if not self.is_local:
            if self._read() == raw:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.delete_file(self.path)
            return
        aside = f"{self.path}.stale-{uuid.uuid4().hex}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # another process broke it first
        with open(aside, "rb") as stream:
            moved = stream.read()
        if moved != raw:  # a fresh lock was taken meanwhile: put it back
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path)
        os.unlink(aside)


def _parse_holder(raw: bytes) -> LockHolder | None:
    try:
        return LockHolder(**parse_json(raw, "lock file"))
    except (ValueError, TypeError):
        return None
