"""purge_expired works page by page: the memory it holds does not grow with the
number of sessions (measured with tracemalloc on the memory backend)."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta
from typing import Any

import pytest

from sessionstore import SessionStore
from sessionstore.bulk import PAGE_SIZE
from sessionstore.testing.backend_tests import FakeClock


async def purge_peak(sessions: int, fake_clock: FakeClock, **options: Any) -> int:
    """Bytes allocated at the peak of a purge of ``sessions`` (half expired), with
    ``options`` for ``purge_expired``."""
    store = SessionStore(backend="memory")
    async with store:
        for index in range(sessions):
            ttl = timedelta(minutes=1 if index % 2 else 60)
            await store.store_session(f"s{index:06d}", {"i": index}, ttl=ttl)
        fake_clock.advance(120)
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            purged = await store.purge_expired(**options)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        assert purged == sessions // 2
        assert len(await store.list_sessions()) == sessions - purged
    return peak


async def test_purge_memory_stays_flat(fake_clock: FakeClock) -> None:
    # Pages of 1,000 here, so that ten pages fit a quick test (the default page,
    # PAGE_SIZE, holds 10,000: see the 100k test below).
    small = await purge_peak(1_000, fake_clock, page_size=1_000)
    large = await purge_peak(10_000, fake_clock, page_size=1_000)
    # Holding every id would grow ten-fold; pages of 1,000 keep it near constant.
    assert large < 4 * small, (small, large)


@pytest.mark.slow
async def test_purge_of_100k_sessions_holds_under_2_mb(fake_clock: FakeClock) -> None:
    assert PAGE_SIZE < 100_000  # ten pages or more, at the default page size
    assert await purge_peak(100_000, fake_clock) < 2_000_000
