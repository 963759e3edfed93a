"""Thread hops for backends: blocking work in a worker thread, and an async
client's coroutines on that client's own loop, both following their caller.

:func:`run_blocking` returns only once its work has finished. A cancelled write
must have taken place wholly or not at all by the time the call returns, so that
loading the file tells which. ``anyio.to_thread.run_sync`` keeps its worker's
result under anyio's cancel scopes, but asyncio's own cancellation
(``task.cancel()``, ``asyncio.timeout``, ``asyncio.wait_for``, Ctrl-C under
``asyncio.run``) passes through: the call returned while the thread went on, and
a write landed after the caller had seen it cancelled. An ``update_session``
retried then applied its change twice.

:func:`run_on_loop`, called in such work, runs a coroutine on another thread's
loop (fsspec's, say) and cuts it off once :func:`caller_cancelled` says the caller
was cancelled, so that a deadline is met rather than waited out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

T = TypeVar("T")


async def run_blocking(func: Callable[..., T], *args: object) -> T:
    """``func(*args)`` in a worker thread, as ``anyio.to_thread.run_sync`` runs it,
    returning or raising only once it has finished, however the caller is
    cancelled; a caller cancelled meanwhile gets the cancellation, not the result.
    Use it for each hook's one thread hop."""
    finished: concurrent.futures.Future[None] = concurrent.futures.Future()
    caller = _Caller()

    def work() -> T:
        if not finished.set_running_or_notify_cancel():
            raise concurrent.futures.CancelledError  # the caller left before it began
        _this_thread.caller = caller
        try:
            return func(*args)
        finally:
            _this_thread.caller = None
            finished.set_result(None)

    # Hops are told apart by the work's name (tests count them). Not functools.wraps,
    # which copies five attributes on every operation: ~1 us of a ~40 us file load.
    work.__name__ = getattr(func, "__name__", work.__name__)
    try:
        result = await anyio.to_thread.run_sync(work)
    except asyncio.CancelledError:
        # Only asyncio's own cancellation gets here with the work under way (anyio's
        # and trio's wait for it above); work not yet begun is called off instead.
        if not finished.cancel():
            caller.cancelled = True
            await _outwait(finished)
        raise
    # Cancelled while the work ran: raise that now, as the caller's deadline asks
    # (``fail_after`` raises TimeoutError only for a cancellation it caught).
    await anyio.lowlevel.checkpoint_if_cancelled()
    return result


def caller_cancelled() -> bool:
    """In work :func:`run_blocking` runs: whether its caller has been cancelled
    since (by an anyio or trio cancel scope, or by asyncio's own cancellation), so
    that work able to stop early, such as a request it can abort, stops. ``False``
    in any other thread."""
    caller = getattr(_this_thread, "caller", None)
    if caller is None:
        return False
    if caller.cancelled:
        return True
    try:
        anyio.from_thread.check_cancelled()
    except RuntimeError:  # not a thread anyio started
        return False
    except BaseException:  # the loop's own cancellation class, asyncio's or trio's
        return True
    return False


ASK_EVERY = 0.05
"""Seconds between two looks, by :func:`run_on_loop`, at the caller."""
WIND_DOWN = 1.0
"""Seconds a coroutine cancelled by :func:`run_on_loop` gets to end on its loop
(a task cancelled there ends at its next await) before the wait is given up."""


def run_on_loop(
    loop: asyncio.AbstractEventLoop,
    function: Callable[..., Coroutine[Any, Any, T]],
    *args: object,
    cancellable: bool = True,
) -> T:
    """In work :func:`run_blocking` runs: ``function(*args)`` as a task on another
    thread's event loop (an async client's, such as fsspec's), its result or its
    exception as raised.

    A cancelled caller (see :func:`caller_cancelled`) has the task cancelled on its
    loop, which aborts its request; once it has ended (or after :data:`WIND_DOWN`)
    this raises :class:`ConnectionAbortedError`, for which the core raises the
    caller's cancellation. Waiting for the request instead lasted as long as its
    timeouts allowed, and without end against a server trickling its answer.
    ``cancellable=False`` waits for the end whatever the caller does (to close a
    client). A task cancelled on its loop by others (a client closed meanwhile)
    raises :class:`ConnectionAbortedError` too."""
    ended = threading.Event()
    tasks: list[asyncio.Task[T]] = []

    def start() -> None:
        task = loop.create_task(function(*args))
        task.add_done_callback(lambda _: ended.set())
        tasks.append(task)

    loop.call_soon_threadsafe(start)
    while not ended.wait(ASK_EVERY):
        if cancellable and caller_cancelled():
            # Scheduled after start(), so the task is there by then.
            loop.call_soon_threadsafe(_abandon, tasks[0])
            ended.wait(WIND_DOWN)
            if not ended.is_set():
                raise ConnectionAbortedError("the request was cut off: its caller was cancelled")
            break  # over, cut off or of its own accord: its own outcome, below
    task = tasks[0]
    if task.cancelled():
        raise ConnectionAbortedError("the request was cut off: its task was cancelled")
    return task.result()


def _abandon(task: asyncio.Task[Any]) -> None:
    """On the task's loop: cancel it, retrieving its outcome (nobody else will),
    so that no failure is logged as never retrieved."""
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    task.cancel()


class _Caller:
    """What the work of one :func:`run_blocking` call knows of its caller."""

    cancelled = False  # by asyncio's own cancellation (anyio's scopes are asked)


_this_thread = threading.local()
"""The :class:`_Caller` of the work this thread runs, if any."""


async def _outwait(finished: concurrent.futures.Future[None]) -> None:
    """Wait, on asyncio, for ``finished``, through any further cancellation."""
    done = asyncio.wrap_future(finished)
    with anyio.CancelScope(shield=True):
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                continue  # cancelled again: still waiting for the thread
