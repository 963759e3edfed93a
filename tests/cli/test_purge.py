"""``sessionstore purge``: exactly the expired sessions go, even while the
application writes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from sessionstore import SessionStore
from sessionstore.testing.backend_tests import FakeClock

from .conftest import Run


def test_dry_run_lists_then_purge_deletes_exactly_the_expired(
    run: Run, url: str, store: SessionStore, fake_clock: FakeClock
) -> None:
    async def prepare() -> None:
        async with store:
            for index in range(6):
                ttl = 60 if index % 2 else 3600
                await store.store_session(f"s{index}", {"i": index}, ttl=ttl)
                await store.store_session(f"s{index}", {"i": index}, "checkpoint.json")
            await store.store_session("forever", {})
            await store.store_session("orphan", {}, "checkpoint.json", ttl=1)

    anyio.run(prepare)
    fake_clock.advance(120)
    expired = ["s1", "s3", "s5"]

    dry = run("purge", "--dry-run", "--json", "--url", url)
    assert dry.json() == {"purged": 3, "dry_run": True, "sessions": expired, "failed": []}
    assert len(anyio.run(store.list_sessions)) == 8  # nothing deleted

    only_s1 = run("purge", "--prefix", "s1", "--url", url)
    assert only_s1.stdout.splitlines() == ["s1"]
    assert "purged 1 expired session" in only_s1.stderr

    done = run("purge", "--json", "--url", url)
    assert done.json() == {"purged": 2, "dry_run": False, "sessions": ["s3", "s5"], "failed": []}
    # Whole sessions went (checkpoints too); the rest, and a session without a
    # state.json, stay.
    assert anyio.run(store.list_sessions) == ["forever", "orphan", "s0", "s2", "s4"]
    assert run("purge", "--json", "--url", url).json()["purged"] == 0


def _expired_sessions(store: SessionStore, fake_clock: FakeClock, *session_ids: str) -> None:
    async def prepare() -> None:
        async with store:
            for session_id in session_ids:
                await store.store_session(session_id, {}, ttl=1)
                await store.store_session(session_id, {}, "checkpoint.json")

    anyio.run(prepare)
    fake_clock.advance(2)


def _state_file(url: str, session_id: str) -> Path:
    state = Path(url.removeprefix("file://")) / "sessions" / session_id / "state.json"
    state.unlink()
    return state


def test_purge_names_a_session_the_storage_refuses_and_purges_the_rest(
    run: Run, url: str, store: SessionStore, fake_clock: FakeClock, tmp_path: Path
) -> None:
    _expired_sessions(store, fake_clock, "a", "b", "c")
    _state_file(url, "b").symlink_to(tmp_path / "elsewhere")

    text = run("purge", "--url", url)
    assert text.exit_code == 4
    assert text.stdout.splitlines() == ["a", "c"]
    assert "not purged: b: " in text.stderr
    assert "symlink" in text.stderr
    assert "purged 2 expired sessions" in text.stderr
    assert "1 session(s) not purged" in text.stderr
    assert anyio.run(store.list_sessions) == ["b"]

    as_json = run("purge", "--json", "--url", url)
    assert as_json.exit_code == 4
    result = as_json.json()
    assert (result["purged"], result["sessions"]) == (0, [])
    # Each failure as copy --json gives one: an error object, not an [id, message] pair.
    (failed,) = result["failed"]
    assert failed["session_id"] == "b"
    assert (failed["error"]["type"], failed["error"]["exit_code"]) == (
        "StoragePermissionError",
        4,
    )
    assert "symlink" in failed["error"]["message"]
    assert result["error"] == {
        "type": "PurgeIncomplete",
        "message": "1 session(s) not purged: the storage refused them",
        "exit_code": 4,
    }


def test_purge_stops_at_a_storage_failure(
    run: Run, url: str, store: SessionStore, fake_clock: FakeClock
) -> None:
    """Opening a socket fails (ENXIO): not a refusal but a storage failure, which
    would repeat for every session if the storage were down, so the purge stops."""
    _expired_sessions(store, fake_clock, "a", "b", "c")
    os.mknod(_state_file(url, "b"), stat.S_IFSOCK | 0o600)

    outcome = run("purge", "-j", "1", "--url", url)  # one at a time: "c" is not started
    assert outcome.exit_code == 4
    assert outcome.stdout.splitlines() == ["a"]  # deleted before the failure: still named
    assert "purged 1 expired session before the storage failed" in outcome.stderr
    assert "No such device or address" in outcome.stderr
    assert anyio.run(store.list_sessions) == ["b", "c"]

    as_json = run("purge", "-j", "1", "--json", "--url", url)
    assert as_json.exit_code == 4
    result = as_json.json()
    assert (result["purged"], result["sessions"], result["failed"]) == (0, [], [])
    assert result["error"]["exit_code"] == 4
    assert result["error"]["type"] == "StorageUnavailableError"
    assert "No such device or address" in result["error"]["message"]


@pytest.mark.skipif(sys.platform == "win32", reason="a file store shared by two processes")
async def test_purge_spares_a_session_the_application_refreshes_meanwhile(
    tmp_path: Path,
) -> None:
    url = f"file://{tmp_path / 'root'}"
    store = SessionStore.from_url(url)
    expired = [f"old-{index:03d}" for index in range(300)]
    live = [f"new-{index:03d}" for index in range(50)]
    async with store:
        for session_id in expired:
            await store.store_session(session_id, {}, ttl=1e-6)
            await store.store_session(session_id, {}, "checkpoint.json")
        for session_id in live:
            await store.store_session(session_id, {}, ttl=3600)
        await store.store_session("zzz-hot", {"visits": 0}, ttl=1e-6)  # expired, for now

        command = [sys.executable, "-m", "sessionstore", "purge", "--json", "--url", url]
        done = anyio.Event()
        outcome: list[bytes] = []
        refreshes = 0

        async def purge() -> None:
            completed = await anyio.run_process(command)
            outcome.append(completed.stdout)
            done.set()

        async with anyio.create_task_group() as group:
            group.start_soon(purge)
            # Once the purge is under way, the application keeps refreshing the
            # session the purge reaches last.
            while len(await store.list_sessions("old-")) == len(expired):  # noqa: ASYNC110
                await anyio.sleep(0.005)  # polling another process: no event to wait on
            while not done.is_set():
                refreshes += 1
                await store.store_session("zzz-hot", {"visits": refreshes}, ttl=3600)
                await anyio.sleep(0.01)
        output = json.loads(outcome[0])

        assert refreshes > 0
        assert output["purged"] == len(expired)
        assert sorted(output["sessions"]) == expired
        assert await store.list_sessions() == [*live, "zzz-hot"]
        assert await store.load_session("zzz-hot") == {"visits": refreshes}


@pytest.mark.parametrize("as_json", [False, True])
def test_an_interrupted_purge_names_what_it_purged_before(
    run: Run, url: str, store: SessionStore, fake_clock: FakeClock, as_json: bool
) -> None:
    """Ctrl-C stops the purge as a storage failure does: what was deleted before is
    named, then it exits 130."""
    _expired_sessions(store, fake_clock, "a", "b", "c")
    purge = SessionStore.purge_expired

    async def interrupted_after_one(self: SessionStore, **kwargs: Any) -> object:
        on_purged = kwargs["on_purged"]

        def first_then_stop(session_id: str) -> None:
            on_purged(session_id)
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C does

        return await purge(self, **{**kwargs, "concurrency": 1, "on_purged": first_then_stop})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SessionStore, "purge_expired", interrupted_after_one)
        outcome = run("purge", "--url", url, *(["--json"] if as_json else []))
    assert outcome.exit_code == 130
    if as_json:
        result = outcome.json()
        assert result["sessions"] == ["a"]
        assert result["error"]["type"] == "Interrupted"
    else:
        assert outcome.stdout.splitlines() == ["a"]
        assert "purged 1 expired session before it was interrupted" in outcome.stderr
        assert outcome.stderr.endswith("sessionstore: error: interrupted\n")
    assert anyio.run(store.list_sessions) == ["b", "c"]


_PRESS_CTRL_C = """
import signal, sys
from sessionstore import SessionStore
from sessionstore.cli import cli

purge = SessionStore.purge_expired

async def pressed_after_one(self, **kwargs):
    on_purged = kwargs["on_purged"]

    def first_then_press(session_id):
        on_purged(session_id)
        for _ in range(int(sys.argv[2])):
            signal.raise_signal(signal.SIGINT)

    return await purge(self, **{**kwargs, "concurrency": 1, "on_purged": first_then_press})

SessionStore.purge_expired = pressed_after_one
cli(["purge", "--url", sys.argv[1]])
"""


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_ends_the_process(
    url: str, store: SessionStore, tmp_path: Path, presses: int
) -> None:
    """A process, not the runner: an interrupt raised inside the event loop once left
    anyio's worker threads running, and the process hung at exit. The first Ctrl-C
    lets the purge report; a second leaves at once."""

    async def expired() -> None:  # by the real clock: the process has its own
        async with store:
            for session_id in "abc":
                await store.store_session(session_id, {}, ttl=0.001)
        await anyio.sleep(0.01)

    anyio.run(expired)
    script = tmp_path / "press_ctrl_c.py"
    script.write_text(_PRESS_CTRL_C)
    completed = subprocess.run(
        [sys.executable, str(script), url, str(presses)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 130, completed.stderr
    if presses == 1:
        assert completed.stdout == "a\n"
        assert completed.stderr.endswith("sessionstore: error: interrupted\n")
    else:
        assert completed.stderr == "sessionstore: interrupted again: exiting at once\n"
    assert anyio.run(store.list_sessions) == ["b", "c"]
