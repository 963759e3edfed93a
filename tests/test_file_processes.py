"""The file backend across processes: no lost updates."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from sessionstore import SessionStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX process signals")

INCREMENTER = """
import sys, anyio
from sessionstore import SessionStore

def increment(state):
    state = state or {"count": 0}
    state["count"] += 1
    return state

async def main(root, tasks):
    store = SessionStore(backend="file", root=root)
    async with anyio.create_task_group() as group:
        for _ in range(tasks):
            group.start_soon(store.update_session, "counter", increment)

anyio.run(main, sys.argv[1], int(sys.argv[2]), backend=sys.argv[3])
"""


def python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_three_processes_of_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    loops = ["asyncio", "trio", "asyncio"]
    children = [python(INCREMENTER, str(tmp_path), "20", loop) for loop in loops]
    for child in children:
        with child:
            _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    state = anyio.run(SessionStore(backend="file", root=tmp_path).load_session, "counter")
    assert state == {"count": 60}
