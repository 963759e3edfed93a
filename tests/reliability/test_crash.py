"""Crash consistency of the file backend: SIGKILL a writer at random moments.

A child process writes sessions, checkpoints and new sessions in a loop (see
:mod:`crash_writer`); the parent kills it at a random moment, then checks through
the API that every file it had touched holds either its previous complete state or
the new one, that no temporary file is listed or loaded, that no session appears
which was never written, and that nothing exists outside the root. Writers are
forked from a server that has imported everything, so a kill costs little more
than the writer's random lifetime.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest

from sessionstore import SessionStore
from sessionstore.errors import CorruptSessionError
from tests.reliability import crash_writer
from tests.reliability.conftest import Figures
from tests.reliability.crash_writer import CHECKPOINT, STATE, target

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX process signals")

MAX_LIFE = 0.05
"""A writer is killed after 0 to this many seconds of writing."""

File = tuple[str, str]


class Writers:
    """The fork server of :mod:`crash_writer`: forks writers and kills them."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.commands = process.stdin
        self.answers = process.stdout
        assert self.answers.readline() == b"ready\n", "the fork server did not start"

    def send(self, command: str) -> None:
        self.commands.write(command.encode() + b"\n")
        self.commands.flush()

    def live_and_die(self, first: int, loop: str, life: float) -> list[int]:
        """Let a writer write from step ``first`` for ``life`` seconds, SIGKILL it;
        return the steps it acknowledged."""
        self.send(f"go {first} {loop}")
        assert self.answers.readline() == b"open\n", "the writer failed (see stderr)"
        time.sleep(life)
        self.send("kill")
        acked = []
        while (line := self.answers.readline()) and not line.startswith(b"dead "):
            acked.append(int(line))
        assert line, "the fork server died"
        status = int(line.split()[1])
        assert os.WIFSIGNALED(status), "the writer failed before it was killed (see stderr)"
        assert os.WTERMSIG(status) == signal.SIGKILL
        assert acked == list(range(first, first + len(acked))), "steps out of order"
        return acked


class Campaign:
    """What the parent knows is on disk, and what it found after each kill."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = SessionStore(backend="file", root=root)
        self.truth: dict[File, int] = {}
        """The step whose state each file holds."""
        self.found: Counter[str] = Counter()

    async def check_after_kill(self, first: int, in_flight: int) -> None:
        """Check every file the dead writer touched (steps ``first`` to
        ``in_flight``, the last one perhaps never started) and the listings."""
        touched = {target(step) for step in range(first, in_flight + 1)}
        for file in sorted(touched):
            allowed = {self.truth.get(file)}
            if file == target(in_flight):
                allowed.add(in_flight)
            held = await self.load(file)
            if held not in allowed:
                self.found["lost or foreign states"] += 1
            elif held is not None:
                self.truth[file] = held
            if held == in_flight:
                self.found["in-flight writes that landed"] += 1
        await self.check_listings({session for session, _ in touched})

    async def load(self, file: File) -> int | None:
        """The step whose complete state ``file`` holds (``None``: absent); a torn
        or wrong state is counted and reads as ``-1``."""
        try:
            loaded = await self.store.load_session(*file)
        except CorruptSessionError:
            self.found["torn files"] += 1
            return -1
        if loaded is None:
            return None
        step = loaded.get("step")
        if not isinstance(step, int) or loaded != crash_writer.state(step):
            self.found["torn files"] += 1
            return -1
        return step

    async def check_listings(self, sessions: set[str]) -> None:
        expected = {session for session, _ in self.truth}
        listed = set(await self.store.list_sessions())
        self.found["sessions listed but never written"] += len(listed - expected)
        self.found["sessions written but not listed"] += len(expected - listed)
        for session in sorted(sessions & expected):
            files = await self.store.list_files(session)
            want = sorted(name for held, name in self.truth if held == session)
            self.found["temporary files listed"] += sum(n.startswith(".") for n in files)
            self.found["file listings wrong"] += files != want
        self.found["entries outside the root"] += len(os.listdir(self.root.parent)) - 1
        self.found["entries outside the bucket"] += len(os.listdir(self.root)) - 1

    async def check_everything(self) -> None:
        """Every file ever written still holds its last state; deleting every
        session leaves no file behind but temporary ones in folders never listed."""
        for file, step in sorted(self.truth.items()):
            if await self.load(file) != step:
                self.found["lost or foreign states"] += 1
        await self.check_listings({session for session, _ in self.truth})
        bucket = self.root / "sessions"
        self.found["wrong modes"] = sum(
            stat.S_IMODE(path.lstat().st_mode) != (0o700 if path.is_dir() else 0o600)
            for path in [self.root, *self.root.rglob("*")]
        )
        on_disk = [path for path in bucket.rglob("*") if path.is_file()]
        self.found["stale temporary files"] = sum(p.name.startswith(".tmp-") for p in on_disk)
        self.found["unexpected files"] = sum(
            not p.name.startswith(".tmp-") and p.name not in (STATE, CHECKPOINT) for p in on_disk
        )
        for session in await self.store.list_sessions():
            await self.store.delete_session(session)
        left = [path for path in bucket.rglob("*") if path.is_file()]
        self.found["files left after deleting every session"] = sum(
            not any(part.startswith(".") for part in path.relative_to(bucket).parts)
            for path in left
        )
        # Hidden temporary trees of writers killed before publishing a new session's
        # folder: never listed, so no API call reaches them.
        self.found["folders left (not listed)"] = len(os.listdir(bucket))
        self.found["temporary files left in them"] = len(left)
        # Every writer is dead, so a purge's sweep must clear them once they are past
        # the grace period (aged here rather than waited for).
        for name in os.listdir(bucket):
            os.utime(bucket / name, (0, 0), follow_symlinks=False)
        await self.store.purge_expired()
        self.found["left after purge_expired swept"] = len(os.listdir(bucket))


def crash_campaign(tmp_path: Path, kills: int, seed: int) -> Campaign:
    """Kill ``kills`` writers, alternating asyncio and trio ones."""
    campaign = Campaign(tmp_path / "root")
    rng = random.Random(seed)
    first = 0
    command = [sys.executable, crash_writer.__file__, str(campaign.root)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as server:
        writers = Writers(server)
        for kill in range(kills):
            loop = ("asyncio", "trio")[kill % 2]
            acked = writers.live_and_die(first, loop, rng.uniform(0, MAX_LIFE))
            for step in acked:
                campaign.truth[target(step)] = step
            campaign.found["writes acknowledged"] += len(acked)
            in_flight = first + len(acked)
            anyio.run(campaign.check_after_kill, first, in_flight)
            first = in_flight + 1
        server.communicate(timeout=30)  # end of commands: the server exits
    assert server.returncode == 0
    anyio.run(campaign.check_everything)
    return campaign


def run(tmp_path: Path, figures: Figures, kills: int, seed: int) -> None:
    started = time.monotonic()
    campaign = crash_campaign(tmp_path, kills, seed)
    found = campaign.found
    figures.record(
        "crash",
        f"file: SIGKILL x {kills}",
        kills=kills,
        writes=found["writes acknowledged"],
        landed_in_flight=found["in-flight writes that landed"],
        torn=found["torn files"],
        lost=found["lost or foreign states"],
        phantom_sessions=found["sessions listed but never written"],
        temp_listed=found["temporary files listed"],
        outside_root=found["entries outside the root"] + found["entries outside the bucket"],
        stale_temp_files=found["stale temporary files"],
        wrong_modes=found["wrong modes"],
        unlisted_folders_left=found["folders left (not listed)"],
        temp_files_left_in_them=found["temporary files left in them"],
        left_after_sweep=found["left after purge_expired swept"],
        seconds=round(time.monotonic() - started, 1),
    )
    must_be_zero = [
        "torn files",
        "lost or foreign states",
        "sessions listed but never written",
        "sessions written but not listed",
        "temporary files listed",
        "file listings wrong",
        "entries outside the root",
        "entries outside the bucket",
        "unexpected files",
        "wrong modes",
        "files left after deleting every session",
        "left after purge_expired swept",
    ]
    assert {name: found[name] for name in must_be_zero} == dict.fromkeys(must_be_zero, 0)
    # A loaded machine slows the writers down; they must still write now and then.
    assert found["writes acknowledged"] >= kills // 4, "the writers hardly wrote anything"


def test_sigkill_mid_write_never_tears_or_loses_a_file(tmp_path: Path, figures: Figures) -> None:
    run(tmp_path, figures, kills=50, seed=1)


@pytest.mark.slow
def test_sigkill_campaign(tmp_path: Path, figures: Figures) -> None:
    run(tmp_path, figures, kills=500, seed=2)


async def test_a_killed_first_write_leaves_no_visible_session(tmp_path: Path) -> None:
    """What a writer killed before publishing a new session's folder leaves (a
    hidden temporary tree, with or without its file renamed in) is no session: not
    listed, nothing to load; the next write of that id works."""
    store = SessionStore(backend="file", root=tmp_path)
    await store.store_session("alive", {"n": 1})
    bucket = tmp_path / "sessions"
    for tree, name in ((".tmp-0badc0ffee", ".tmp-1234"), (".tmp-5eed", "state.json")):
        (bucket / tree).mkdir(mode=0o700)
        (bucket / tree / name).write_bytes(b'{"half')
    assert await store.list_sessions() == ["alive"]
    assert await store.list_files("crashed") == []
    assert await store.load_session("crashed") is None
    await store.store_session("crashed", {"n": 2}, create_only=True)
    assert await store.list_sessions() == ["alive", "crashed"]
    assert await store.load_session("crashed") == {"n": 2}
