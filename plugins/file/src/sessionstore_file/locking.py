"""An exclusive ``flock`` on a directory, held around every change inside it.

``flock`` locks belong to an open file description, so two opens of the same
directory exclude each other across threads and processes alike, and the kernel
releases the lock when its holder dies.
"""

from __future__ import annotations

import fcntl
from types import TracebackType


class locked:  # lower case, like contextlib.suppress: it reads as ``with locked(fd):``
    """Hold an exclusive lock on the open directory ``dir_fd`` (blocking) for the
    ``with`` block. A class rather than a generator: it runs on every write, in
    worker threads that share the GIL."""

    __slots__ = ("_fd",)

    def __init__(self, dir_fd: int) -> None:
        self._fd = dir_fd

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


def lock_while_open(dir_fd: int) -> None:
    """Lock the open directory ``dir_fd`` exclusively until it is closed: how a
    writer marks a temporary folder it is still building (see :func:`is_abandoned`)."""
    fcntl.flock(dir_fd, fcntl.LOCK_EX)


def is_abandoned(dir_fd: int) -> bool:
    """Whether nobody holds the lock of ``dir_fd``; if so, it is now ours until
    ``dir_fd`` is closed."""
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
