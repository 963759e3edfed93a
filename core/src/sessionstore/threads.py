"""A backend's thread hop that no cancellation abandons.

A cancelled write must have taken place wholly or not at all by the time the
call returns, so that loading the file tells which. ``anyio.to_thread.run_sync``
keeps its worker's result under anyio's cancel scopes, but asyncio's own
cancellation (``task.cancel()``, ``asyncio.timeout``, ``asyncio.wait_for``, Ctrl-C
under ``asyncio.run``) passes through: the call returned while the thread went
on, and a write landed after the caller had seen it cancelled. An
``update_session`` retried then applied its change twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Callable
from typing import TypeVar

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

    @functools.wraps(func)  # hops are told apart by name in tests and tracebacks
    def work() -> T:
        if not finished.set_running_or_notify_cancel():
            raise concurrent.futures.CancelledError  # the caller left before it began
        _this_thread.caller = caller
        try:
            return func(*args)
        finally:
            _this_thread.caller = None
            finished.set_result(None)

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
