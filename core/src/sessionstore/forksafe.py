"""A :class:`threading.Lock` that a forked child always gets back unlocked.

``fork()`` copies a lock as it is. If another thread held it at that moment, the
child's copy stays locked forever, since the thread that would release it does not
exist there, and the child's first ``with lock:`` hangs. Preloading web servers
(gunicorn ``--preload``) and :mod:`multiprocessing`'s fork start method fork while
a backend's worker threads may be in the middle of an operation.

One ``os.register_at_fork`` hook, registered once for this module, gives every live
:class:`ForkSafeLock` a new lock in the child. Registering a hook per lock would not
do: hooks can never be unregistered, and an app may build a store per request. Live
locks are kept in a :class:`weakref.WeakSet`, so a lock is forgotten with its owner.
"""

from __future__ import annotations

import os
import threading
import weakref

__all__ = ["ForkSafeLock"]


class ForkSafeLock:
    """A non-reentrant lock, used as ``with lock:``, that is unlocked in a forked child.

    The child's new lock is made by an ``after_in_child`` fork hook, which runs
    before ``fork()`` returns in the child, while the child has one thread only: no
    thread can be waiting for or holding the new lock, so swapping it is not racy.
    Data the lock guards is copied as it was, possibly half-changed by a thread
    that was inside the lock. Do not fork while the forking thread itself holds
    the lock: leaving the ``with`` block in the child would release the new,
    unlocked lock, and raise :class:`RuntimeError`.
    """

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        _live.add(self)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """As :meth:`threading.Lock.acquire`."""
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        """As :meth:`threading.Lock.release`."""
        self._lock.release()

    def locked(self) -> bool:
        """Whether some thread holds the lock."""
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def __repr__(self) -> str:
        return f"<ForkSafeLock {'locked' if self.locked() else 'unlocked'}>"


_live: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()
"""Every ForkSafeLock not yet garbage-collected."""


def _unlock_all_in_child() -> None:
    """In a forked child: a new lock for every live ForkSafeLock."""
    for lock in list(_live):
        lock._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_unlock_all_in_child)
