"""A :class:`threading.Lock` that a forked child always gets back unlocked, and a
:class:`ForkGate` that makes ``fork()`` wait until no thread is inside.

``fork()`` copies a lock as it is. If another thread held it at that moment, the
child's copy stays locked forever, since the thread that would release it does not
exist there, and the child's first ``with lock:`` hangs. Preloading web servers
(gunicorn ``--preload``) and :mod:`multiprocessing`'s fork start method fork while
a backend's worker threads may be in the middle of an operation. A lock inside a C
library cannot be swapped that way: a gate around the calls into it keeps forks
out of them instead.

One ``os.register_at_fork`` hook, registered once for this module, gives every live
:class:`ForkSafeLock` a new lock in the child. Registering a hook per lock would not
do: hooks can never be unregistered, and an app may build a store per request. Live
locks are kept in a :class:`weakref.WeakSet`, so a lock is forgotten with its owner.
"""

from __future__ import annotations

import os
import threading
import weakref

__all__ = ["ForkGate", "ForkSafeLock"]


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


class ForkGate:
    """Makes ``fork()`` wait until no thread is inside, for work in a C library
    whose own global locks a fork would copy half-held (SQLite's, for one: a
    child forked while another thread was inside SQLite hung at its first
    ``sqlite3.connect``).

    Threads pass through ``with gate:`` together, never waiting for each other.
    A fork made meanwhile waits until every thread inside has left, and holds new
    ones back until it is done; the child starts with the gate empty. Do not fork
    from inside the gate (the fork would wait for itself), nor nest two gates.
    """

    __slots__ = ("__weakref__", "_changed", "_forking", "_inside")

    def __init__(self) -> None:
        self._empty()
        _gates.add(self)

    def _empty(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._inside = 0
        self._forking = False

    def __enter__(self) -> None:
        with self._changed:
            while self._forking:
                self._changed.wait()
            self._inside += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._changed:
            self._inside -= 1
            if not self._inside:
                self._changed.notify_all()

    def _close_for_fork(self) -> None:
        """Before a fork: wait for the threads inside, and keep the gate's lock (so
        nobody enters) until :meth:`_reopen_after_fork`."""
        self._changed.acquire()
        self._forking = True
        while self._inside:
            self._changed.wait()

    def _reopen_after_fork(self) -> None:
        self._forking = False
        self._changed.notify_all()
        self._changed.release()

    def __repr__(self) -> str:
        return f"<ForkGate, {self._inside} thread(s) inside>"


_live: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()
"""Every ForkSafeLock not yet garbage-collected."""
_gates: weakref.WeakSet[ForkGate] = weakref.WeakSet()
"""Every ForkGate not yet garbage-collected."""
_closed: list[ForkGate] = []
"""The gates closed for the fork under way (strong references until it is done)."""


def _close_gates() -> None:
    _closed[:] = list(_gates)
    for gate in _closed:
        gate._close_for_fork()


def _reopen_gates_in_parent() -> None:
    for gate in reversed(_closed):
        gate._reopen_after_fork()
    _closed.clear()


def _unlock_all_in_child() -> None:
    """In a forked child: a new lock for every live ForkSafeLock, an empty gate for
    every ForkGate."""
    for lock in list(_live):
        lock._lock = threading.Lock()
    for gate in list(_gates):
        gate._empty()
    _closed.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(
        before=_close_gates,
        after_in_parent=_reopen_gates_in_parent,
        after_in_child=_unlock_all_in_child,
    )
