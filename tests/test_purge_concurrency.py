"""purge_expired works on several sessions at a time, and never leaves one half
purged when it stops: observed at the file backend's thread offloads (each of its
operations is one ``anyio.to_thread.run_sync``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from sessionstore import SessionStore
from sessionstore.testing.backend_tests import FakeClock


async def expired_sessions(root: Path, fake_clock: FakeClock, count: int) -> SessionStore:
    store = SessionStore(backend="file", root=root)
    for index in range(count):
        await store.store_session(f"s{index:02d}", {"i": index}, ttl=1)
        await store.store_session(f"s{index:02d}", {}, "checkpoint.json")
    await store.store_session("live", {}, ttl=3600)
    fake_clock.advance(2)
    return store


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_purge_works_on_up_to_concurrency_sessions_at_a_time(
    tmp_path: Path, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    store = await expired_sessions(tmp_path, fake_clock, 12)
    real_run_sync = anyio.to_thread.run_sync
    in_flight, most = 0, 0

    async def slowed_run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await anyio.sleep(0.01)  # long enough for every worker to start one
            return await real_run_sync(function, *args, **kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(anyio.to_thread, "run_sync", slowed_run_sync)
    purged: list[str] = []
    count = await store.purge_expired(concurrency=concurrency, on_purged=purged.append)
    assert most == concurrency
    assert count == 12
    assert sorted(purged) == [f"s{index:02d}" for index in range(12)]
    assert await store.list_sessions() == ["live"]


async def test_invalid_concurrency_is_refused(tmp_path: Path) -> None:
    store = SessionStore(backend="file", root=tmp_path)
    await store.store_session("s", {}, ttl=1)
    with pytest.raises(ValueError, match="concurrency"):
        await store.purge_expired(concurrency=0)


async def test_a_cancelled_purge_still_deletes_the_checkpoints_of_a_session_it_began(
    tmp_path: Path, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while deleting a session's state.json, after the storage acted (as
    an HTTP client is when the answer is on its way), the purge still deletes its
    checkpoints: nothing would find them again without their state.json."""
    from sessionstore_file import deleting

    store = await expired_sessions(tmp_path, fake_clock, 1)
    real_run_sync, real_delete = anyio.to_thread.run_sync, deleting.delete
    scope = anyio.CancelScope()
    state_deleted = False

    def noting_delete(*args: Any) -> Any:
        nonlocal state_deleted
        result = real_delete(*args)
        state_deleted = not (tmp_path / "sessions" / "s00" / "state.json").exists()
        return result

    async def cancelling_run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = await real_run_sync(function, *args, **kwargs)
        if state_deleted and not scope.cancel_called:
            scope.cancel()
            await anyio.lowlevel.checkpoint()  # where the cancellation arrives
        return result

    monkeypatch.setattr(deleting, "delete", noting_delete)
    monkeypatch.setattr(anyio.to_thread, "run_sync", cancelling_run_sync)
    with scope:
        await store.purge_expired(concurrency=1)
    assert scope.cancelled_caught
    assert not (tmp_path / "sessions" / "s00").exists()
    assert await store.list_files("s00") == []


class Fatal(BaseException):
    """Stands for KeyboardInterrupt or SystemExit, which a test cannot raise in a task."""


async def test_a_fatal_exception_in_one_worker_wins_over_an_error_in_another(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    """Ctrl-C in one worker while another's callback fails must stay Ctrl-C, not
    become the other's ordinary error."""
    store = await expired_sessions(tmp_path, fake_clock, 2)
    both_in = anyio.Event()
    started = 0

    async def failing(session_id: str) -> None:
        nonlocal started
        started += 1
        with anyio.CancelScope(shield=True):
            if started == 1:
                await both_in.wait()
                raise ValueError("an ordinary failure")
            both_in.set()
            await anyio.sleep(0.05)  # raises after the other's failure
            raise Fatal("interrupted")

    with pytest.raises(Fatal, match="interrupted"):
        await store.purge_expired(dry_run=True, on_purged=failing, concurrency=2)
