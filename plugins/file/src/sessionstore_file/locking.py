"""An exclusive ``flock`` on a directory, held around every change inside it, and
never waited for in a thread.

``flock`` locks belong to an open file description, so two opens of the same
directory exclude each other across threads and processes alike, and the kernel
releases the lock when its holder dies.

Every lock is tried without blocking (``LOCK_NB``). A worker thread that finds one
held raises :class:`LockBusy` before it has changed anything (or, for a delete,
after a step it records: :mod:`sessionstore_file.deleting`); the operation's
blocking routine turns that into the result :data:`BUSY`, and the hook waits for
the lock on the event loop, where the wait is cancellable and holds no thread
(:mod:`sessionstore_file.backend`). A thread blocked in ``flock`` could be neither:
a holder that is stopped (SIGSTOP, ``docker pause``, a debugger) would keep it, and
a deadline around the call, forever.
"""

from __future__ import annotations

import enum
import fcntl
import time
from types import TracebackType
from typing import Final


class Busy(enum.Enum):
    """The type of :data:`BUSY`."""

    BUSY = "busy"


BUSY: Final = Busy.BUSY
"""What a blocking routine returns when a lock it needs is held by someone else:
try again later (a result, so crossing back to the event loop costs no traceback)."""


class LockBusy(Exception):
    """A lock was held by someone else; raised inside a worker thread, where the
    operation's blocking routine catches it and returns :data:`BUSY`."""


SPIN = 0.01
"""Seconds a worker keeps trying a held lock before it hands the wait to the event
loop. Most holds are one durable write (~1 ms), and a few writers queue for one:
such a wait ends here, the lock taken soon after it is free, much as a blocking
``flock`` would (waiting on the loop with back-off from the first refusal left it
idle: 1,000 concurrent new sessions took 1.5-2x as long). A longer wait goes to
the loop, where it can be cancelled: a deadline is late by at most this."""
SPIN_STEPS = (0.00005, 0.0001, 0.0002, 0.0005)
"""Seconds between those tries, growing to the last."""


def try_lock(dir_fd: int) -> None:
    """Lock the open directory ``dir_fd`` exclusively, or raise :class:`LockBusy`
    if someone else holds it for longer than :data:`SPIN`."""
    give_up = 0.0
    tries = 0
    while True:
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            now = time.monotonic()
            give_up = give_up or now + SPIN
            if now >= give_up:
                raise LockBusy from None
        time.sleep(SPIN_STEPS[min(tries, len(SPIN_STEPS) - 1)])
        tries += 1


class locked:  # lower case, like contextlib.suppress: it reads as ``with locked(fd):``
    """Hold an exclusive lock on the open directory ``dir_fd`` for the ``with``
    block, or raise :class:`LockBusy` if someone else holds it (see :func:`try_lock`). A class
    rather than a generator: it runs on every write, in worker threads that share
    the GIL."""

    __slots__ = ("_fd",)

    def __init__(self, dir_fd: int) -> None:
        self._fd = dir_fd

    def __enter__(self) -> None:
        try_lock(self._fd)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


def lock_while_open(dir_fd: int) -> None:
    """Lock the open directory ``dir_fd`` exclusively until it is closed: how a
    writer marks a temporary folder it is still building (see :func:`is_abandoned`).
    Raises :class:`LockBusy` if a sweep holds it this instant to look at it."""
    try_lock(dir_fd)


def is_abandoned(dir_fd: int) -> bool:
    """Whether nobody holds the lock of ``dir_fd``; if so, it is now ours until
    ``dir_fd`` is closed."""
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
