"""Opening the directories of a path one level at a time, never through a symlink.

The root itself is trusted (it may be or contain a symlink the administrator
chose). The bucket directory and everything below it are opened relative to their
parent's file descriptor with ``O_NOFOLLOW``, so a symlink planted in the tree is
refused rather than followed, and a directory renamed or removed meanwhile cannot
redirect an operation elsewhere. On a volume that folds names, each name is also
checked to be stored as spelled (:mod:`sessionstore_file.folding`).

The bucket directory is created with mode 0700, and its parent is fsynced at once
so the new entry survives a crash; directories below it are published together
with their first object (:mod:`sessionstore_file.publishing`).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from functools import partial
from types import TracebackType

from sessionstore_file.entries import explain, lstat_object
from sessionstore_file.folding import FoldedName, folds_names, stored_as
from sessionstore_file.locking import BUSY, Busy, LockBusy

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""Opening a directory, never through a symlink."""


def init_bucket(root: str, bucket: str) -> bool | Busy:
    """Create the root and the bucket directory (mode 0700) unless they exist,
    durably, and check the bucket is a real directory; whether its volume folds
    names (see :func:`~sessionstore_file.folding.folds_names`), or
    :data:`~sessionstore_file.locking.BUSY` if the bucket's lock is held (calling
    it again is harmless)."""
    _make_bucket(root, bucket)
    fd = _open_bucket(root, bucket, create=False)
    try:
        return folds_names(fd)
    except LockBusy:
        return BUSY
    finally:
        os.close(fd)


def _make_bucket(root: str, bucket: str) -> None:
    os.makedirs(root, 0o700, exist_ok=True)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.mkdir(bucket, 0o700, dir_fd=root_fd)
        except FileExistsError:
            pass
        else:
            os.fsync(root_fd)
    finally:
        os.close(root_fd)


class DirChain:
    """Open descriptors of the bucket directory and of each directory below it down
    to the one holding an object; closed together as a context manager.

    ``fds[0]`` is the bucket; ``fds[i]`` is ``names[i - 1]`` inside ``fds[i - 1]``.
    ``folds``: the volume folds names, so each name is checked to be stored as spelled.
    """

    def __init__(self, root: str, bucket: str, folds: bool) -> None:
        self.root = root
        self.bucket = bucket
        self.folds = folds
        self.names: list[str] = []
        self.fds: list[int] = []

    @property
    def fd(self) -> int:
        """The deepest directory: the one holding the object."""
        return self.fds[-1]

    def where(self, *names: str) -> str:
        """The full path of ``names`` below the deepest directory, for messages
        (built only when one is needed)."""
        return os.path.join(self.root, self.bucket, *self.names, *names)

    def spelling(self, name: str, inode: int) -> str | None:
        """How the deepest directory spells the entry with ``inode`` that a lookup of
        ``name`` found: ``name`` itself on a volume that does not fold names, else
        as :func:`~sessionstore_file.folding.stored_as` says."""
        return stored_as(self.fd, name, inode) if self.folds else name

    def object_status(self, name: str) -> os.stat_result | None:
        """The status of the object ``name`` in the deepest directory, ``None`` if
        there is none: see :func:`~sessionstore_file.entries.lstat_object`. One a
        folding volume stores under another spelling is another object: ``None``."""
        status = lstat_object(self.fd, name, partial(self.where, name))
        if status is not None and self.folds and self.spelling(name, status.st_ino) != name:
            return None
        return status

    def linked(self, depth: int) -> bool:
        """Whether ``fds[depth]`` is still the directory its name leads to (not
        removed, nor replaced); reliable only while holding its lock."""
        opened = os.fstat(self.fds[depth])
        if depth == 0:
            return opened.st_nlink > 0
        try:
            current = os.stat(
                self.names[depth - 1], dir_fd=self.fds[depth - 1], follow_symlinks=False
            )
        except FileNotFoundError:
            return False
        return (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino)

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())

    def __enter__(self) -> DirChain:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_existing(root: str, bucket: str, names: Sequence[str], *, folds: bool) -> DirChain | None:
    """Open the bucket directory and ``names`` below it, creating nothing: ``None``
    if a level is missing, not a directory, or stored under another spelling on a
    folding volume (so nothing below it exists).

    Raises :class:`PermissionError` for a symlink.
    """
    chain = DirChain(root, bucket, folds)
    try:
        chain.fds.append(_open_bucket(root, bucket, create=False))
        for name in names:
            fd = _open_subdir(chain, name)
            chain.names.append(name)
            chain.fds.append(fd)
    except (FileNotFoundError, NotADirectoryError, FoldedName):
        chain.close()
        return None
    except BaseException:
        chain.close()
        raise
    return chain


def open_deepest(
    root: str, bucket: str, names: Sequence[str], *, folds: bool
) -> tuple[DirChain, list[str]]:
    """Open the bucket directory (creating it if missing) and as many of ``names``
    below it as exist; the chain and the names still missing, in order.

    Raises :class:`NotADirectoryError` for a level that is a file,
    :class:`PermissionError` for a symlink, and
    :class:`~sessionstore_file.folding.FoldedName` for one a folding volume stores
    under another spelling.
    """
    chain = DirChain(root, bucket, folds)
    try:
        chain.fds.append(_open_bucket(root, bucket, create=True))
        for index, name in enumerate(names):
            try:
                fd = _open_subdir(chain, name)
            except FileNotFoundError:
                return chain, list(names[index:])
            chain.names.append(name)
            chain.fds.append(fd)
    except BaseException:
        chain.close()
        raise
    return chain, []


def _open_bucket(root: str, bucket: str, *, create: bool) -> int:
    path = os.path.join(root, bucket)
    try:
        return os.open(path, DIR_FLAGS)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as error:
        raise explain(error, None, path, path) from None
    _make_bucket(root, bucket)
    return os.open(path, DIR_FLAGS)


def _open_subdir(chain: DirChain, name: str) -> int:
    """Open the directory ``name`` in the deepest one, checking its spelling on a
    folding volume (:class:`FileNotFoundError` if it was removed meanwhile)."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=chain.fd)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise explain(error, chain.fd, name, chain.where(name)) from None
    if chain.folds and (stored := chain.spelling(name, os.fstat(fd).st_ino)) != name:
        os.close(fd)
        if stored is None:
            raise FileNotFoundError(errno.ENOENT, "no such directory", chain.where(name))
        raise FoldedName(name, stored)
    return fd
