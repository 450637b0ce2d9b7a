"""Folders on the local disk or under a URI (``s3://bucket/prefix``), through pyarrow's filesystems: the one place
that knows how to write a file whole or not at all. The feature store and a sweep's files both build on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs


def open_filesystem(uri: str | os.PathLike[str]) -> tuple[pafs.FileSystem, str]:
    """pyarrow filesystem and root path for a local path or a URI such as ``s3://bucket/prefix``."""
    text = str(uri)
    if "://" in text:
        filesystem, root = pafs.FileSystem.from_uri(text)
        return filesystem, root.rstrip("/")
    return pafs.LocalFileSystem(), Path(text).expanduser().resolve().as_posix()


def put_file(fs: pafs.FileSystem, path: str, write: Callable[[pa.NativeFile], object]) -> None:
    """Create ``path`` whole or not at all: locally via a hidden temporary file renamed into place (removed again if
    anything fails); on object stores one upload, which becomes visible only when complete."""
    directory = path.rsplit("/", 1)[0]
    fs.create_dir(directory, recursive=True)
    if not isinstance(fs, pafs.LocalFileSystem):
        with fs.open_output_stream(path) as stream:
            write(stream)
        return
    tmp = f"{directory}/.tmp-{uuid.uuid4().hex}"
    try:
        with fs.open_output_stream(tmp) as stream:
            write(stream)
        fs.move(tmp, path)
    except BaseException:
        if fs.get_file_info(tmp).type == pafs.FileType.File:
            fs.delete_file(tmp)
        raise


class Storage:
    """A folder on the local disk or under a URI (``s3://bucket/prefix``)."""

    def __init__(self, uri: str | os.PathLike[str]) -> None:
        text = str(uri)
        self.fs, self.root = open_filesystem(text)
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)
        self.uri = self.root if self.is_local else text.rstrip("/")

    def child(self, *parts: str) -> "Storage":
        return Storage("/".join([self.uri, *parts]))

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def read(self, *parts: str) -> bytes:
        with self.fs.open_input_stream(self.path(*parts)) as stream:
            return stream.read()

    def write(self, data: bytes, *parts: str) -> None:
        """Write a whole file (:func:`put_file`): readers never see half of it."""
        put_file(self.fs, self.path(*parts), lambda stream: stream.write(data))

    def list(self, *parts: str) -> list[str]:
        """File names directly under a folder (empty when it does not exist)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(*parts), allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.File and not i.base_name.startswith("."))
