"""Cancellation, timeouts and unusual loop use, on every local backend, on asyncio
and trio: a cancelled call re-raises the cancellation and leaves every file whole,
and a store is not bound to one task or one event loop."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from sessionstore import ConflictError, SessionStore, StorageUnavailableError
from sessionstore.testing.backend_tests import FakeClock


async def test_a_call_in_a_cancelled_scope_is_cancelled_and_writes_nothing(
    store: SessionStore,
) -> None:
    await store.store_session("s", {"v": 1})
    with anyio.CancelScope() as scope:
        scope.cancel()
        await store.store_session("s", {"v": 2})
        pytest.fail("store_session went on in a cancelled scope")
    assert scope.cancelled_caught
    assert await store.load_session("s") == {"v": 1}


async def test_other_tasks_run_while_a_task_works_through_operations(
    store: SessionStore,
) -> None:
    # Each operation yields to the event loop, as a storage round trip does, so
    # a loop of them neither starves other tasks nor ignores a deadline.
    await store.store_session("s", {})
    ran = False

    async def other() -> None:
        nonlocal ran
        ran = True

    async with anyio.create_task_group() as group:
        group.start_soon(other)
        for _ in range(100):  # trio may run a batch of ready tasks in either order
            await store.load_session("s")
            if ran:
                break
        assert ran


async def test_a_deadline_ends_a_loop_of_operations(store: SessionStore) -> None:
    await store.store_session("s", {"n": 0})
    written = 0

    def increment(state: dict[str, Any] | None) -> dict[str, Any]:
        assert state is not None
        return {"n": state["n"] + 1}

    with anyio.move_on_after(0.05) as scope:
        while written < 100_000:  # bounded, so that a store ignoring it fails, not hangs
            await store.update_session("s", increment)
            written += 1
    assert scope.cancelled_caught
    loaded: dict[str, Any] | None = await store.load_session("s")
    assert loaded is not None
    # Cancelled before or after its write, never halfway: one more at most.
    assert loaded["n"] in (written, written + 1)


async def test_an_error_while_a_deadline_cancels_a_purge_is_raised_not_swallowed(
    tmp_path: Path, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge is cancelled (as by a deadline) while it deletes session ``a``
    (shielded, so that goes on) and the other worker is cancelled; then deleting
    ``a``'s checkpoint fails. The failure must reach the caller, who would not
    know the session is half-deleted otherwise: the cancellation beside it in the
    task group must not hide it."""
    store = SessionStore(backend="file", root=tmp_path)
    await store.store_session("a", {}, ttl=1)
    for index in range(20):
        await store.store_session(f"b{index:02d}", {}, ttl=3600)
    # A symlink where a checkpoint should be: the file backend refuses it.
    os.symlink(tmp_path / "elsewhere", tmp_path / "sessions" / "a" / "checkpoint.json")
    fake_clock.advance(2)
    real_run_sync = anyio.to_thread.run_sync
    scope = anyio.CancelScope()

    async def cancelling_run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if args[2:3] == ("a/",):  # listing a's files, after its state.json is gone
            await anyio.sleep(0.05)  # shielded: the other worker is cancelled meanwhile
        result = await real_run_sync(function, *args, **kwargs)
        if args[2:3] == (["a/state.json"],):
            scope.cancel()
        return result

    monkeypatch.setattr(anyio.to_thread, "run_sync", cancelling_run_sync)
    with pytest.raises(StorageUnavailableError, match="symlink"), scope:
        await store.purge_expired(concurrency=2)


async def test_breaking_out_of_iter_sessions_leaves_nothing_to_finalise(
    store: SessionStore,
) -> None:
    # trio warns (ResourceWarning) about each async generator dropped unfinished.
    for index in range(3):
        await store.store_session(f"s{index}", {})
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async for session_id in store.iter_sessions(page_size=2):
            seen.append(session_id)
            break
        gc.collect()
        await anyio.lowlevel.checkpoint()  # where trio would close a dropped generator
    assert seen == ["s0"]
    assert [str(warning.message) for warning in caught] == []


async def test_iter_sessions_closes_early_and_stops(store: SessionStore) -> None:
    for index in range(3):
        await store.store_session(f"s{index}", {})
    async with aclosing(store.iter_sessions(page_size=1)) as ids:
        assert [await anext(ids), await anext(ids)] == ["s0", "s1"]
        await ids.aclose()
        assert [session_id async for session_id in ids] == []
    ids = store.iter_sessions()
    assert await ids.asend(None) == "s0"
    with pytest.raises(KeyError):
        await ids.athrow(KeyError("stop"))
    assert [session_id async for session_id in ids] == []
    assert [session_id async for session_id in store.iter_sessions(page_size=1)] == [
        "s0",
        "s1",
        "s2",
    ]


def test_a_store_serves_successive_event_loops(store: SessionStore) -> None:
    """A command line tool or a test suite may call ``anyio.run`` again and again,
    on either library, with one store: it holds nothing bound to one loop."""

    async def bump() -> dict[str, Any]:
        async with store:
            state = await store.update_session(
                "s", lambda state: {"n": (state or {"n": 0})["n"] + 1}
            )
            assert [session_id async for session_id in store.iter_sessions()] == ["s"]
            return state

    assert [anyio.run(bump, backend=name)["n"] for name in ["asyncio", "trio"] * 2] == [1, 2, 3, 4]


Operation = Callable[[SessionStore], Awaitable[object]]


def _update(state: dict[str, Any] | None) -> dict[str, Any]:
    return {"v": 2}


OPERATIONS: dict[str, Operation] = {
    "store_session": lambda store: store.store_session("s", {"v": 2}),
    "update_session": lambda store: store.update_session("s", _update),
    "touch_session": lambda store: store.touch_session("s", ttl=3600),
    "delete_session": lambda store: store.delete_session("s"),
    "delete_one_file": lambda store: store.delete_session("s", "state.json"),
    "purge_expired": lambda store: store.purge_expired(),
}


BOTH = ["checkpoint.json", "state.json"]
EXPECTED: dict[str, list[tuple[dict[str, Any] | None, list[str]]]] = {
    "store_session": [({"v": 1}, BOTH), ({"v": 2}, BOTH)],
    "update_session": [({"v": 1}, BOTH), ({"v": 2}, BOTH)],
    "touch_session": [({"v": 1}, BOTH)],
    "delete_session": [({"v": 1}, BOTH), (None, [])],  # one batch: all or nothing
    "delete_one_file": [({"v": 1}, BOTH), (None, ["checkpoint.json"])],
    "purge_expired": [(None, BOTH), (None, [])],  # expired, then purged whole
}
"""What a cancelled call may leave: (the state loaded, the session's files)."""


def _hidden_names(root: Path) -> list[str]:
    """Names starting with a dot below ``root``: the file backend's temporary files."""
    return [path.name for path in root.rglob(".*")]


async def _cancel_after_hop(
    root: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, name: str, stop: int
) -> bool:
    """Run the operation ``name`` cancelled at its ``stop``-th thread hop and check
    what it left; whether it was cancelled (``False``: it made fewer hops)."""
    store = SessionStore(backend="file", root=root)
    await store.store_session("s", {"v": 1}, ttl=1)
    await store.store_session("s", {"c": 1}, "checkpoint.json")
    if name == "purge_expired":
        fake_clock.advance(2)
    real_run_sync = anyio.to_thread.run_sync
    hops = 0
    scope = anyio.CancelScope()

    async def cancelling_run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        if hops == stop:
            scope.cancel()  # arrives as the hop starts: after the one before it
        return await real_run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", cancelling_run_sync)
    with scope:
        await OPERATIONS[name](store)
    monkeypatch.setattr(anyio.to_thread, "run_sync", real_run_sync)
    if not scope.cancelled_caught:
        return False
    with anyio.fail_after(10):  # a lock left held would hang here
        state = await store.load_session("s")
        files = await store.list_files("s")
        await store.store_session("t", {})
        await store.delete_session("t")
    assert _hidden_names(root) == [], stop
    assert (state, files) in EXPECTED[name], (stop, state, files)
    return True


@pytest.mark.parametrize("name", OPERATIONS)
async def test_cancelled_at_any_thread_hop_the_files_are_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, name: str
) -> None:
    """Cancelled at each of the file backend's thread hops in turn (where a
    cancellation reaches it), the call raises the cancellation and leaves every
    file whole and unlocked: the old state or the new, no temporary file."""
    for stop in range(1, 20):
        if not await _cancel_after_hop(tmp_path / str(stop), monkeypatch, fake_clock, name, stop):
            break  # the call ended before its stop-th hop: every hop was tried
    else:
        pytest.fail(f"{name} made more thread hops than the test tries")
    assert stop > 1


async def test_update_session_gives_up_without_a_last_back_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its last attempt, ``update_session`` raises at once, not after one
    more back-off (up to 0.25 s). Seen without timing: the scope is cancelled as
    the last write fails, so a back-off would be cancelled, hiding the error."""
    store = SessionStore(backend="file", root=tmp_path)
    await store.store_session("s", {"n": 0})

    async def meddle(state: dict[str, Any] | None) -> dict[str, Any]:
        await store.store_session("s", {"n": -1})  # another writer gets in between
        return {"n": 1}

    real_run_sync = anyio.to_thread.run_sync
    scope = anyio.CancelScope()
    writes = 0

    async def cancel_at_the_last_write(
        function: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        nonlocal writes
        try:
            return await real_run_sync(function, *args, **kwargs)
        finally:
            if function.__name__ == "upload":
                writes += 1
                if writes == 4:  # the second attempt's write (each meddles first)
                    scope.cancel()

    monkeypatch.setattr(anyio.to_thread, "run_sync", cancel_at_the_last_write)
    with pytest.raises(ConflictError, match="2 attempts"), scope:
        await store.update_session("s", meddle, max_attempts=2)


def test_a_write_cancelled_by_asyncio_itself_has_landed_when_the_call_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``task.cancel()`` (and so ``asyncio.timeout``, ``wait_for``, Ctrl-C under
    ``asyncio.run``) passes through anyio's shield: the call used to return while
    its thread went on writing, so a load right after saw the old state, and an
    update retried on that evidence applied its change twice."""
    from sessionstore_file import writing

    real_upload = writing.upload
    writing_now = threading.Event()

    def slow_upload(*args: Any) -> Any:
        writing_now.set()
        time.sleep(0.2)  # a write the cancellation arrives in the middle of
        return real_upload(*args)

    async def main() -> None:
        store = SessionStore(backend="file", root=tmp_path)
        await store.store_session("s", {"v": "old"})
        monkeypatch.setattr(writing, "upload", slow_upload)
        task = asyncio.create_task(store.store_session("s", {"v": "new"}))
        assert await anyio.to_thread.run_sync(writing_now.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await store.load_session("s") == {"v": "new"}  # the write finished first

    asyncio.run(main())
