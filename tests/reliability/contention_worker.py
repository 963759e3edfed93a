"""One of the processes of the file contention campaign (run as a script).

``python contention_worker.py ROOT TASKS LOOP`` opens a file store at ``ROOT`` on
the ``LOOP`` event loop, prints ``ready`` and waits for a line on stdin, so that
every process starts at once. Then ``TASKS`` tasks race to create the session
``race`` (``create_only``), and ``TASKS`` tasks each add one to the session
``counter`` with ``update_session``. It prints what it saw as one JSON line:
the racers that won, how many got :class:`ConflictError`, and how often the
update function ran (retries included).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
import anyio.to_thread

from sessionstore import SessionStore
from sessionstore.errors import ConflictError


async def main(root: str, tasks: int) -> dict[str, Any]:
    seen: dict[str, Any] = {"wins": [], "conflicts": 0, "calls": 0}

    async def race(index: int) -> None:
        racer = f"{os.getpid()}:{index}"
        try:
            await store.store_session("race", {"racer": racer}, create_only=True)
        except ConflictError:
            seen["conflicts"] += 1
        else:
            seen["wins"].append(racer)

    def increment(state: dict[str, Any] | None) -> dict[str, Any]:
        seen["calls"] += 1
        return {"count": (state or {"count": 0})["count"] + 1}

    async with SessionStore(backend="file", root=root) as store:
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        async with anyio.create_task_group() as group:
            for index in range(tasks):
                group.start_soon(race, index)
        async with anyio.create_task_group() as group:
            for _ in range(tasks):
                group.start_soon(store.update_session, "counter", increment)
    return seen


if __name__ == "__main__":
    print(json.dumps(anyio.run(main, sys.argv[1], int(sys.argv[2]), backend=sys.argv[3])))
