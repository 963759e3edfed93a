"""Network faults between a store and each cloud emulator (:mod:`emulators.faults`).

Under each fault every operation fails with StorageUnavailableError within its
configured time (connect + read timeout per attempt, times the attempts, plus the
back-off and a margin): none hangs. Afterwards the bucket, read directly from the
server, holds only complete documents (the old state or the new one, never a torn
one), and the very same store object works again once the fault clears.

A throttled link (``SLOW``, pauses shorter than the read timeout) is not a fault:
there every operation must succeed, with the right data.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from emulators.faults import Fault, FaultProxy
from sessionstore import SessionStore, StorageUnavailableError, codec
from tests.reliability.conftest import Figures
from tests.reliability.targets import CLOUDS, Target, target_fixture

CONNECT_TIMEOUT = 2.0
"""No fault makes a connect hang (a refused one is reset at once), so this only
has to outlast a busy machine: at 0.5 s a loaded CI host timed out connecting to
the local proxy twice in a row."""
READ_TIMEOUT = 1.0
"""What a stall costs per attempt; long enough that a loaded host's pauses do not
fail the checks that must succeed once the fault clears (0.5 s did, now and then)."""
RETRIES = 1
BACKOFF = 1.0
"""The longest back-off before a retry: botocore's standard mode waits up to 1 s."""
MARGIN = 2.5
"""Scheduling slack on a busy machine."""
BOUND = (RETRIES + 1) * (CONNECT_TIMEOUT + READ_TIMEOUT) + RETRIES * BACKOFF + MARGIN

FAULTS = {
    "refuse": (Fault.REFUSE, 0.5),
    "stall": (Fault.STALL, 0.5),
    "cut-request": (Fault.CUT_REQUEST, 0.5),
    "cut-response": (Fault.CUT_RESPONSE, 0.5),
    "cut-after-status-line": (Fault.CUT_RESPONSE, 0.0),
    "stall-response": (Fault.STALL_RESPONSE, 0.5),
}
"""Each case: the fault, and where a cut falls (a fraction of the body, or of the
head of a bodiless answer; 0: right after the status line)."""
PAD = "x" * 16_384
"""Makes bodies long enough to be cut halfway through several TCP segments."""


def state(version: int) -> dict[str, Any]:
    return {"v": version, "pad": PAD}


async def _bump(current: dict[str, Any] | None) -> dict[str, Any]:
    return state((current or {"v": 0})["v"] + 1)


Operation = Callable[[SessionStore], Awaitable[Any]]
OPERATIONS: dict[str, Operation] = {
    "store": lambda s: s.store_session("op-store", state(2)),
    "load": lambda s: s.load_session("op-load"),
    "exists": lambda s: s.session_exists("op-exists"),
    "metadata": lambda s: s.get_session_metadata("op-metadata"),
    "list": lambda s: s.list_sessions(),
    "list files": lambda s: s.list_files("op-files"),
    "delete file": lambda s: s.delete_session("op-delete", "state.json"),
    "delete session": lambda s: s.delete_session("op-delete-all"),
    "update": lambda s: s.update_session("op-update", _bump),
}
SESSIONS = ["op-store", "op-load", "op-exists", "op-metadata", "op-files", "op-delete"]
SESSIONS += ["op-delete-all", "op-update"]


@pytest.fixture(params=CLOUDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    yield from target_fixture(request, tmp_path)


@pytest.fixture
def proxy(target: Target) -> Iterator[FaultProxy]:
    assert target.endpoint is not None
    with FaultProxy(target.endpoint) as proxy:
        yield proxy


def _store(target: Target, proxy: FaultProxy, **overrides: Any) -> SessionStore:
    options = {
        "connect_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "retries": RETRIES,
        **overrides,
    }
    return target.make_store(proxy.url, **options)


async def _prepare(store: SessionStore) -> None:
    for session_id in SESSIONS:
        await store.store_session(session_id, state(1))
    await store.store_session("op-files", state(1), "checkpoint.json")
    await store.store_session("op-delete-all", state(1), "checkpoint.json")


Outcome = tuple[BaseException | None, float, Any]
"""The error raised (or None), the seconds taken, the result (if no error)."""


async def _timed(name: str, operation: Operation, store: SessionStore, out: dict[str, Any]) -> None:
    started = time.monotonic()
    try:
        result = await operation(store)
    except Exception as error:
        out[name] = (error, time.monotonic() - started, None)
    else:
        out[name] = (None, time.monotonic() - started, result)


async def _run_all(store: SessionStore, fresh: SessionStore) -> dict[str, Outcome]:
    """Every operation at once (each times itself), so a fault costs one timeout;
    "first use" is a load by ``fresh``, a store that has not yet checked its bucket."""
    outcomes: dict[str, Any] = {}
    async with anyio.create_task_group() as group:
        for name, operation in OPERATIONS.items():
            group.start_soon(_timed, name, operation, store, outcomes)
        group.start_soon(_timed, "first use", _first_use, fresh, outcomes)
    return outcomes


async def _first_use(store: SessionStore) -> Any:
    return await store.load_session("op-load")


async def _check_bucket(target: Target, prefix: str) -> None:
    """Read directly from the server: every object under ``prefix`` is a whole
    document, and each session holds its old state or its new one."""
    for name in await target.names():
        if not name.startswith(f"{prefix}/"):
            continue
        data = await target.read(name)
        assert data is not None, name
        document = codec.decode(data, name)  # raises on a torn document
        assert document.state in (state(1), state(2)), name


async def _check_recovered(store: SessionStore) -> None:
    """The same store object does everything right once the fault is gone."""
    await store.store_session("op-store", state(3))
    assert await store.load_session("op-store") == state(3)
    assert await store.load_session("op-load") == state(1)
    assert await store.session_exists("op-exists")
    assert await store.get_session_metadata("op-metadata") is not None
    assert {"op-load", "op-store"} <= set(await store.list_sessions())
    assert await store.list_files("op-files") == ["checkpoint.json", "state.json"]
    await store.delete_session("op-delete", "state.json")
    assert not await store.session_exists("op-delete")
    await store.delete_session("op-delete-all")
    assert await store.list_files("op-delete-all") == []
    updated = await store.update_session("op-update", _bump)
    assert updated["v"] in (2, 3)
    assert await store.load_session("op-update") == updated


async def _check_answer(name: str, result: Any, store: SessionStore) -> None:
    """An operation that succeeded although its answer was cut (the server had
    acted, and the client had what it needed) must have returned the truth."""
    if name == "store":
        read = await store.load_session_with_metadata("op-store")
        assert read is not None
        assert read == (state(2), result)
    elif name == "load":
        assert result == state(1)
    elif name == "exists":
        assert result is True
    elif name == "metadata":
        read = await store.load_session_with_metadata("op-metadata")
        assert read is not None
        assert (result.version, result.size) == (read[1].version, read[1].size)
    elif name == "list":
        assert set(result) == set(await store.list_sessions())
    elif name == "list files":
        assert result == ["checkpoint.json", "state.json"]
    elif name == "delete file":
        assert result is True
        assert not await store.session_exists("op-delete")
    elif name == "delete session":
        assert result is True
        assert await store.list_files("op-delete-all") == []
    elif name == "update":
        assert result == state(2) == await store.load_session("op-update")
    elif name == "first use":
        assert result == state(1)
    else:
        raise AssertionError(name)


async def _run_case(target: Target, proxy: FaultProxy, case: str, figures: Figures) -> None:
    """Under the fault each operation raises StorageUnavailableError within BOUND
    seconds (under a cut answer it may instead succeed with the true result: the
    server acted); nothing torn is stored; the same store works once it clears.
    The case's store keeps its sessions under the prefix ``case``."""
    fault, proxy.cut_fraction = FAULTS[case]
    store = _store(target, proxy, prefix=case)
    fresh = _store(target, proxy, prefix=case)
    try:
        await _prepare(store)
        proxy.set(fault)
        outcomes = await _run_all(store, fresh)
        proxy.clear()
        for name, (error, seconds, _) in outcomes.items():
            figures.record(
                "faults",
                f"{target.kind} {case} {name}",
                outcome=type(error).__name__ if error else "ok",
                seconds=round(seconds, 2),
                bound=round(BOUND, 2),
            )
        failures = {
            name: f"{type(error).__name__}: {error}" if error else "no error"
            for name, (error, _, _) in outcomes.items()
            if not isinstance(error, StorageUnavailableError)
            and not (error is None and fault is Fault.CUT_RESPONSE)
        }
        assert not failures, (case, failures)
        slow = {name: seconds for name, (_, seconds, _) in outcomes.items() if seconds > BOUND}
        assert not slow, f"{case}: over {BOUND:.1f} s: {slow}"
        await _check_bucket(target, case)
        for name, (error, _, result) in outcomes.items():
            if error is None:
                await _check_answer(name, result, store)
        await _check_recovered(store)
        assert await fresh.load_session("op-load") == state(1)
    finally:
        await store.aclose()
        await fresh.aclose()


async def _run_slow_link(target: Target, proxy: FaultProxy, figures: Figures) -> None:
    """Throttled to small pieces with pauses shorter than the read timeout, every
    operation completes with the right result (a read timeout is per read)."""
    store = _store(target, proxy, read_timeout=2.0, prefix="slow")
    fresh = _store(target, proxy, read_timeout=2.0, prefix="slow")
    try:
        await _prepare(store)
        proxy.set(Fault.SLOW)
        outcomes = await _run_all(store, fresh)
        for name, (error, seconds, _) in outcomes.items():
            figures.record(
                "faults",
                f"{target.kind} slow {name}",
                outcome=type(error).__name__ if error else "ok",
                seconds=round(seconds, 2),
            )
        assert {name: error for name, (error, _, _) in outcomes.items() if error} == {}
        assert await store.load_session("op-store") == state(2)
        assert await store.load_session("op-update") == state(2)
        assert await store.list_files("op-delete-all") == []
        proxy.clear()
        await _check_bucket(target, "slow")
    finally:
        await store.aclose()
        await fresh.aclose()


@pytest.mark.slow
@pytest.mark.parametrize("case", FAULTS)
async def test_fault_fails_fast_and_the_store_recovers(
    target: Target, proxy: FaultProxy, case: str, figures: Figures
) -> None:
    """The full matrix, one fault at a time: see :func:`_run_case`."""
    await _run_case(target, proxy, case, figures)


@pytest.mark.slow
async def test_slow_link_is_slow_but_right(
    target: Target, proxy: FaultProxy, figures: Figures
) -> None:
    """See :func:`_run_slow_link`."""
    await _run_slow_link(target, proxy, figures)


async def test_every_fault_at_once(
    target: Target, figures: Figures, request: pytest.FixtureRequest
) -> None:
    """The reduced campaign of the default suite: every fault case and the slow
    link at once, each through its own proxy and under its own prefix."""
    if request.config.getoption("--run-slow"):
        pytest.skip("the full matrix runs instead (test_fault_fails_fast_...)")
    assert target.endpoint is not None
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = 100  # every operation of every case in flight at once
    proxies = [FaultProxy(target.endpoint) for _ in range(len(FAULTS) + 1)]
    try:
        async with anyio.create_task_group() as group:
            for case, proxy in zip(FAULTS, proxies, strict=False):
                group.start_soon(_run_case, target, proxy, case, figures)
            group.start_soon(_run_slow_link, target, proxies[-1], figures)
    finally:
        for proxy in proxies:
            proxy.close()
