"""The blocking read operations: download, stat and exists.

Reads take no lock: files are only ever replaced by rename, never changed in
place, so one open descriptor sees one complete version, and its ``fstat``
describes exactly those bytes.
"""

from __future__ import annotations

import errno
import os
import stat

from sessionstore.objects import ObjectInfo, StoredObject
from sessionstore_file.dirs import open_existing
from sessionstore_file.entries import explain
from sessionstore_file.paths import split_path
from sessionstore_file.versions import object_info

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
"""``O_NONBLOCK`` so a FIFO planted in the tree cannot hang the open."""


def missing(where: str) -> FileNotFoundError:
    """The error for an absent object at ``where``."""
    return FileNotFoundError(errno.ENOENT, "no such object", where)


def download(root: str, bucket: str, path: str, folds: bool) -> StoredObject:
    """The bytes of ``path`` and the info of that very version (``folds``: the
    volume folds names, see :mod:`sessionstore_file.folding`)."""
    parents, name = split_path(path)
    chain = open_existing(root, bucket, parents, folds=folds)
    if chain is None:
        raise missing(os.path.join(root, bucket, path))
    with chain:
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=chain.fd)
        except FileNotFoundError:
            raise missing(chain.where(name)) from None
        except OSError as error:
            raise explain(error, chain.fd, name, chain.where(name)) from None
        try:
            status = os.fstat(fd)
            if folds and chain.spelling(name, status.st_ino) != name:
                raise missing(chain.where(name))  # another object's spelling
        except BaseException:
            os.close(fd)
            raise
    try:
        if not stat.S_ISREG(status.st_mode):
            # A directory or special file is not an object.
            raise missing(os.path.join(root, bucket, path))
        data = _read_all(fd, status.st_size)
    finally:
        os.close(fd)
    return StoredObject(data=data, info=object_info(path, status))


def _read_all(fd: int, size: int) -> bytes:
    """Read the file of ``size`` bytes (by ``fstat``) to its end: objects are
    replaced, never changed in place, so one read that returns exactly ``size``
    bytes has it all; after any other first read (a file changed by someone
    else), read on until EOF."""
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    chunks = [data]
    want = size + 1 - len(data)
    while chunk := os.read(fd, max(want, 1 << 16)):
        chunks.append(chunk)
        want -= len(chunk)
    return b"".join(chunks)


def stat_object(root: str, bucket: str, path: str, folds: bool) -> ObjectInfo:
    """The info of the current version of ``path``."""
    status = _lstat(root, bucket, path, folds)
    if status is None:
        raise missing(os.path.join(root, bucket, path))
    return object_info(path, status)


def exists(root: str, bucket: str, path: str, folds: bool) -> bool:
    """Whether an object (a regular file, not a directory) is at ``path``."""
    return _lstat(root, bucket, path, folds) is not None


def _lstat(root: str, bucket: str, path: str, folds: bool) -> os.stat_result | None:
    parents, name = split_path(path)
    chain = open_existing(root, bucket, parents, folds=folds)
    if chain is None:
        return None
    with chain:
        return chain.object_status(name)
