"""run_blocking returns only once its thread has finished, however the caller is
cancelled: asyncio's own cancellation included, which passes through anyio's
shield (a write then landed after the caller had seen it cancelled)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

import anyio
import pytest

from sessionstore.threads import caller_cancelled, run_blocking, run_on_loop

WORK = 0.2
"""How long the blocking work takes: long enough for a cancellation to arrive."""


def slow_work(started: threading.Event, log: list[str]) -> str:
    started.set()
    time.sleep(WORK)
    log.append("finished")
    return "result"


async def started_in_a_thread(started: threading.Event) -> None:
    assert await anyio.to_thread.run_sync(started.wait, 10), "the work never started"


def cancelled_by_asyncio(
    work: Callable[[threading.Event, list[str]], str], cancels: int = 1
) -> list[str]:
    """Run ``work`` through run_blocking in an asyncio task, cancel the task
    (``cancels`` times) once the work has started, and return the work's log as
    it stood when the task's CancelledError arrived."""

    async def main() -> list[str]:
        started, log = threading.Event(), list[str]()
        task = asyncio.create_task(run_blocking(work, started, log))
        await started_in_a_thread(started)
        for _ in range(cancels):
            task.cancel()
            await asyncio.sleep(WORK / 10)
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(log)

    return asyncio.run(main())


async def test_the_result_and_errors_come_back_as_they_are() -> None:
    assert await run_blocking(divmod, 7, 2) == (3, 1)
    with pytest.raises(ZeroDivisionError):
        await run_blocking(divmod, 1, 0)


async def test_a_cancel_scope_waits_for_the_work() -> None:
    started, log = threading.Event(), list[str]()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run_blocking, slow_work, started, log)
            await started_in_a_thread(started)
            scope.cancel()
    assert log == ["finished"]


async def test_a_deadline_passed_during_the_work_is_raised_once_it_is_done() -> None:
    """The work's result came back after the deadline, and ``fail_after`` raised
    nothing: it raises only for a cancellation its body met."""
    started, log = threading.Event(), list[str]()
    with pytest.raises(TimeoutError):
        with anyio.fail_after(WORK / 4):
            await run_blocking(slow_work, started, log)
    assert log == ["finished"]


def test_asyncio_task_cancel_waits_for_the_work() -> None:
    assert cancelled_by_asyncio(slow_work) == ["finished"]


def test_asyncio_cancelling_again_still_waits_for_the_work() -> None:
    assert cancelled_by_asyncio(slow_work, cancels=3) == ["finished"]


def test_asyncio_wait_for_waits_for_the_work_then_times_out() -> None:
    async def main() -> None:
        started, log = threading.Event(), list[str]()
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):  # one class from 3.11
            await asyncio.wait_for(run_blocking(slow_work, started, log), WORK / 4)
        assert log == ["finished"]

    asyncio.run(main())


async def test_work_cancelled_before_it_began_never_runs() -> None:
    log: list[str] = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        await run_blocking(log.append, "ran")
    assert scope.cancelled_caught
    await anyio.sleep(WORK / 4)  # time for a worker to have run it, had it been queued
    assert log == []


def test_asyncio_cancelling_work_waiting_for_a_thread_calls_it_off() -> None:
    async def main() -> None:
        log: list[str] = []
        limiter = anyio.to_thread.current_default_thread_limiter()
        started, held = threading.Event(), list[str]()
        first = asyncio.create_task(run_blocking(slow_work, started, held))
        await started_in_a_thread(started)
        limiter.total_tokens = 1  # the first holds the one thread: the second waits
        try:
            second = asyncio.create_task(run_blocking(log.append, "ran"))
            await asyncio.sleep(WORK / 10)
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            assert not first.done(), "the second should have been waiting for a thread"
            await first
        finally:
            limiter.total_tokens = 40
        await asyncio.sleep(WORK / 4)
        assert log == []

    asyncio.run(main())


def stoppable_work(started: threading.Event, log: list[str]) -> str:
    """Work that stops as soon as its caller is cancelled, as an abortable request does."""
    started.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if caller_cancelled():
            log.append("stopped")
            return "stopped"
        time.sleep(0.005)
    log.append("ran to the end")
    return "ended"


async def test_work_learns_its_caller_was_cancelled_by_a_scope() -> None:
    started, log = threading.Event(), list[str]()
    with anyio.move_on_after(WORK / 4):
        await run_blocking(stoppable_work, started, log)
    assert log == ["stopped"]


def test_work_learns_its_caller_was_cancelled_by_asyncio() -> None:
    assert cancelled_by_asyncio(stoppable_work) == ["stopped"]


async def test_caller_cancelled_is_false_outside_run_blocking() -> None:
    assert not caller_cancelled()
    assert not await anyio.to_thread.run_sync(caller_cancelled)
    assert await run_blocking(caller_cancelled) is False


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, as an async client's does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


async def test_run_on_loop_brings_back_the_result_or_the_error(
    other_loop: asyncio.AbstractEventLoop,
) -> None:
    async def answer(value: int) -> int:
        await asyncio.sleep(0)
        return value

    async def failure() -> None:
        raise ConnectionResetError("the server hung up")

    assert await run_blocking(run_on_loop, other_loop, answer, 42) == 42
    with pytest.raises(ConnectionResetError, match="hung up"):
        await run_blocking(run_on_loop, other_loop, failure)


async def test_a_cancelled_caller_cuts_the_task_on_the_other_loop_off(
    other_loop: asyncio.AbstractEventLoop,
) -> None:
    """A request on an async client's loop outlived its caller's deadline for as
    long as its timeouts allowed, and forever against a trickling server."""
    ended = threading.Event()

    async def stalled() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            ended.set()

    started = time.monotonic()
    with anyio.move_on_after(WORK), pytest.raises(ConnectionAbortedError, match="cut off"):
        await run_blocking(run_on_loop, other_loop, stalled)  # the core raises the deadline
    assert time.monotonic() - started < WORK + 1
    assert ended.is_set()


async def test_an_uncancellable_wait_runs_to_the_end(
    other_loop: asyncio.AbstractEventLoop,
) -> None:
    done: list[str] = []

    async def closing() -> None:
        await asyncio.sleep(WORK)
        done.append("closed")

    with anyio.move_on_after(WORK / 4) as scope:
        await run_blocking(partial(run_on_loop, cancellable=False), other_loop, closing)
    assert scope.cancelled_caught  # raised once the work was done
    assert done == ["closed"]
