"""Opening the directories of a path one level at a time, never through a symlink.

The root itself is trusted (it may be or contain a symlink the administrator
chose). The bucket directory and everything below it are opened relative to their
parent's file descriptor with ``O_NOFOLLOW``, so a symlink planted in the tree is
refused rather than followed, and a directory renamed or removed meanwhile cannot
redirect an operation elsewhere.

Directories are created with mode 0700, and their parent is fsynced at once so the
new entry survives a crash. Deleters remove a directory they emptied
while holding its lock (see :mod:`sessionstore_file.deleting`), so a writer may
find a directory gone under it: :class:`Raced` tells it to start again.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from types import TracebackType

from sessionstore_file.entries import explain

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""Opening a directory, never through a symlink."""
RACE_ATTEMPTS = 1000
"""How often an operation starts again after a concurrent delete removed its directory."""


class Raced(Exception):
    """A directory on the way was removed concurrently; start the operation again."""


def gave_up(where: str) -> OSError:
    """The error after :data:`RACE_ATTEMPTS` lost races (a directory kept vanishing)."""
    return OSError(
        errno.EAGAIN, f"directory kept being removed concurrently ({RACE_ATTEMPTS} attempts)", where
    )


def init_bucket(root: str, bucket: str) -> None:
    """Create the root and the bucket directory (mode 0700) unless they exist,
    durably, and check the bucket is a real directory."""
    os.makedirs(root, 0o700, exist_ok=True)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.mkdir(bucket, 0o700, dir_fd=root_fd)
        except FileExistsError:
            pass
        else:
            os.fsync(root_fd)
        os.close(_open_dir(root_fd, bucket, os.path.join(root, bucket)))  # only a check
    finally:
        os.close(root_fd)


class DirChain:
    """Open descriptors of the bucket directory and of each directory below it down
    to the one holding an object; closed together as a context manager.

    ``fds[0]`` is the bucket; ``fds[i]`` is ``names[i - 1]`` inside ``fds[i - 1]``.
    """

    def __init__(self, root: str, bucket: str) -> None:
        self.root = root
        self.bucket = bucket
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


def open_chain(root: str, bucket: str, names: Sequence[str], *, create: bool) -> DirChain:
    """Open the bucket directory and ``names`` below it, creating what is missing
    if ``create`` (bucket included).

    Raises :class:`FileNotFoundError` or :class:`NotADirectoryError` when a level
    is missing or a file, :class:`PermissionError` for a symlink, and
    :class:`Raced` when a directory vanished while being created.
    """
    chain = DirChain(root, bucket)
    try:
        chain.fds.append(_open_bucket(root, bucket, create=create))
        for name in names:
            fd = _open_subdir(chain, name, create=create)
            chain.names.append(name)
            chain.fds.append(fd)
    except BaseException:
        chain.close()
        raise
    return chain


def open_deepest(root: str, bucket: str, names: Sequence[str]) -> tuple[DirChain, list[str]]:
    """Open the bucket directory (creating it if missing) and as many of ``names``
    below it as exist; the chain and the names still missing, in order.

    Raises as :func:`open_chain` for a level that is a file or a symlink.
    """
    chain = DirChain(root, bucket)
    try:
        chain.fds.append(_open_bucket(root, bucket, create=True))
        for index, name in enumerate(names):
            try:
                fd = _open_subdir(chain, name, create=False)
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
    init_bucket(root, bucket)
    return os.open(path, DIR_FLAGS)


def open_existing(root: str, bucket: str, names: Sequence[str]) -> DirChain | None:
    """Like :func:`open_chain` without creating anything: ``None`` if a level is
    missing or not a directory (so nothing below it exists)."""
    try:
        return open_chain(root, bucket, names, create=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _open_subdir(chain: DirChain, name: str, *, create: bool) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=chain.fd)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as error:
        raise explain(error, chain.fd, name, chain.where(name)) from None
    try:
        os.mkdir(name, 0o700, dir_fd=chain.fd)
    except FileExistsError:
        pass  # made meanwhile by another writer
    except FileNotFoundError:
        raise Raced(chain.where(name)) from None  # the parent was removed meanwhile
    else:
        os.fsync(chain.fd)  # the new entry is durable before anything is written in it
    try:
        return _open_dir(chain.fd, name, chain.where(name))
    except FileNotFoundError:
        raise Raced(chain.where(name)) from None


def _open_dir(parent_fd: int, name: str, where: str) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as error:
        raise explain(error, parent_fd, name, where) from None
