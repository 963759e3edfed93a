"""Many tasks at once: ``store_session`` of distinct sessions, and ``update_session``
increments of shared counters (ten tasks per session), each against the same work
done in sequence. Every task must complete and no write or update may be lost."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from benchmarks.figures import Results
from benchmarks.measure import median
from benchmarks.profiles import LOOPS, Profile
from benchmarks.workloads import SMALL, make_state
from sessionstore import SessionStore

PER_SESSION = 10
"""update_session tasks contending for each session."""
ROUNDS = 3
"""Rounds on the local backends; the emulators, at ~100x the time per operation, get one."""


def _increment(state: dict[str, Any] | None) -> dict[str, Any]:
    return {"count": (state or {}).get("count", 0) + 1}


async def _concurrently(jobs: list[Callable[[], Awaitable[object]]]) -> tuple[float, int]:
    """Run every job as its own task; the time taken and how many failed."""
    failed = 0

    async def guarded(job: Callable[[], Awaitable[object]]) -> None:
        nonlocal failed
        try:
            await job()
        except Exception:
            failed += 1

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for job in jobs:
            group.start_soon(guarded, job)
    return time.perf_counter() - start, failed


async def _in_sequence(jobs: list[Callable[[], Awaitable[object]]]) -> float:
    start = time.perf_counter()
    for job in jobs:
        await job()
    return time.perf_counter() - start


async def measure(
    results: Results, prefix: str, store: SessionStore, tasks: int, loop: str, rounds: int = ROUNDS
) -> None:
    """Record ``<prefix>.concurrent_store/_update/.lost.<loop>`` for ``store``: the
    median over ``rounds`` of concurrent ÷ sequential throughput, and every problem."""
    state = make_state(SMALL)
    sessions = max(1, tasks // PER_SESSION)
    problems = 0
    store_ratios, update_ratios = [], []
    for round_index in range(rounds):
        tag = f"{loop}-{round_index}"

        def stores(kind: str, tag: str = tag) -> list[Callable[[], Awaitable[object]]]:
            return [
                lambda index=index: store.store_session(  # type: ignore[misc]
                    f"{kind}-{tag}-{index}", {**state, "n": index}
                )
                for index in range(tasks)
            ]

        def updates(kind: str, tag: str = tag) -> list[Callable[[], Awaitable[object]]]:
            return [
                lambda index=index: store.update_session(  # type: ignore[misc]
                    f"{kind}-{tag}-{index % sessions}", _increment
                )
                for index in range(tasks)
            ]

        together, failed = await _concurrently(stores("store-c"))
        problems += failed
        alone = await _in_sequence(stores("store-s"))
        store_ratios.append(alone / together)
        for index in range(tasks):
            loaded = await store.load_session(f"store-c-{tag}-{index}")
            problems += loaded is None or loaded.get("n") != index

        together, failed = await _concurrently(updates("update-c"))
        problems += failed
        alone = await _in_sequence(updates("update-s"))
        update_ratios.append(alone / together)
        counted = 0
        for index in range(sessions):
            loaded = await store.load_session(f"update-c-{tag}-{index}")
            counted += 0 if loaded is None else loaded["count"]
        problems += tasks - counted  # lost updates (never negative: each adds one)
    results.record(f"{prefix}.concurrent_store.{loop}", median(store_ratios), f"{tasks} tasks")
    results.record(f"{prefix}.concurrent_update.{loop}", median(update_ratios), f"{tasks} tasks")
    results.record(f"{prefix}.concurrent.lost.{loop}", problems)


async def _local(results: Results, profile: Profile, scratch: Path, loop: str) -> None:
    await measure(
        results,
        "file",
        SessionStore(backend="file", root=scratch / loop),
        profile.concurrent_local,
        loop,
    )
    await measure(results, "memory", SessionStore(backend="memory"), profile.concurrent_local, loop)


def run(results: Results, profile: Profile, scratch: Path) -> None:
    for loop in LOOPS:
        anyio.run(_local, results, profile, scratch, loop, backend=loop)
