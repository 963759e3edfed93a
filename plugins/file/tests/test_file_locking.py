"""A session whose lock another process holds (a writer that is slow, stopped by
SIGSTOP or ``docker pause``, or held in a debugger): waiting for it must hold no
thread, and a deadline or cancellation must end the wait at once. Real files, a
real holder process, no mocks."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from anyio.abc import Process

from sessionstore import SessionStore

BUCKET = "app"
DEADLINE = 0.5
LATE = 0.3
"""How long past its deadline a call may return: the hop under way when the
deadline passes finishes first (a write, or a look at a busy lock), and the
machine running the tests may be busy."""

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()  # hold the lock until told to let go (stdin closed)
"""


@asynccontextmanager
async def held_by_another_process(folder: Path) -> AsyncIterator[Process]:
    """Another process holding the ``flock`` of ``folder`` until the block ends (or
    until :func:`let_go`)."""
    holder = await anyio.open_process([sys.executable, "-c", HOLDER, os.fspath(folder)])
    try:
        assert holder.stdout is not None
        said = b""
        while not said.endswith(b"\n"):
            said += await holder.stdout.receive()
        assert said == b"held\n"
        yield holder
    finally:
        await let_go(holder)
        await holder.aclose()


async def let_go(holder: Process) -> None:
    """End the holder process, which releases its lock."""
    assert holder.stdin is not None
    await holder.stdin.aclose()
    await holder.wait()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SessionStore]:
    async with SessionStore(backend="file", bucket=BUCKET, root=tmp_path) as store:
        await store.store_session("locked", {"v": 0})
        await store.store_session("other", {"v": 0})
        yield store


def folder(tmp_path: Path, *names: str) -> Path:
    return tmp_path.joinpath(BUCKET, *names)


def _bump(state: dict[str, Any] | None) -> dict[str, Any]:
    return {"v": (state or {"v": 0})["v"] + 1}


WRITES: dict[str, Callable[[SessionStore], Awaitable[object]]] = {
    "store": lambda store: store.store_session("locked", {"v": 1}),
    "update": lambda store: store.update_session("locked", _bump),
    "delete": lambda store: store.delete_session("locked"),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
async def test_a_deadline_ends_the_wait_for_a_lock_another_process_holds(
    store: SessionStore, tmp_path: Path, write: Callable[[SessionStore], Awaitable[object]]
) -> None:
    session = folder(tmp_path, "locked")
    before = {path.name: path.read_bytes() for path in session.iterdir()}
    async with held_by_another_process(session):
        start = time.perf_counter()
        with pytest.raises(TimeoutError), anyio.fail_after(DEADLINE):
            await write(store)
        took = time.perf_counter() - start
        assert DEADLINE <= took < DEADLINE + LATE
        assert {path.name: path.read_bytes() for path in session.iterdir()} == before
    assert await store.load_session("locked") == {"v": 0}


async def test_a_waiting_write_lands_once_the_holder_lets_go(
    store: SessionStore, tmp_path: Path
) -> None:
    async with held_by_another_process(folder(tmp_path, "locked")) as holder:
        async with anyio.create_task_group() as group:
            group.start_soon(store.update_session, "locked", _bump)
            await anyio.sleep(0.3)
            assert await store.load_session("locked") == {"v": 0}  # still waiting
            with anyio.fail_after(5):
                await let_go(holder)
        assert await store.load_session("locked") == {"v": 1}


async def test_waiting_writers_hold_no_thread(store: SessionStore, tmp_path: Path) -> None:
    """50 writers wait for the lock (more than anyio's 40 default threads): other
    sessions, and the application's own thread work, go on meanwhile."""
    async with (
        held_by_another_process(folder(tmp_path, "locked")) as holder,
        anyio.create_task_group() as group,
    ):
        for value in range(50):
            group.start_soon(store.store_session, "locked", {"v": value + 1})
        await anyio.sleep(0.3)
        start = time.perf_counter()
        with anyio.fail_after(2):
            assert await store.load_session("other") == {"v": 0}
            await store.store_session("other", {"v": 1})
            await anyio.to_thread.run_sync(lambda: None)
        assert time.perf_counter() - start < 1.0  # was ~5 s: every thread waited in flock
        assert await store.load_session("locked") == {"v": 0}
        with anyio.fail_after(10):
            await let_go(holder)
    assert (await store.load_session("locked") or {}).get("v") in range(1, 51)


async def test_creating_a_session_waits_for_the_bucket_lock_without_a_trace(
    store: SessionStore, tmp_path: Path
) -> None:
    """A new session's folder is published under the bucket directory's lock: while
    another process holds that, a deadline ends the write and no temporary folder
    is left; once it lets go, the write lands."""
    bucket = folder(tmp_path)
    before = sorted(os.listdir(bucket))
    async with held_by_another_process(bucket) as holder:
        start = time.perf_counter()
        with pytest.raises(TimeoutError), anyio.fail_after(DEADLINE):
            await store.store_session("new", {"v": 1})
        assert time.perf_counter() - start < DEADLINE + LATE
        assert sorted(os.listdir(bucket)) == before
        async with anyio.create_task_group() as group:
            group.start_soon(store.store_session, "new", {"v": 2})
            await anyio.sleep(0.1)
            with anyio.fail_after(5):
                await let_go(holder)
    assert await store.load_session("new") == {"v": 2}
    assert sorted(os.listdir(bucket)) == sorted([*before, "new"])


async def test_a_folder_made_while_a_new_session_waits_is_written_into(
    store: SessionStore, tmp_path: Path
) -> None:
    """The writer built the new session's folder and waits to publish it; meanwhile
    the folder appears (made by hand here): once the lock is free, the writer
    writes into that folder and removes its own."""
    bucket = folder(tmp_path)
    async with held_by_another_process(bucket) as holder, anyio.create_task_group() as group:
        group.start_soon(store.store_session, "new", {"v": 1})
        await anyio.sleep(0.2)
        assert any(name.startswith(".tmp-") for name in os.listdir(bucket))  # built
        (bucket / "new").mkdir(mode=0o700)
        with anyio.fail_after(5):
            await let_go(holder)
    assert await store.load_session("new") == {"v": 1}
    assert sorted(os.listdir(bucket)) == ["locked", "new", "other"]
