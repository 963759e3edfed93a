"""Scale: listing, paging, memory held and ``purge_expired`` over many sessions.

The file trees are written directly in the backend's layout (``<bucket>/<id>/state.json``
holding an encoded document), which takes seconds rather than the minutes of durable
writes; the memory store is filled through the library. Among the sessions of the
large tree, ``profile.purge_expired`` have expired.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.to_thread
import orjson

from benchmarks.figures import SIZES, Results
from benchmarks.measure import ainterleave, median, time_ratio
from benchmarks.profiles import LOOPS, Profile
from sessionstore import SessionStore, clock, codec
from sessionstore.bulk import PAGE_SIZE

PAGE = 100
ITER_PAGES_MEASURED = 3
"""Pages of iter_sessions (its default size, ``PAGE_SIZE``) walked under tracemalloc on
the file backend: each page of an ordered file listing scans the whole directory."""
BUCKET = "sessions"


def session_id(index: int) -> str:
    return f"session-{index:07}"


def _document(index: int, expired: bool) -> bytes:
    stored_at = clock.now() - timedelta(hours=2)
    envelope = codec.Envelope(
        format=codec.FORMAT_VERSION,
        session_id=session_id(index),
        filename="state.json",
        stored_at=stored_at,
        backend="file",
        expires_at=stored_at + timedelta(hours=1 if expired else 1000),
    )
    return codec.encode({"user": index, "turns": []}, envelope)


def write_tree(root: Path, count: int, expired: int = 0) -> Path:
    """``count`` sessions under ``root/sessions`` (the first ``expired`` expired);
    return the bucket directory."""
    bucket = root / BUCKET
    bucket.mkdir(parents=True, mode=0o700)
    for index in range(count):
        folder = bucket / session_id(index)
        folder.mkdir(mode=0o700)
        (folder / "state.json").write_bytes(_document(index, index < expired))
    return bucket


def _restore_expired(bucket: Path, expired: int) -> None:
    for index in range(expired):
        folder = bucket / session_id(index)
        folder.mkdir(mode=0o700, exist_ok=True)
        (folder / "state.json").write_bytes(_document(index, True))


def _scandir_names(path: str) -> list[str]:
    with os.scandir(path) as entries:
        return [entry.name for entry in entries]


def _scan_sort(path: str) -> list[str]:
    with os.scandir(path) as entries:
        return sorted(entry.name for entry in entries if entry.is_dir(follow_symlinks=False))


def _raw_purge(path: str) -> int:
    """The least a purge must do, in one thread hop: read and decode every
    state.json, remove the expired ones (no fsync)."""
    now = clock.now().isoformat()
    removed = 0
    with os.scandir(path) as entries:
        for entry in entries:
            state_path = os.path.join(entry.path, "state.json")
            with open(state_path, "rb") as file:
                header = orjson.loads(file.read())["sessionstore"]
            if header["expires_at"] <= now:
                os.unlink(state_path)
                os.rmdir(entry.path)
                removed += 1
    return removed


async def _timed(call: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def _peak(call: Callable[[], Awaitable[object]]) -> int:
    """Peak bytes traced by tracemalloc while ``call`` runs, above what was held before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


async def _walk(store: SessionStore, pages: int | None) -> int:
    seen = 0
    async for _ in store.iter_sessions():
        seen += 1
        if pages is not None and seen >= pages * PAGE_SIZE:
            break
    return seen


async def _file(results: Results, profile: Profile, trees: dict[str, Path], loop: str) -> None:
    rounds = max(3, profile.rounds // 2)
    stores = {size: SessionStore(backend="file", root=trees[size].parent) for size in SIZES}
    large, large_dir = stores["large"], os.fspath(trees["large"])
    samples = await ainterleave(
        {
            "lib": lambda: _timed(large.list_sessions),
            "scandir": lambda: _timed(lambda: anyio.to_thread.run_sync(_scandir_names, large_dir)),
            "scan_sort": lambda: _timed(lambda: anyio.to_thread.run_sync(_scan_sort, large_dir)),
        },
        rounds,
    )
    results.record(f"file.list_all.{loop}", time_ratio(samples, "lib", "scandir"))
    results.record(
        f"file.list_all.sorted_floor.{loop}", time_ratio(samples, "scan_sort", "scandir")
    )
    for size in SIZES:
        store, path = stores[size], os.fspath(trees[size])
        samples = await ainterleave(
            {
                "lib": lambda store=store: _timed(lambda: store.list_sessions_page(limit=PAGE)),  # type: ignore[misc]
                "scan_sort": lambda path=path: _timed(  # type: ignore[misc]
                    lambda: anyio.to_thread.run_sync(_scan_sort, path)
                ),
            },
            rounds,
        )
        results.record(
            f"file.first_page.{size}.{loop}",
            time_ratio(samples, "lib", "scan_sort"),
            f"{len(_scandir_names(path)):,} sessions",
        )
    medium_peak = await _peak(lambda: _walk(stores["medium"], ITER_PAGES_MEASURED))
    large_peak = await _peak(lambda: _walk(large, ITER_PAGES_MEASURED))
    results.record(f"file.iter_memory.flatness.{loop}", large_peak / medium_peak)
    count = len(_scandir_names(large_dir))
    results.record(f"file.list_memory.per_id.{loop}", await _peak(large.list_sessions) / count)
    iterate = await _timed(lambda: _walk(large, None))
    listing = median([await _timed(large.list_sessions) for _ in range(3)])
    results.record(f"file.iter_all.{loop}", iterate / listing)

    expired = profile.purge_expired
    purged = 0

    async def purge() -> None:
        nonlocal purged
        purged = await large.purge_expired()

    lib = await _timed(purge)
    left = len(_scandir_names(large_dir))
    missed = abs(purged - expired) + abs(left - (count - expired))
    _restore_expired(trees["large"], expired)
    raw = await _timed(lambda: anyio.to_thread.run_sync(_raw_purge, large_dir))
    _restore_expired(trees["large"], expired)
    results.record(f"file.purge.{loop}", lib / raw, f"{count:,} sessions, {expired:,} expired")
    results.record(f"file.purge.missed.{loop}", missed)


async def _fill(store: SessionStore, count: int, expired: int) -> dict[str, bytes]:
    """Store ``count`` sessions (the first ``expired`` with a TTL that has run out by
    the time this returns); return the same states as a dict of orjson bytes."""
    raw = {}
    for index in range(count):
        state = {"user": index, "turns": []}
        await store.store_session(session_id(index), state, ttl=0.001 if index < expired else None)
        raw[session_id(index)] = orjson.dumps(state)
    await anyio.sleep(0.01)
    return raw


async def _memory(results: Results, profile: Profile, loop: str) -> None:
    rounds = max(3, profile.rounds // 2)
    sizes = dict(zip(SIZES, profile.scale_sizes, strict=True))
    stores = {size: SessionStore(backend="memory") for size in SIZES}
    for size in ("small", "medium"):
        await _fill(stores[size], sizes[size], 0)
    large = stores["large"]
    count, expired = sizes["large"], profile.purge_expired
    raw = await _fill(large, count, expired)

    async def sort_dict() -> None:
        sorted(raw)

    samples = await ainterleave(
        {"lib": lambda: _timed(large.list_sessions), "dict": lambda: _timed(sort_dict)}, rounds
    )
    results.record(f"memory.list_all.{loop}", time_ratio(samples, "lib", "dict"))
    samples = await ainterleave(
        {
            size: lambda size=size: _timed(  # type: ignore[misc]
                lambda: stores[size].list_sessions_page(limit=PAGE)
            )
            for size in ("small", "large")
        },
        rounds * 5,
    )
    results.record(f"memory.first_page.flatness.{loop}", time_ratio(samples, "large", "small"))
    results.record(f"memory.first_page.time.{loop}", median(samples["large"]) * 1e3)
    medium_peak = await _peak(lambda: _walk(stores["medium"], None))
    large_peak = await _peak(lambda: _walk(large, None))
    results.record(f"memory.iter_memory.flatness.{loop}", large_peak / medium_peak)
    results.record(f"memory.list_memory.per_id.{loop}", await _peak(large.list_sessions) / count)

    purged = 0

    async def purge() -> None:
        nonlocal purged
        purged = await large.purge_expired()

    def raw_purge() -> None:
        for key in list(raw):
            orjson.loads(raw[key])
        for index in range(expired):
            del raw[session_id(index)]

    async def raw_purge_async() -> None:
        raw_purge()

    lib = await _timed(purge)
    left = len(await large.list_sessions())
    missed = abs(purged - expired) + abs(left - (count - expired))
    results.record(
        f"memory.purge.{loop}",
        lib / await _timed(raw_purge_async),
        f"{count:,} sessions, {expired:,} expired",
    )
    results.record(f"memory.purge.missed.{loop}", missed)


def run(results: Results, profile: Profile, scratch: Path) -> None:
    began = time.perf_counter()
    trees = {
        size: write_tree(scratch / size, count, profile.purge_expired if size == "large" else 0)
        for size, count in zip(SIZES, profile.scale_sizes, strict=True)
    }
    print(f"   (trees written in {time.perf_counter() - began:.1f} s)", flush=True)
    for loop in LOOPS:
        anyio.run(_file, results, profile, trees, loop, backend=loop)
        anyio.run(_memory, results, profile, loop, backend=loop)
