"""The file backend across processes: no lost updates, no torn files after SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

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

WRITER = """
import sys, anyio
from sessionstore import SessionStore

async def main(root, start):
    store = SessionStore(backend="file", root=root)
    seq = start
    while True:
        seq += 1
        state = {"seq": seq, "pad": "x" * (seq * 37 % 5000)}
        await store.store_session("victim", state)
        await store.store_session("victim", state, "checkpoint.json")
        if seq == start + 1:
            print("ready", flush=True)

anyio.run(main, sys.argv[1], int(sys.argv[2]))
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


def check_consistent(state: dict[str, Any] | None, at_least: int) -> int:
    assert state is not None, "a write was interrupted and the file went missing"
    seq = state["seq"]
    assert isinstance(seq, int)
    assert seq >= at_least, "the state went back in time"
    assert state["pad"] == "x" * (seq * 37 % 5000), "torn state"
    return seq


def kill_writers(root: Path, kills: int) -> None:
    store = SessionStore(backend="file", root=root)
    seen = 0
    rng = random.Random(1234)
    for _ in range(kills):
        with python(WRITER, str(root), str(seen)) as child:
            assert child.stdout is not None
            assert child.stderr is not None
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            # Kill at a random moment of the write loop.
            anyio.run(anyio.sleep, rng.uniform(0, 0.03))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)

        async def inspect(seen: int) -> int:
            main = check_consistent(await store.load_session("victim"), seen)
            checkpoint = check_consistent(await store.load_session("victim", "checkpoint.json"), 0)
            assert main - 1 <= checkpoint <= main
            assert await store.list_files("victim") == ["checkpoint.json", "state.json"]
            assert await store.list_sessions() == ["victim"]
            return main

        seen = anyio.run(inspect, seen)
    leftovers = {p.name for p in root.rglob("*") if p.is_file() and p.name.startswith(".tmp")}
    # Temp files of killed writers may remain, but are never listed or loaded, and
    # deleting the session clears them.
    assert anyio.run(store.delete_session, "victim")
    assert not (root / "sessions" / "victim").exists(), leftovers


def test_sigkill_mid_write_never_tears_a_file(tmp_path: Path) -> None:
    kill_writers(tmp_path, kills=15)


@pytest.mark.slow
def test_sigkill_campaign(tmp_path: Path) -> None:
    kill_writers(tmp_path, kills=500)
