"""bulk.for_each_session, what purge and copy work through a listing with: every
session once, page after page, ``concurrency`` at a time, the first error as it is."""

from __future__ import annotations

import tracemalloc
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from sessionstore import CopyReport, SessionPage, SessionStore, copy_sessions
from sessionstore.bulk import PAGE_SIZE, for_each_session

IDS = [f"s{index:02d}" for index in range(12)]


@pytest.fixture
async def store() -> SessionStore:
    store = SessionStore(backend="memory")
    for session_id in reversed(IDS):
        await store.store_session(session_id, {})
    return store


@pytest.mark.parametrize(("concurrency", "page_size"), [(1, 5), (4, 5), (4, 1000), (20, 1000)])
async def test_every_session_once_and_at_most_concurrency_at_a_time(
    store: SessionStore, concurrency: int, page_size: int
) -> None:
    seen: list[str] = []
    in_flight, most = 0, 0

    async def work(session_id: str) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await anyio.sleep(0.005)  # long enough for every worker to start one
        seen.append(session_id)
        in_flight -= 1

    await for_each_session(store, "", work, concurrency=concurrency, page_size=page_size)
    assert sorted(seen) == IDS
    assert most == min(concurrency, page_size, len(IDS))


async def test_only_sessions_with_the_prefix(store: SessionStore) -> None:
    await store.store_session("other", {})
    seen: list[str] = []

    async def work(session_id: str) -> None:
        seen.append(session_id)

    await for_each_session(store, "s0", work, concurrency=3)
    assert sorted(seen) == IDS[:10]


async def test_the_first_error_stops_the_work_and_is_raised_as_it_is(
    store: SessionStore,
) -> None:
    started: list[str] = []

    async def work(session_id: str) -> None:
        started.append(session_id)
        if session_id == "s03":
            raise KeyError(session_id)

    with pytest.raises(KeyError, match="s03"):
        await for_each_session(store, "", work, concurrency=1, page_size=5)
    assert started == IDS[:4]


async def test_concurrency_below_one_is_refused(store: SessionStore) -> None:
    async def work(session_id: str) -> None:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="concurrency"):
        await for_each_session(store, "", work, concurrency=0)


async def test_iteration_purge_and_copy_list_in_pages_of_page_size(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local store scans its whole folder per page, so every walk over the
    sessions asks for pages of PAGE_SIZE, not the 100 of a single page."""
    limits: list[int | None] = []
    list_page = SessionStore.list_sessions_page

    async def recording(self: SessionStore, *args: Any, **kwargs: Any) -> SessionPage:
        limits.append(kwargs.get("limit"))
        return await list_page(self, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "list_sessions_page", recording)
    assert [session_id async for session_id in store.iter_sessions()] == IDS
    await store.purge_expired()
    await copy_sessions(store, SessionStore(backend="memory"))
    assert limits == [PAGE_SIZE] * 3
    assert PAGE_SIZE >= 10_000


async def _walk_peak(sessions: int, walk: str) -> int:
    """Peak bytes traced while walking ``sessions`` sessions in pages of 1,000."""
    store = SessionStore(backend="memory")
    for index in range(sessions):
        await store.store_session(f"session-{index:06d}", {})

    async def nothing(_session_id: str) -> None:
        pass

    tracemalloc.start()
    try:
        if walk == "iter_sessions":
            async for _ in store.iter_sessions(page_size=1_000):
                pass
        else:
            await for_each_session(store, "", nothing, concurrency=4, page_size=1_000)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("walk", ["iter_sessions", "for_each_session"])
async def test_a_walk_holds_one_page_at_a_time(walk: str) -> None:
    # Holding the last page while the next is fetched would make four pages cost
    # about twice one page.
    one, four = await _walk_peak(1_000, walk), await _walk_peak(4_000, walk)
    assert four < 1.25 * one, (one, four)


async def test_copy_awaits_an_async_on_progress(store: SessionStore) -> None:
    """An ``async def`` on_progress was called and never awaited, so never ran."""
    reports: list[int] = []

    async def progress(report: CopyReport) -> None:
        await anyio.lowlevel.checkpoint()
        reports.append(report.files_copied)

    await copy_sessions(store, SessionStore(backend="memory"), concurrency=1, on_progress=progress)
    assert reports == list(range(1, len(IDS) + 1))
