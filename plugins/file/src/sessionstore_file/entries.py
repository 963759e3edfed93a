"""What a name inside an open directory is, found without following symlinks.

A symlink anywhere below a bucket directory is refused with :class:`PermissionError`
naming it: following it could read or write outside the root. So is a FIFO, socket
or device inside a session's folder, when listed: the backend never makes one.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable


def symlink_refused(where: str) -> PermissionError:
    """The error for a symlink found at ``where``."""
    return PermissionError(
        errno.EACCES,
        "refusing to follow a symlink below the bucket directory (the file backend never does)",
        where,
    )


def special_file_refused(where: str) -> PermissionError:
    """The error for a FIFO, socket or device found at ``where``, where only
    objects and folders belong."""
    return PermissionError(
        errno.EACCES,
        "refusing a special file (FIFO, socket or device) inside a session's folder"
        " (the file backend never writes one; remove it)",
        where,
    )


def explain(error: OSError, dir_fd: int | None, name: str, where: str) -> OSError:
    """The error to raise for a failed ``O_NOFOLLOW`` open of ``name``: a
    :class:`PermissionError` if it is a symlink (platforms say ``ELOOP``,
    ``ENOTDIR`` or ``EMLINK``), else the same error naming the full path ``where``."""
    if error.errno != errno.ENOENT:
        try:
            found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            pass
        else:
            if stat.S_ISLNK(found.st_mode):
                return symlink_refused(where)
    return OSError(error.errno, error.strerror, where)


def lstat_object(dir_fd: int, name: str, where: Callable[[], str]) -> os.stat_result | None:
    """The status of the object file ``name``, or ``None`` if there is none (a
    directory or special file is not an object); a symlink is refused, naming the
    path ``where()`` gives (built only then)."""
    try:
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(found.st_mode):
        return found
    if stat.S_ISLNK(found.st_mode):
        raise symlink_refused(where())
    return None
