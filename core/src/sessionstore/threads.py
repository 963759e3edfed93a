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
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

T = TypeVar("T")


async def run_blocking(func: Callable[..., T], *args: object) -> T:
    """``func(*args)`` in a worker thread, as ``anyio.to_thread.run_sync`` runs it,
    returning or raising only once it has finished, however the caller is
    cancelled; a caller cancelled meanwhile gets the cancellation, not the result.
    Use it for each hook's one thread hop."""
    finished: concurrent.futures.Future[None] = concurrent.futures.Future()

    @functools.wraps(func)  # hops are told apart by name in tests and tracebacks
    def work() -> T:
        if not finished.set_running_or_notify_cancel():
            raise concurrent.futures.CancelledError  # the caller left before it began
        try:
            return func(*args)
        finally:
            finished.set_result(None)

    try:
        result = await anyio.to_thread.run_sync(work)
    except asyncio.CancelledError:
        # Only asyncio's own cancellation gets here with the work under way (anyio's
        # and trio's wait for it above); work not yet begun is called off instead.
        if not finished.cancel():
            await _outwait(finished)
        raise
    # Cancelled while the work ran: raise that now, as the caller's deadline asks
    # (``fail_after`` raises TimeoutError only for a cancellation it caught).
    await anyio.lowlevel.checkpoint_if_cancelled()
    return result


async def _outwait(finished: concurrent.futures.Future[None]) -> None:
    """Wait, on asyncio, for ``finished``, through any further cancellation."""
    done = asyncio.wrap_future(finished)
    with anyio.CancelScope(shield=True):
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                continue  # cancelled again: still waiting for the thread
