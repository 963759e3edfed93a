"""Cancellation, timeouts and unusual loop use, on every local backend, on asyncio
and trio: a cancelled call re-raises the cancellation and leaves every file whole,
and a store is not bound to one task or one event loop."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sessionstore import SessionStore


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
