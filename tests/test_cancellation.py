"""Cancellation, timeouts and unusual loop use, on every local backend, on asyncio
and trio: a cancelled call re-raises the cancellation and leaves every file whole,
and a store is not bound to one task or one event loop."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from sessionstore import SessionStore, StorageUnavailableError
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
