"""Waits that must end: a stalled token endpoint, and a caller's deadline while a
request is in flight.

Both run against real servers: fake-gcs-server behind :class:`FaultProxy` (a
stalled or trickling answer), and a token endpoint that accepts connections and
never answers (:func:`silent_server`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from emulators.faults import Fault, FaultProxy, silent_server
from sessionstore import SessionStore, StorageUnavailableError

StoreFactory = Callable[..., SessionStore]
KeyFactory = Callable[[str], dict[str, str]]

pytestmark = pytest.mark.anyio

PAYLOAD = {"blob": "x" * 48 * 1024}
"""A 48 KiB session: a trickling server takes minutes over it."""


@pytest.fixture
def faults(gcs_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(gcs_endpoint) as proxy:
        yield proxy


# -- token refresh ---------------------------------------------------------------------


async def test_a_stalled_token_endpoint_is_bounded_and_stalls_no_other_store(
    make_store: StoreFactory, service_account_key: KeyFactory, tmp_path: Path
) -> None:
    """The token refresh ran synchronously on fsspec's IO loop with google-auth's
    120 s timeout: the operation took 120 s despite ``read_timeout``, and every
    other store on that loop (other GCS stores, and s3fs's) froze with it. Now
    it ends within the store's own timeouts, and the other store keeps working."""
    other = make_store()  # anonymous, on the same fsspec loop
    await other.store_session("s", {"a": 1})
    with silent_server() as token_server:
        key = service_account_key(f"{token_server}/token")
        path = tmp_path / "key.json"
        path.write_text(json.dumps(key))
        stalled = make_store(token=str(path), connect_timeout=1.0, read_timeout=1.0, retries=0)
        latencies: list[float] = []
        failure: list[BaseException] = []
        elapsed = 0.0

        async def load_stalled() -> None:
            nonlocal elapsed
            started = time.monotonic()
            try:
                with anyio.fail_after(30):
                    await stalled.load_session("s")
            except Exception as error:
                failure.append(error)
            elapsed = time.monotonic() - started

        async with anyio.create_task_group() as group:
            group.start_soon(load_stalled)
            await anyio.sleep(0.05)
            while not failure:
                started = time.monotonic()
                assert await other.load_session("s") == {"a": 1}
                latencies.append(time.monotonic() - started)
                await anyio.sleep(0.02)
        assert 0.9 <= elapsed < 3, elapsed
        assert isinstance(failure[0], StorageUnavailableError), failure
        assert "credentials" in str(failure[0])
        assert "PRIVATE KEY" not in str(failure[0])
        assert len(latencies) >= 5
        assert max(latencies) < 0.5, latencies
        await stalled.aclose()
    await other.aclose()


async def test_a_deadline_ends_a_token_refresh_promptly(
    make_store: StoreFactory, service_account_key: KeyFactory
) -> None:
    with silent_server() as token_server:
        store = make_store(
            token=service_account_key(f"{token_server}/token"), read_timeout=10, retries=0
        )
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.2):
                await store.load_session("s")
        assert time.monotonic() - started < 1.0  # was 120 s
        await store.aclose()


# -- deadlines and cancellation mid-request ---------------------------------------------


@pytest.mark.parametrize("fault", [Fault.STALL, Fault.STALL_RESPONSE, Fault.SLOW])
async def test_a_deadline_ends_a_request_in_flight(
    make_store: StoreFactory, faults: FaultProxy, fault: Fault
) -> None:
    """A caller's deadline waited for the request: up to (retries + 1) x
    read_timeout on a silent server, and without any bound on one that trickles
    its answer (each read arrives within read_timeout). Now the request is
    cancelled on fsspec's loop within ~0.1 s, the caller gets its own
    TimeoutError, and the store works once the server does."""
    faults.slow_chunk, faults.slow_delay = 256, 0.3  # ~1 KiB/s: 48 KiB in ~1 min
    store = make_store(endpoint_url=faults.url, read_timeout=5, retries=1)
    await store.store_session("s", PAYLOAD)
    faults.set(fault)
    for operation in (
        lambda: store.load_session("s"),
        lambda: store.store_session("s", PAYLOAD),
        lambda: store.list_sessions(),
    ):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.3):
                await operation()
        assert time.monotonic() - started < 1.2  # 0.3 s and a poll; was 10 s to 59 s
    faults.clear()
    assert await store.load_session("s") == PAYLOAD
    await store.aclose()


async def test_cancelling_a_scope_ends_a_request_in_flight(
    make_store: StoreFactory, faults: FaultProxy
) -> None:
    store = make_store(endpoint_url=faults.url, read_timeout=5, retries=1)
    await store.store_session("s", {"a": 1})
    faults.set(Fault.STALL)
    async with anyio.create_task_group() as group:
        group.start_soon(store.load_session, "s")
        await anyio.sleep(0.2)
        started = time.monotonic()
        group.cancel_scope.cancel()
    assert time.monotonic() - started < 1.0  # was ~10 s
    faults.clear()
    assert await store.load_session("s") == {"a": 1}
    await store.aclose()


def test_asyncio_own_timeout_ends_a_request_in_flight(
    make_store: StoreFactory, faults: FaultProxy
) -> None:
    """``asyncio.wait_for`` cancels as asyncio does, which anyio's check in the
    worker never sees: the caller waited for the stalled server."""

    async def main() -> None:
        store = make_store(endpoint_url=faults.url, read_timeout=5, retries=1)
        await store.store_session("s", {"a": 1})
        faults.set(Fault.STALL)
        started = time.monotonic()
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):  # one class from 3.11
            await asyncio.wait_for(store.load_session("s"), 0.3)
        assert time.monotonic() - started < 1.5  # the stalled server: 10 s and more
        faults.clear()
        assert await store.load_session("s") == {"a": 1}
        await store.aclose()

    asyncio.run(main())


async def test_a_shielded_operation_is_not_cut_short(
    make_store: StoreFactory, faults: FaultProxy
) -> None:
    """Cancellation reaches the request only through the caller's scopes: a
    shielded operation (as the core shields a purge's deletes) still finishes."""
    faults.slow_chunk, faults.slow_delay = 1024, 0.05
    store = make_store(endpoint_url=faults.url, read_timeout=5, retries=0)
    await store.store_session("s", {"a": 1})
    faults.set(Fault.SLOW)
    with anyio.CancelScope() as outer:
        outer.cancel()
        with anyio.CancelScope(shield=True):
            assert await store.load_session("s") == {"a": 1}
    faults.clear()
    await store.aclose()
