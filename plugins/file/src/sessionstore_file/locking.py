"""An exclusive ``flock`` on a directory, held around every change inside it.

``flock`` locks belong to an open file description, so two opens of the same
directory exclude each other across threads and processes alike, and the kernel
releases the lock when its holder dies.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def locked(dir_fd: int) -> Iterator[None]:
    """Hold an exclusive lock on the open directory ``dir_fd`` (blocking)."""
    fcntl.flock(dir_fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)
