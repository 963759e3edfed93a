"""Atomic, durable replacement of one file inside an open directory.

The bytes go to a new temporary file in the same directory (``.tmp-<random hex>``:
hidden from listings, and short whatever the target's length), which is fsynced
and renamed over the target, then the directory is fsynced. A crash at any moment
leaves the old file or the new one, never a torn one; at worst a stale temporary
file remains, which deleting the directory's objects clears.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress

from sessionstore_file.races import Raced

TEMP_PREFIX = ".tmp-"
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_STAMP_ATTEMPTS = 12
"""Steps growing x10 up to 10 s: enough for any file system's mtime granularity."""


def replace_file(
    dir_fd: int, name: str, data: bytes, replaces_mtime_ns: int | None
) -> os.stat_result:
    """Make ``name`` in ``dir_fd`` a new file holding ``data``; return its status.

    The caller holds the directory's lock, so ``replaces_mtime_ns`` (the mtime of
    the file being replaced, if any) is current: the new file's mtime is set past it.
    Raises :class:`Raced` if the directory was removed before the lock was taken.
    """
    temp = temp_name()
    try:
        fd = os.open(temp, _CREATE_FLAGS, 0o600, dir_fd=dir_fd)
    except FileNotFoundError:
        raise Raced(temp) from None  # the directory was removed: nothing can be created in it
    try:
        try:
            _write_all(fd, data)
            status = _stamp(fd, replaces_mtime_ns)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)
    return status


def temp_name() -> str:
    """A new hidden temporary name: :data:`TEMP_PREFIX` and 16 random hex digits."""
    return TEMP_PREFIX + os.urandom(8).hex()


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written < len(data):  # rare: a signal or a full disk cut the write short
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def _stamp(fd: int, replaces_mtime_ns: int | None) -> os.stat_result:
    """The new file's status, its mtime past ``replaces_mtime_ns`` so tokens never
    repeat.

    The time the kernel stamped at the write usually is past it already; it is
    coarse (a clock tick), though, so when it is not, or when there is no replaced
    version to compare with (a deleted one may have had the same inode and size),
    the times are set to now, or just after ``replaces_mtime_ns`` if the clock has
    not passed it. File systems may round the time down; the step grows until it
    sticks.
    """
    status = os.fstat(fd)
    if replaces_mtime_ns is not None and status.st_mtime_ns > replaces_mtime_ns:
        return status
    now = time.time_ns()
    if replaces_mtime_ns is None:
        os.utime(fd, ns=(now, now))
        return os.fstat(fd)
    when, step = max(now, replaces_mtime_ns + 1), 1
    for _ in range(_STAMP_ATTEMPTS):
        os.utime(fd, ns=(when, when))
        status = os.fstat(fd)
        if status.st_mtime_ns > replaces_mtime_ns:
            return status
        when, step = when + step, step * 10
    raise OSError(f"could not set a file time later than {replaces_mtime_ns} ns")
