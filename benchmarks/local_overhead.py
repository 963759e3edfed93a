"""Overhead of the file and memory backends over the raw operations they wrap.

- file store (durable) vs a raw durable write (:func:`~benchmarks.workloads.durable_write`)
  offloaded through one thread hop; with 16 tasks, vs the same write done synchronously
  (and the raw write through a hop in 16 tasks against it: what offloading leaves);
- file load vs ``open().read()`` + ``orjson.loads`` through one thread hop;
- the file backend's hooks alone against the same baselines: the backend's share;
- memory store + load vs a dict holding ``orjson.dumps`` bytes;
- thread hops per operation, counted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread
import orjson

from benchmarks.figures import Results
from benchmarks.measure import ainterleave, median, speed_ratio
from benchmarks.profiles import LOOPS, Profile
from benchmarks.workloads import (
    SMALL,
    count_thread_hops,
    durable_write,
    make_state,
    read_and_decode,
)
from sessionstore import SessionStore
from sessionstore_file import FileBackend

SESSIONS = 8
"""Operations cycle over this many sessions."""
TASKS = 16


async def _file(results: Results, profile: Profile, root: Path, loop: str) -> None:
    state = make_state(SMALL)
    store = SessionStore(backend="file", root=root / "lib")
    ids = [f"bench-{index}" for index in range(TASKS * 2)]
    for session_id in ids:
        await store.store_session(session_id, state)
    lib_dir = os.path.join(root, "lib", store.bucket)
    raw_dirs = [os.path.join(root, "raw", session_id) for session_id in ids]
    for directory in raw_dirs:
        os.makedirs(directory, exist_ok=True)
        durable_write(directory, "state.json", orjson.dumps(state))
    writes, reads = profile.file_writes, profile.file_reads
    hook = FileBackend(root=root / "lib")
    """The backend alone, called as the store calls it, without the store around it."""
    await hook.sessionstore_init(bucket=store.bucket)  # as the store does: probes the volume

    async def lib_store() -> float:
        start = time.perf_counter()
        for index in range(writes):
            await store.store_session(ids[index % SESSIONS], state)
        return (time.perf_counter() - start) / writes

    async def raw_store() -> float:
        start = time.perf_counter()
        for index in range(writes):
            data = orjson.dumps(state)
            await anyio.to_thread.run_sync(
                durable_write, raw_dirs[index % SESSIONS], "state.json", data
            )
        return (time.perf_counter() - start) / writes

    async def hook_store() -> float:
        start = time.perf_counter()
        for index in range(writes):
            await hook.sessionstore_upload(
                bucket=store.bucket,
                path=f"{ids[index % SESSIONS]}/state.json",
                data=orjson.dumps(state),
                if_match=None,
                create_only=False,
            )
        return (time.perf_counter() - start) / writes

    async def in_tasks(write: Callable[[int], Awaitable[object]]) -> float:
        """Seconds per write, with TASKS tasks each making its share of them."""
        per_task = max(1, writes // 4)

        async def worker(index: int) -> None:
            for _ in range(per_task):
                await write(index)

        start = time.perf_counter()
        async with anyio.create_task_group() as group:
            for index in range(TASKS):
                group.start_soon(worker, index)
        return (time.perf_counter() - start) / (per_task * TASKS)

    async def lib_store_tasks() -> float:
        return await in_tasks(lambda index: store.store_session(ids[index], state))

    async def raw_store_tasks() -> float:
        return await in_tasks(
            lambda index: anyio.to_thread.run_sync(
                durable_write, raw_dirs[index], "state.json", orjson.dumps(state)
            )
        )

    async def raw_store_sync() -> float:
        start = time.perf_counter()
        for index in range(writes):
            durable_write(raw_dirs[index % SESSIONS], "state.json", orjson.dumps(state))
        return (time.perf_counter() - start) / writes

    lib_paths = [os.path.join(lib_dir, session_id, "state.json") for session_id in ids]

    async def lib_load() -> float:
        start = time.perf_counter()
        for index in range(reads):
            await store.load_session(ids[index % SESSIONS])
        return (time.perf_counter() - start) / reads

    async def hook_load() -> float:
        start = time.perf_counter()
        for index in range(reads):
            stored = await hook.sessionstore_download(
                bucket=store.bucket, path=f"{ids[index % SESSIONS]}/state.json"
            )
            orjson.loads(stored.data)
        return (time.perf_counter() - start) / reads

    async def raw_load() -> float:
        start = time.perf_counter()
        for index in range(reads):
            await anyio.to_thread.run_sync(read_and_decode, lib_paths[index % SESSIONS])
        return (time.perf_counter() - start) / reads

    samples = await ainterleave(
        {"lib": lib_store, "hook": hook_store, "raw": raw_store}, profile.rounds
    )
    results.record(
        f"file.store.one_task.{loop}",
        speed_ratio(samples, "lib", "raw"),
        _medians(samples),
    )
    results.record(f"file.store.hook_alone.{loop}", speed_ratio(samples, "hook", "raw"))
    samples = await ainterleave(
        {"lib": lib_store_tasks, "raw_hops": raw_store_tasks, "raw": raw_store_sync},
        profile.rounds,
    )
    results.record(
        f"file.store.sixteen_tasks.{loop}",
        speed_ratio(samples, "lib", "raw"),
        _medians(samples),
    )
    results.record(
        f"file.store.sixteen_tasks.raw_hops.{loop}", speed_ratio(samples, "raw_hops", "raw")
    )
    samples = await ainterleave(
        {"lib": lib_load, "hook": hook_load, "raw": raw_load}, profile.rounds
    )
    results.record(
        f"file.load.one_task.{loop}", speed_ratio(samples, "lib", "raw"), _medians(samples)
    )
    results.record(f"file.load.hook_alone.{loop}", speed_ratio(samples, "hook", "raw"))
    with count_thread_hops() as hops:
        await store.store_session(ids[0], state)
    results.record(f"file.hops.store.{loop}", hops[0])
    with count_thread_hops() as hops:
        await store.load_session(ids[0])
    results.record(f"file.hops.load.{loop}", hops[0])


async def _memory(results: Results, profile: Profile, loop: str) -> None:
    state = make_state(SMALL)
    store = SessionStore(backend="memory")
    await store.store_session("warm-up", state)
    raw: dict[str, bytes] = {}
    ids = [f"bench-{index}" for index in range(SESSIONS)]
    pairs = profile.memory_pairs

    async def lib_pair() -> float:
        start = time.perf_counter()
        for index in range(pairs):
            session_id = ids[index % SESSIONS]
            await store.store_session(session_id, state)
            await store.load_session(session_id)
        return (time.perf_counter() - start) / pairs

    async def raw_pair() -> float:
        start = time.perf_counter()
        for index in range(pairs):
            session_id = ids[index % SESSIONS]
            raw[session_id] = orjson.dumps(state)
            orjson.loads(raw[session_id])
        return (time.perf_counter() - start) / pairs

    samples = await ainterleave({"lib": lib_pair, "raw": raw_pair}, profile.rounds)
    results.record(
        f"memory.pair.ratio.{loop}", speed_ratio(samples, "lib", "raw"), _medians(samples)
    )
    results.record(f"memory.pair.time.{loop}", median(samples["lib"]) * 1e6)
    with count_thread_hops() as hops:
        await store.store_session(ids[0], state)
        await store.load_session(ids[0])
    results.record(f"memory.hops.{loop}", hops[0])


def _medians(samples: dict[str, list[float]]) -> str:
    """The per-operation medians behind a ratio, for the detail column (µs)."""
    return ", ".join(f"{name} {median(values) * 1e6:.0f} µs" for name, values in samples.items())


def run(results: Results, profile: Profile, scratch: Path) -> None:
    for loop in LOOPS:
        anyio.run(_file, results, profile, scratch / f"file-{loop}", loop, backend=loop)
        anyio.run(_memory, results, profile, loop, backend=loop)
