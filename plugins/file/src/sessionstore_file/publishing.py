"""Creating missing directories together with their first object, in one rename.

A new session's directory must never be visible without a file in it: a writer
killed between ``mkdir`` and its first rename would leave a session that lists
with no files. So the missing directories are built under a hidden temporary name
(``.tmp-<random hex>``, never listed) with the object inside, made durable, and
renamed into place at once, under the parent directory's lock (which deleters
also hold to remove a directory). If the directory exists by then (another writer
published it), the temporary tree is removed and the caller writes into the
existing directory instead, under its lock. A killed writer leaves at most a
hidden temporary directory, unlocked once the writer is gone, which a sweep
(:mod:`sessionstore_file.sweeping`) removes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress

from sessionstore_file.atomic import replace_file, temp_name
from sessionstore_file.dirs import DIR_FLAGS
from sessionstore_file.locking import LockBusy, lock_while_open, locked
from sessionstore_file.races import Raced


class Publication:
    """What an upload keeps between its attempts: a tree it built whose parent's
    lock was busy, still locked against sweeps, to be published by the next
    attempt instead of built again. :meth:`discard` it if there is none."""

    __slots__ = ("waiting",)

    def __init__(self) -> None:
        self.waiting: _Tree | None = None

    def discard(self) -> None:
        """Remove the tree waiting, if any, and close its descriptors."""
        tree, self.waiting = self.waiting, None
        if tree is not None:
            tree.discard()


def publish(
    parent_fd: int,
    missing: Sequence[str],
    name: str,
    data: bytes,
    publication: Publication | None = None,
) -> os.stat_result | None:
    """Make ``missing[0]/.../missing[-1]/name`` (holding ``data``) appear in
    ``parent_fd`` at once; its status, or ``None`` if ``missing[0]`` exists by now.

    Raises :class:`Raced` if ``parent_fd`` was removed meanwhile, and
    :class:`~sessionstore_file.locking.LockBusy` if the parent's lock is held (or,
    for an instant, a sweep's on the new tree): the tree is then kept in
    ``publication`` for :func:`resume`, or removed if there is none.
    """
    temp = temp_name()
    try:
        os.mkdir(temp, 0o700, dir_fd=parent_fd)
    except FileNotFoundError:
        raise Raced(temp) from None  # the parent directory was removed
    tree = _Tree(parent_fd, temp, missing, name)
    try:
        tree.parent_fd, tree.owns_parent = os.dup(parent_fd), True  # may outlive the caller's
        tree.fds.append(os.open(temp, DIR_FLAGS, dir_fd=parent_fd))
        lock_while_open(tree.fds[0])  # tells a sweep this tree is being built (see sweeping)
        for directory in missing[1:]:
            os.mkdir(directory, 0o700, dir_fd=tree.fds[-1])
            tree.fds.append(os.open(directory, DIR_FLAGS, dir_fd=tree.fds[-1]))
        tree.status = replace_file(tree.fds[-1], name, data, None)  # fsyncs file and folder
        for fd in tree.fds[:-1]:
            os.fsync(fd)  # each new entry is durable before the tree is published
    except BaseException:
        tree.discard()
        raise
    return _publish(tree, publication)


def resume(publication: Publication) -> os.stat_result | None:
    """Publish the tree ``publication`` keeps, as :func:`publish` would have."""
    tree, publication.waiting = publication.waiting, None
    assert tree is not None
    return _publish(tree, publication)


def _publish(tree: _Tree, publication: Publication | None) -> os.stat_result | None:
    try:
        # Under the parent's lock, which deleters hold to remove a directory: a rename
        # would silently replace an empty directory another writer holds. (Nobody
        # removes the parent meanwhile: the tree in it keeps it from being empty.)
        with locked(tree.parent_fd):
            published = not _exists(tree.parent_fd, tree.missing[0])
            if published:
                os.rename(
                    tree.temp,
                    tree.missing[0],
                    src_dir_fd=tree.parent_fd,
                    dst_dir_fd=tree.parent_fd,
                )
    except LockBusy:
        if publication is None:
            tree.discard()
        else:
            publication.waiting = tree
        raise
    except BaseException:
        tree.discard()
        raise
    if not published:
        tree.discard()
        return None
    try:
        os.fsync(tree.parent_fd)
    finally:
        tree.close()
    return tree.status


class _Tree:
    """A temporary tree being built or waiting to be published, and its open
    directories (the first one locked as long as it is open)."""

    __slots__ = ("fds", "missing", "name", "owns_parent", "parent_fd", "status", "temp")

    def __init__(self, parent_fd: int, temp: str, missing: Sequence[str], name: str) -> None:
        self.parent_fd = parent_fd
        """The caller's descriptor until we have our own copy (``owns_parent``)."""
        self.owns_parent = False
        self.temp = temp
        self.missing = missing
        self.name = name
        self.fds: list[int] = []
        self.status: os.stat_result | None = None

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        if self.owns_parent:
            self.owns_parent = False
            os.close(self.parent_fd)

    def discard(self) -> None:
        """Remove the tree, as far as it was built, and close its descriptors."""
        try:
            _remove_tree(self.parent_fd, self.temp, self.fds, self.missing[1:], self.name)
        finally:
            self.close()


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def _remove_tree(
    parent_fd: int, temp: str, fds: list[int], below: Sequence[str], name: str
) -> None:
    """Remove an unpublished temporary tree, as far as it was built."""
    if fds:
        with suppress(OSError):
            os.unlink(name, dir_fd=fds[-1])
    for depth in range(len(fds) - 1, 0, -1):
        with suppress(OSError):
            os.rmdir(below[depth - 1], dir_fd=fds[depth - 1])
    with suppress(OSError):
        os.rmdir(temp, dir_fd=parent_fd)
