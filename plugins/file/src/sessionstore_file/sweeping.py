"""The blocking sweep: remove what killed writers left in the bucket directory.

A writer killed while publishing a new session leaves a hidden ``.tmp-<hex>``
folder there (:mod:`sessionstore_file.publishing`); one killed while replacing an
object stored directly in the bucket directory leaves a ``.tmp-<hex>`` file.
Nothing else removes them (a session's folder clears its own leftovers when the
session is deleted: :mod:`sessionstore_file.deleting`).

A folder is abandoned when no writer holds its lock (a publisher holds it from
just after ``mkdir`` until its rename) and it is older than
:data:`GRACE_SECONDS`, which covers the instant between that ``mkdir`` and the
lock. A file is abandoned once the bucket directory's lock is ours: writers hold
it for as long as their temporary file exists. Symlinks and anything else named
like a temporary entry are left alone, and nothing is followed.

The files are removed first: if the bucket directory's lock is held, the sweep
returns :data:`~sessionstore_file.locking.BUSY` having removed nothing, and the
hook tries again from the event loop (:mod:`sessionstore_file.locking`).
"""

from __future__ import annotations

import os
import time

from sessionstore_file.atomic import TEMP_PREFIX
from sessionstore_file.dirs import DIR_FLAGS, DirChain, open_existing
from sessionstore_file.locking import BUSY, Busy, LockBusy, is_abandoned, locked

GRACE_SECONDS = 60.0


def sweep(root: str, bucket: str) -> int | Busy:
    """Remove the abandoned temporary entries of the bucket directory; how many,
    or :data:`~sessionstore_file.locking.BUSY` (none) if its lock is held."""
    chain = open_existing(root, bucket, (), folds=False)  # no name looked up below it
    if chain is None:
        return 0
    with chain:
        folders, files = [], []
        with os.scandir(chain.fd) as entries:
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.name)
                    elif entry.is_file(follow_symlinks=False):
                        files.append(entry.name)
        removed = 0
        if files:
            try:
                with locked(chain.fd):
                    for name in files:
                        try:
                            os.unlink(name, dir_fd=chain.fd)
                        except FileNotFoundError:
                            continue  # another sweep was first
                        removed += 1
            except LockBusy:
                return BUSY
        removed += sum(_remove_if_abandoned(chain, name) for name in folders)
        if removed:
            os.fsync(chain.fd)
    return removed


def _remove_if_abandoned(chain: DirChain, name: str) -> bool:
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=chain.fd)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return False  # published or swept meanwhile, or no longer a folder
    try:
        if not is_abandoned(fd):
            return False  # its writer is building it
        status = os.fstat(fd)
        if time.time() - status.st_mtime < GRACE_SECONDS:
            return False
        # Still that folder under that name: a publisher renames it before unlocking.
        try:
            current = os.lstat(name, dir_fd=chain.fd)
        except FileNotFoundError:
            return False
        if (current.st_dev, current.st_ino) != (status.st_dev, status.st_ino):
            return False
        _remove_contents(fd)
        os.rmdir(name, dir_fd=chain.fd)
        return True
    finally:
        os.close(fd)


def _remove_contents(dir_fd: int) -> None:
    """Empty the open folder ``dir_fd``, never following a symlink."""
    with os.scandir(dir_fd) as entries:
        children = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    for name, is_folder in children:
        if is_folder:
            child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            try:
                _remove_contents(child)
            finally:
                os.close(child)
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
