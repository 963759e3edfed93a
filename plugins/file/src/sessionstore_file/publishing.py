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
from sessionstore_file.locking import lock_while_open, locked
from sessionstore_file.races import Raced


def publish(
    parent_fd: int, missing: Sequence[str], name: str, data: bytes
) -> os.stat_result | None:
    """Make ``missing[0]/.../missing[-1]/name`` (holding ``data``) appear in
    ``parent_fd`` at once; its status, or ``None`` if ``missing[0]`` exists by now.

    Raises :class:`Raced` if ``parent_fd`` was removed meanwhile, and
    :class:`~sessionstore_file.locking.LockBusy` if the parent's lock is held (or,
    for an instant, a sweep's on the new tree), having removed the temporary tree.
    """
    temp = temp_name()
    try:
        os.mkdir(temp, 0o700, dir_fd=parent_fd)
    except FileNotFoundError:
        raise Raced(temp) from None  # the parent directory was removed
    fds = [os.open(temp, DIR_FLAGS, dir_fd=parent_fd)]
    try:
        lock_while_open(fds[0])  # tells a sweep this tree is being built (see sweeping)
        for directory in missing[1:]:
            os.mkdir(directory, 0o700, dir_fd=fds[-1])
            fds.append(os.open(directory, DIR_FLAGS, dir_fd=fds[-1]))
        status = replace_file(fds[-1], name, data, None)  # fsyncs the file and its folder
        for fd in fds[:-1]:
            os.fsync(fd)  # each new entry is durable before the tree is published
        # Under the parent's lock, which deleters hold to remove a directory: a rename
        # would silently replace an empty directory another writer holds.
        with locked(parent_fd):
            published = not _exists(parent_fd, missing[0])
            if published:
                os.rename(temp, missing[0], src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
        if not published:
            _remove_tree(parent_fd, temp, fds, missing[1:], name)
            return None
    except BaseException:
        _remove_tree(parent_fd, temp, fds, missing[1:], name)
        raise
    finally:
        for fd in fds:
            os.close(fd)
    os.fsync(parent_fd)
    return status


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
    with suppress(OSError):
        os.unlink(name, dir_fd=fds[-1])
    for depth in range(len(fds) - 1, 0, -1):
        with suppress(OSError):
            os.rmdir(below[depth - 1], dir_fd=fds[depth - 1])
    with suppress(OSError):
        os.rmdir(temp, dir_fd=parent_fd)
