"""trio against asyncio on the same workloads: each round runs one batch under each
loop (``anyio.run``), in alternating order; the batch times itself inside the loop."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import anyio

from benchmarks.figures import Results
from benchmarks.measure import interleave, speed_ratio
from benchmarks.profiles import LOOPS, Profile
from benchmarks.workloads import SMALL, make_state
from sessionstore import SessionStore

Operation = Callable[[int], Awaitable[object]]


async def _batch(operation: Operation, count: int) -> float:
    await operation(0)  # warm: the first thread hop of a new loop starts its worker
    start = time.perf_counter()
    for index in range(count):
        await operation(index)
    return (time.perf_counter() - start) / count


def compare(results: Results, key: str, operation: Operation, count: int, rounds: int) -> None:
    """Record trio's ops/s ÷ asyncio's for ``operation`` (stores must not hold
    anything bound to one loop)."""
    samples = interleave(
        {loop: partial(anyio.run, _batch, operation, count, backend=loop) for loop in LOOPS},
        rounds,
    )
    results.record(key, speed_ratio(samples, "trio", "asyncio"))


def run(results: Results, profile: Profile, scratch: Path) -> None:
    state = make_state(SMALL)
    file_store = SessionStore(backend="file", root=scratch)
    memory_store = SessionStore(backend="memory")
    ids = [f"bench-{index}" for index in range(8)]

    async def file_store_op(index: int) -> object:
        return await file_store.store_session(ids[index % 8], state)

    async def file_load_op(index: int) -> object:
        return await file_store.load_session(ids[index % 8])

    async def memory_pair(index: int) -> object:
        await memory_store.store_session(ids[index % 8], state)
        return await memory_store.load_session(ids[index % 8])

    compare(
        results, "trio_vs_asyncio.file.store", file_store_op, profile.file_writes, profile.rounds
    )
    compare(results, "trio_vs_asyncio.file.load", file_load_op, profile.file_reads, profile.rounds)
    compare(
        results, "trio_vs_asyncio.memory.pair", memory_pair, profile.memory_pairs, profile.rounds
    )
