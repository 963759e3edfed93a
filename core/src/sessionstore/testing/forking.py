"""Test helpers for fork safety: fork while another thread holds a lock, and fail,
rather than hang, when the child cannot finish.

A child that inherits a lock held by a thread of its parent waits for it forever
(see :mod:`sessionstore.forksafe`); these helpers turn that into a test failure
within a deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import anyio
import pytest

from sessionstore.store import SessionStore

__all__ = ["forked", "held_in_another_thread", "load_in_a_fork_while_held", "run_in_fork"]


class Lock(Protocol):
    """Anything used as ``with lock:``."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc_info: Any) -> Any: ...


@contextlib.contextmanager
def held_in_another_thread(lock: Lock, timeout: float = 5.0) -> Iterator[None]:
    """Inside the ``with`` block, another thread holds ``lock``; it lets go at the end."""
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            done.wait(timeout)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        assert held.wait(timeout), f"another thread could not take {lock!r} within {timeout} s"
        yield
    finally:
        done.set()
        thread.join(timeout)


@contextlib.contextmanager
def forked(function: Callable[[], object], timeout: float = 5.0) -> Iterator[None]:
    """Call ``function()`` in a forked child while the ``with`` block runs in the
    parent; at the end of the block, fail unless the child has returned within
    ``timeout`` seconds of the fork (plenty for a few operations, unless
    deadlocked). A child still running then is killed (SIGKILL); one that raises
    fails the test with the exception's ``repr``."""
    report_read, report_write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns of fork with threads: the point here
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: report a failure through the pipe, never return into pytest
        status = 1
        try:
            os.close(report_read)
            function()
            status = 0
        except BaseException as error:
            with contextlib.suppress(BaseException):
                os.write(report_write, repr(error).encode()[:4000])
        finally:
            os._exit(status)
    os.close(report_write)
    deadline = time.monotonic() + timeout
    try:
        try:
            yield
        finally:
            status = _wait(pid, deadline, timeout)
        with os.fdopen(report_read, "rb", closefd=False) as pipe:
            report = pipe.read().decode(errors="replace")
    finally:
        os.close(report_read)
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"the forked child failed (exit status {code}): {report or 'no report'}"


def run_in_fork(function: Callable[[], object], timeout: float = 5.0) -> None:
    """Call ``function()`` in a forked child and wait for it, as :func:`forked`."""
    with forked(function, timeout):
        pass


def load_in_a_fork_while_held(store: SessionStore, lock: Lock, anyio_backend: str) -> None:
    """Store a session, then fork while another thread holds ``lock`` (a backend's
    lock around building its clients, say): the child must load the session, with a
    lock of its own rather than the parent's, held forever. Closes the store."""
    anyio.run(store.store_session, "s", {"n": 1}, backend=anyio_backend)

    def load() -> None:
        assert anyio.run(store.load_session, "s", backend=anyio_backend) == {"n": 1}

    with held_in_another_thread(lock):
        run_in_fork(load)
    anyio.run(store.aclose, backend=anyio_backend)


def _wait(pid: int, deadline: float, timeout: float) -> int:
    """The child's wait status; it is killed, and the test fails, at ``deadline``."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child did not finish within {timeout} s: deadlocked?")
        time.sleep(0.005)
