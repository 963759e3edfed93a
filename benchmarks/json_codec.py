"""The codec against the standard library's ``json``, and what a large state does to
the event loop.

Encode + decode of the stored document (envelope included) against ``json.dumps`` +
``json.loads`` of the bare state, at 2 KB and at 1 MB. Then, for a 1 MB state: how many
of a store's encodings run in a worker thread, and what offloading an encoding would
buy — the longest stall a ticking task sees while the codec encodes in a worker
thread, against the same encoding run on the loop (orjson and msgspec hold the GIL
throughout, so a worker thread does not free the loop).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec
import orjson

from benchmarks.figures import Results
from benchmarks.measure import interleave, median, speed_ratio, timed
from benchmarks.profiles import LOOPS, Profile
from benchmarks.workloads import LARGE, SMALL, count_thread_hops, make_state
from sessionstore import SessionStore, clock, codec


def _ratio(results: Results, key: str, state: dict[str, Any], count: int, rounds: int) -> None:
    envelope = codec.Envelope(
        format=codec.FORMAT_VERSION,
        session_id="bench",
        filename="state.json",
        stored_at=clock.now(),
        backend="memory",
    )
    decode = msgspec.json.Decoder().decode
    samples = interleave(
        {
            "lib": lambda: timed(lambda: codec.decode(codec.encode(state, envelope), "p"), count),
            "bare": lambda: timed(lambda: decode(orjson.dumps(state)), count),
            "stdlib": lambda: timed(lambda: json.loads(json.dumps(state)), count),
        },
        rounds,
    )
    results.record(key, speed_ratio(samples, "lib", "stdlib"))
    results.record(f"{key}.bare", speed_ratio(samples, "bare", "stdlib"))


async def _longest_stall(work: Any) -> float:
    """The longest gap between two steps of a task yielding in a loop while ``work``
    runs (seconds)."""
    done = anyio.Event()
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await anyio.lowlevel.checkpoint()
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        await anyio.sleep(0.002)
        await work()
        done.set()
    return max(gaps)


async def _off_loop(results: Results, profile: Profile, loop: str) -> None:
    state = make_state(LARGE)
    store = SessionStore(backend="memory")
    with count_thread_hops() as hops:
        await store.store_session("big", state)
    results.record(f"json.large_off_loop.{loop}", hops[0])

    envelope = codec.Envelope(
        format=codec.FORMAT_VERSION,
        session_id="big",
        filename="state.json",
        stored_at=clock.now(),
        backend="memory",
    )

    async def inline() -> None:
        codec.encode(state, envelope)

    async def offloaded() -> None:
        await anyio.to_thread.run_sync(codec.encode, state, envelope)

    stalls: dict[str, list[float]] = {"thread": [], "loop": []}
    for index in range(profile.rounds * 2):
        order = ("thread", "loop") if index % 2 else ("loop", "thread")
        for name in order:
            stalls[name].append(await _longest_stall(offloaded if name == "thread" else inline))
    results.record(
        f"json.offload_stall.{loop}",
        median([t / i for t, i in zip(stalls["thread"], stalls["loop"], strict=True)]),
    )


def run(results: Results, profile: Profile, scratch: Path) -> None:
    _ratio(results, "json.small", make_state(SMALL), profile.json_small, profile.rounds)
    _ratio(
        results, "json.large", make_state(LARGE), max(2, profile.json_small // 100), profile.rounds
    )
    for loop in LOOPS:
        anyio.run(_off_loop, results, profile, loop, backend=loop)
