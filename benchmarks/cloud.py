"""The cloud backends on their emulators: overhead over the raw fsspec call, round
trips per operation counted at a proxy in front of the server, concurrency, and
trio against asyncio.

A server that cannot start leaves its figures unmeasured, with the reason; with
``CI=true`` that fails the run instead, as a missing server fails the tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import orjson

from benchmarks import concurrency, event_loops
from benchmarks.cloud_targets import Target, targets
from benchmarks.figures import PURGE_LATENCY_MS, ROUND_TRIP_GOALS, Results
from benchmarks.measure import ainterleave, time_ratio
from benchmarks.profiles import LOOPS, Profile
from benchmarks.workloads import SMALL, make_state
from emulators.proxy import Proxy

SESSIONS = 4
CHECKPOINTS = 4
"""Files besides state.json in the session that delete_session removes."""
PURGE_ROUNDS = 3
PURGE_TTL = 0.05
"""Seconds the purged sessions live: they have expired when the purge starts."""


async def _overhead(results: Results, profile: Profile, target: Target, loop: str) -> None:
    state = make_state(SMALL)
    store = target.store(target.server)
    ids = [f"bench-{loop}-{index}" for index in range(SESSIONS)]
    raw_paths = [f"{target.raw_root}/{session_id}/state.json" for session_id in ids]
    fs, count = target.fs, profile.cloud_ops
    for session_id, path in zip(ids, raw_paths, strict=True):
        await store.store_session(session_id, state)
        await anyio.to_thread.run_sync(fs.pipe_file, path, orjson.dumps(state))

    def read(path: str) -> Any:
        return orjson.loads(fs.cat_file(path))

    async def lib_store() -> float:
        start = time.perf_counter()
        for index in range(count):
            await store.store_session(ids[index % SESSIONS], state)
        return (time.perf_counter() - start) / count

    async def raw_store() -> float:
        start = time.perf_counter()
        for index in range(count):
            data = orjson.dumps(state)
            await anyio.to_thread.run_sync(fs.pipe_file, raw_paths[index % SESSIONS], data)
        return (time.perf_counter() - start) / count

    async def lib_load() -> float:
        start = time.perf_counter()
        for index in range(count):
            await store.load_session(ids[index % SESSIONS])
        return (time.perf_counter() - start) / count

    async def raw_load() -> float:
        start = time.perf_counter()
        for index in range(count):
            await anyio.to_thread.run_sync(read, raw_paths[index % SESSIONS])
        return (time.perf_counter() - start) / count

    samples = await ainterleave({"lib": lib_store, "raw": raw_store}, profile.rounds)
    results.record(f"{target.name}.store.{loop}", time_ratio(samples, "lib", "raw"))
    samples = await ainterleave({"lib": lib_load, "raw": raw_load}, profile.rounds)
    results.record(f"{target.name}.load.{loop}", time_ratio(samples, "lib", "raw"))
    await concurrency.measure(results, target.name, store, profile.concurrent_cloud, loop, rounds=1)
    await store.aclose()


async def _purge(results: Results, profile: Profile, target: Target, loop: str) -> None:
    """purge_expired at its default concurrency against one session at a time, each
    request held :data:`~benchmarks.figures.PURGE_LATENCY_MS` on its way."""
    writer = target.store(target.server)
    with Proxy(target.server, latency=PURGE_LATENCY_MS / 1000) as proxy:
        purger = target.store(proxy.url)
        await purger.session_exists("warm-up")  # the first call also checks the bucket

        def timed(purge: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[float]]:
            async def expire_and_purge() -> float:
                for index in range(profile.cloud_purge):
                    await writer.store_session(f"purge-{index}", {"i": index}, ttl=PURGE_TTL)
                await anyio.sleep(PURGE_TTL)
                start = time.perf_counter()
                purged = await purge()
                elapsed = time.perf_counter() - start
                assert purged == profile.cloud_purge, purged
                return elapsed

            return expire_and_purge

        samples = await ainterleave(
            {
                "default": timed(lambda: purger.purge_expired(prefix="purge-")),
                "one": timed(lambda: purger.purge_expired(prefix="purge-", concurrency=1)),
            },
            PURGE_ROUNDS,
        )
        await purger.aclose()
    await writer.aclose()
    results.record(
        f"{target.name}.purge_concurrency.{loop}",
        time_ratio(samples, "default", "one"),
        f"{profile.cloud_purge} expired sessions",
    )


def _increment(state: dict[str, Any] | None) -> dict[str, Any]:
    return {"count": (state or {}).get("count", 0) + 1}


async def _round_trips(target: Target) -> dict[str, int]:
    """Requests the server receives for each operation on a ready store."""
    state = make_state(SMALL)
    with Proxy(target.server) as proxy:
        store = target.store(proxy.url)
        async with store:
            meta = await store.store_session("counted", state)
            for name in ("a", "b", "c", "d"):
                await store.store_session("many", state, f"checkpoint-{name}.json")
            await store.store_session("many", state)
            operations: dict[str, Callable[[], Awaitable[object]]] = {
                "load": lambda: store.load_session("counted"),
                "store": lambda: store.store_session("other", state),
                "conditional_store": lambda: store.store_session(
                    "counted", state, if_match=meta.version
                ),
                "exists": lambda: store.session_exists("counted"),
                "metadata": lambda: store.get_session_metadata("counted"),
                "list_page": lambda: store.list_sessions_page(limit=100),
                "delete_session_5_files": lambda: store.delete_session("many"),
                "update_session": lambda: store.update_session("counted", _increment),
            }
            counts = {}
            for name, operation in operations.items():
                before = proxy.count()
                await operation()
                counts[name] = proxy.count() - before
    assert set(counts) == set(ROUND_TRIP_GOALS)
    return counts


async def _loop(
    results: Results, profile: Profile, found: dict[str, Target | str], loop: str
) -> dict[str, dict[str, int]]:
    trips = {}
    for target in found.values():
        if isinstance(target, Target):
            await _overhead(results, profile, target, loop)
            await _purge(results, profile, target, loop)
            trips[target.name] = await _round_trips(target)
    return trips


def run(results: Results, profile: Profile, scratch: Path) -> None:
    with targets(scratch) as found:
        for name, target in found.items():
            if isinstance(target, str):
                if os.environ.get("CI") == "true":
                    raise RuntimeError(f"{name}: {target}")
                results.skip(f"{name}.", target)
                results.skip(f"trio_vs_asyncio.{name}.", target)
        trips = {
            loop: anyio.run(_loop, results, profile, found, loop, backend=loop) for loop in LOOPS
        }
        for name in trips["asyncio"]:
            for operation in ROUND_TRIP_GOALS:
                counted = {loop: trips[loop][name][operation] for loop in LOOPS}
                results.record(
                    f"{name}.round_trips.{operation}",
                    max(counted.values()),
                    ", ".join(f"{loop} {value}" for loop, value in counted.items()),
                )
        s3 = found["s3"]
        if isinstance(s3, Target):
            store = s3.store(s3.server)

            async def load(index: int) -> object:
                return await store.load_session(f"bench-asyncio-{index % SESSIONS}")

            event_loops.compare(
                results, "trio_vs_asyncio.s3.load", load, profile.cloud_ops, profile.rounds
            )
