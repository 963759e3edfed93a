"""Contention: concurrent ``update_session`` increments lose nothing, and a
create-only race has exactly one winner, on every first-party backend.

The file backend is raced by 16 tasks in each of 3 processes (asyncio, trio,
asyncio) released together; memory, file and the emulators (s3, gcs, azure) by
32 tasks in one process, on both event loops. The figures count the updates,
the final count, the updates lost, and how often a writer had to start again.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from emulators import azure, gcs, s3
from sessionstore import SessionStore
from sessionstore.errors import ConflictError
from tests.reliability import contention_worker
from tests.reliability.conftest import Figures

PROCESS_LOOPS = ["asyncio", "trio", "asyncio"]
PROCESS_TASKS = 16
TASKS = 32


def record_counts(
    figures: Figures, case: str, racers: int, wins: int, conflicts: int, final: int, calls: int
) -> None:
    figures.record(
        "contention",
        case,
        updates=racers,
        final_count=final,
        lost_updates=racers - final,
        update_retries=calls - racers,
        create_racers=racers,
        create_winners=wins,
        create_conflicts=conflicts,
    )


@pytest.mark.skipif(os.name != "posix", reason="the file backend is POSIX-only")
def test_three_processes_lose_no_update_and_have_one_creator(
    tmp_path: Path, figures: Figures
) -> None:
    command = [sys.executable, contention_worker.__file__, str(tmp_path)]
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                subprocess.Popen(
                    [*command, str(PROCESS_TASKS), loop],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            for loop in PROCESS_LOOPS
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n", worker.communicate()[1]
        for worker in workers:  # release them together
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=120) for worker in workers]
    seen = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        seen.append(json.loads(out))

    async def load() -> tuple[Any, Any]:
        store = SessionStore(backend="file", root=tmp_path)
        return await store.load_session("counter"), await store.load_session("race")

    counter, race = anyio.run(load)
    racers = PROCESS_TASKS * len(PROCESS_LOOPS)
    wins = [racer for one in seen for racer in one["wins"]]
    conflicts = sum(one["conflicts"] for one in seen)
    calls = sum(one["calls"] for one in seen)
    case = f"file: {PROCESS_TASKS} tasks x {len(PROCESS_LOOPS)} processes"
    record_counts(figures, case, racers, len(wins), conflicts, counter["count"], calls)
    assert counter == {"count": racers}
    assert len(wins) == 1
    assert conflicts == racers - 1
    assert race == {"racer": wins[0]}


@pytest.fixture(params=["memory", "file", "s3", "gcs", "azure"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    """A store over a fresh bucket on each backend (the emulators started on demand)."""
    name = request.param
    if name == "memory":
        store = SessionStore(backend="memory")
    elif name == "file":
        store = SessionStore(backend="file", root=tmp_path)
    elif name == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        options = s3.store_options(endpoint, create_bucket=True)
        store = SessionStore(backend="s3", bucket=s3.new_bucket_name(), **options)
    elif name == "gcs":
        api: gcs.JsonApi = request.getfixturevalue("json_api")
        store = SessionStore(backend="gcs", **gcs.store_options(api.endpoint, api.new_bucket()))
    else:
        server: azure.Azurite = request.getfixturevalue("azurite")
        store = SessionStore(backend="azure", bucket=azure.new_container_name(), **server.options())
    async with store:
        yield store


async def test_concurrent_tasks_lose_no_update_and_have_one_creator(
    store: SessionStore, figures: Figures, anyio_backend: str
) -> None:
    calls = 0
    wins: list[int] = []
    conflicts = 0

    async def increment(state: dict[str, Any] | None) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        # Let the other tasks run between the read and the write, even on memory.
        await anyio.lowlevel.checkpoint()
        return {"count": (state or {"count": 0})["count"] + 1}

    async def race(index: int) -> None:
        nonlocal conflicts
        try:
            await store.store_session("race", {"racer": index}, create_only=True)
        except ConflictError:
            conflicts += 1
        else:
            wins.append(index)

    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(race, index)
            group.start_soon(store.update_session, "counter", increment)
    counter = await store.load_session("counter")
    assert counter is not None
    record_counts(
        figures,
        f"{store.backend}: {TASKS} tasks, {anyio_backend}",
        TASKS,
        len(wins),
        conflicts,
        counter["count"],
        calls,
    )
    assert counter == {"count": TASKS}
    assert len(wins) == 1
    assert conflicts == TASKS - 1
    assert await store.load_session("race") == {"racer": wins[0]}
