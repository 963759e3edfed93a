"""``sessionstore copy``: file → S3 (moto) → file, byte for byte, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from emulators.s3 import new_bucket_name
from sessionstore import SessionStore, StorageUnavailableError, StoredObject, copy_sessions

from .conftest import Run

CONFLICT = 3
CORRUPT = 5


def s3_url(endpoint: str, bucket: str) -> str:
    """Credentials come from the environment (the ``aws_environment`` fixture)."""
    return (
        f"s3://{bucket}?endpoint_url={endpoint}&region=us-east-1&create_bucket=true"
        "&connect_timeout=2&read_timeout=20&retries=1"
    )


async def populate(store: SessionStore, sessions: int) -> int:
    """Sessions with 0-2 checkpoints each (one already expired); the file count."""
    limiter = anyio.CapacityLimiter(16)
    files = 0

    async def one(index: int) -> None:
        nonlocal files
        async with limiter:
            session_id = f"user-{index:04d}"
            ttl = 1e-6 if index == 7 else None  # expired: copied as it is stored
            await store.store_session(session_id, {"n": index, "tags": ["a", "é"]}, ttl=ttl)
            for checkpoint in range(index % 3):
                await store.store_session(
                    session_id, {"step": checkpoint, "blob": "x" * index}, f"cp-{checkpoint}.json"
                )
            files += 1 + index % 3

    async with store, anyio.create_task_group() as group:
        for index in range(sessions):
            group.start_soon(one, index)
    return files


async def contents(store: SessionStore) -> dict[str, bytes]:
    """Every file of every session: ``"<id>/<file>"`` → stored bytes."""
    found: dict[str, bytes] = {}
    async with store:
        async for session_id in store.iter_sessions():
            for filename in await store.list_files(session_id):
                stored = await store.load_raw(session_id, filename)
                assert stored is not None
                found[f"{session_id}/{filename}"] = stored.data
    return found


def test_copy_to_s3_and_back_then_again_copies_nothing(
    run: Run, url: str, s3_endpoint: str, tmp_path: Path
) -> None:
    source = SessionStore.from_url(url)
    files = anyio.run(populate, source, 200)
    cloud = s3_url(s3_endpoint, new_bucket_name())
    back = f"file://{tmp_path / 'back'}"

    there = run("copy", url, cloud, "--verify", "--progress", "--json")
    assert there.exit_code == 0, there.stdout + there.stderr
    report = there.json()
    assert report["sessions"] == 200
    assert report["files_copied"] == report["files_verified"] == files
    assert report["files_skipped"] == 0
    assert report["failed"] == []
    assert "200/200" in there.stderr  # the progress bar's session count

    home = run("copy", cloud, back, "--json", "-j", "8")
    assert home.exit_code == 0, home.stdout
    assert home.json()["files_copied"] == files

    original = anyio.run(contents, source)
    assert len(original) == files
    assert anyio.run(contents, SessionStore.from_url(cloud)) == original
    assert anyio.run(contents, SessionStore.from_url(back)) == original
    assert report["bytes_copied"] == sum(len(data) for data in original.values())

    again = run("copy", url, cloud, "--json")
    assert again.json()["files_copied"] == 0
    assert again.json()["files_skipped"] == files
    human = run("copy", cloud, back)
    assert human.exit_code == 0
    assert f"0 files copied (0 bytes), {files} already identical" in human.stderr


def test_interrupted_copy_resumes(run: Run, url: str, s3_endpoint: str) -> None:
    source = SessionStore.from_url(url)
    files = anyio.run(populate, source, 300)
    bucket = new_bucket_name()
    cloud = s3_url(s3_endpoint, bucket)
    destination = SessionStore.from_url(cloud)

    async def copied_so_far() -> int:
        async with destination:
            return len([s async for s in destination.iter_sessions()])

    command = [sys.executable, "-m", "sessionstore", "copy", url, cloud, "-j", "2"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
        deadline = time.monotonic() + 60
        while anyio.run(copied_so_far) < 40:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the copy made no progress"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    at_kill = anyio.run(copied_so_far)
    assert 40 <= at_kill < 300

    resumed = run("copy", url, cloud, "--verify", "--json")
    assert resumed.exit_code == 0
    report = resumed.json()
    assert report["files_copied"] + report["files_skipped"] == files
    assert report["files_skipped"] >= at_kill  # at least a state.json per session seen
    assert report["files_copied"] > 0
    assert anyio.run(contents, destination) == anyio.run(contents, source)


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_copy_by_prefix_keeps_what_it_does_not_copy(
    run: Run, url: str, tmp_path: Path, concurrency: str
) -> None:
    source = SessionStore.from_url(url)
    destination_url = f"file://{tmp_path / 'dst'}"
    destination = SessionStore.from_url(destination_url)

    async def prepare() -> None:
        async with source, destination:
            for session_id in ("keep-1", "keep-2", "skip-1"):
                await source.store_session(session_id, {"id": session_id})
            await destination.store_session("keep-1", {"old": True})
            await destination.store_session("keep-1", {"mine": True}, "extra.json")
            await destination.store_session("elsewhere", {"mine": True})

    anyio.run(prepare)
    outcome = run("copy", url, destination_url, "--prefix", "keep-", "-j", concurrency, "--json")
    assert outcome.json()["files_copied"] == 2
    copied = anyio.run(contents, destination)
    original = anyio.run(contents, source)
    assert copied["keep-1/state.json"] == original["keep-1/state.json"]  # replaced
    assert copied["keep-2/state.json"] == original["keep-2/state.json"]
    assert "skip-1/state.json" not in copied
    # Never deletes: files only the destination has stay.
    assert "keep-1/extra.json" in copied
    assert "elsewhere/state.json" in copied
    assert set(anyio.run(contents, source)) == set(original)


def test_the_summary_counts_one_session_in_the_singular(run: Run, url: str, tmp_path: Path) -> None:
    anyio.run(populate, SessionStore.from_url(url), 1)
    outcome = run("copy", url, f"file://{tmp_path / 'dst'}", "--no-progress")
    assert outcome.exit_code == 0
    assert outcome.stderr.startswith("1 session: "), outcome.stderr


def test_undecodable_source_file_is_reported_and_the_rest_copied(
    run: Run, url: str, tmp_path: Path
) -> None:
    source = SessionStore.from_url(url)
    anyio.run(populate, source, 5)
    [broken] = (tmp_path / "root").rglob("user-0003/state.json")
    broken.write_bytes(b"\x00garbage")
    destination_url = f"file://{tmp_path / 'dst'}"

    outcome = run("copy", url, destination_url)
    assert outcome.exit_code == CORRUPT
    assert "not copied: user-0003/state.json: not a session document" in outcome.stderr
    copied = anyio.run(contents, SessionStore.from_url(destination_url))
    assert "user-0003/state.json" not in copied
    assert "user-0004/state.json" in copied

    as_json = run("copy", url, destination_url, "--json")
    assert as_json.exit_code == CORRUPT
    [failed] = as_json.json()["failed"]
    assert failed["file"] == "user-0003/state.json"
    assert failed["error"]["type"] == "CorruptSessionError"
    assert failed["error"]["exit_code"] == CORRUPT
    assert "not a session document" in failed["error"]["message"]


def test_files_changed_at_the_destination_meanwhile_exit_3(
    run: Run, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only conflicts: running the copy again finishes it, so not 5 ("corrupt")."""
    anyio.run(populate, SessionStore.from_url(url), 3)
    destination_url = f"file://{tmp_path / 'dst'}"
    assert run("copy", url, destination_url).exit_code == 0
    anyio.run(populate, SessionStore.from_url(url), 3)  # new versions to copy over
    read_raw = SessionStore.load_raw

    async def written_meanwhile(
        self: SessionStore, session_id: str, filename: str = "state.json"
    ) -> StoredObject | None:
        """At the destination, another writer replaces user-0001's state right
        after the copy reads it."""
        read = await read_raw(self, session_id, filename)
        if self.settings.options["root"] == str(tmp_path / "dst") and session_id == "user-0001":
            await self.store_session(session_id, {"written": "meanwhile"})
        return read

    monkeypatch.setattr(SessionStore, "load_raw", written_meanwhile)
    outcome = run("copy", url, destination_url, "--json")
    assert outcome.exit_code == CONFLICT, outcome.stdout
    [failed] = outcome.json()["failed"]
    assert failed["file"] == "user-0001/state.json"
    assert failed["error"]["type"] == "ConflictError"
    assert failed["error"]["message"] == "changed at the destination during the copy"
    monkeypatch.undo()
    kept = anyio.run(SessionStore.from_url(destination_url).load_session, "user-0001")
    assert kept == {"written": "meanwhile"}


def test_unreachable_destination_stops_the_copy_with_one_line(run: Run, url: str) -> None:
    source = SessionStore.from_url(url)
    anyio.run(populate, source, 20)
    dead = "s3://bucket?endpoint_url=http://127.0.0.1:9&key=k&secret=hunter2&retries=0"
    outcome = run("copy", url, dead, "-j", "4")
    assert outcome.exit_code == 4
    [line] = outcome.stderr.splitlines()
    assert line.startswith("sessionstore: error: s3 backend failed")
    assert "hunter2" not in line


async def test_copy_sessions_raises_the_storage_error_itself(tmp_path: Path) -> None:
    """Not an exception group: callers catch StorageUnavailableError as usual."""
    source = SessionStore.from_url(f"file://{tmp_path}")
    await populate(source, 10)
    dead = SessionStore.from_url(
        "gcs://bucket?endpoint_url=http://127.0.0.1:9&token=anon&retries=0"
    )
    with pytest.raises(StorageUnavailableError):
        await copy_sessions(source, dead, concurrency=4)


@pytest.mark.parametrize("side", ["--source-option", "--destination-option"])
def test_a_malformed_side_option_is_named(run: Run, side: str) -> None:
    outcome = run("copy", "memory://", "memory://", side, "root", "--json")
    assert outcome.exit_code == 2
    assert outcome.json()["error"]["message"] == f"{side} wants KEY=VALUE, got 'root'"


@pytest.mark.parametrize(
    ("source", "destination", "side"),
    [("nosuch://bucket", "memory://", "SRC_URL"), ("memory://", "s3://x", "DST_URL")],
)
def test_a_wrong_url_is_named_by_its_side(
    run: Run, source: str, destination: str, side: str
) -> None:
    outcome = run("copy", source, destination)
    assert outcome.exit_code == 2
    [line] = outcome.stderr.splitlines()
    assert line.startswith(f"sessionstore: error: {side}: "), line


def test_a_name_the_destination_cannot_hold_is_reported_and_the_rest_copied(
    run: Run, url: str, folding_mount: Path, tmp_path: Path
) -> None:
    """Into a file store on a volume that ignores case, ``Chat`` and ``chat`` cannot
    both go: the second is left out and named, the rest copied, exit 5 (running the
    copy again would not finish it)."""

    async def populate_cases() -> None:
        async with SessionStore.from_url(url) as source:
            for session_id in ("Chat", "chat", "other"):
                await source.store_session(session_id, {"id": session_id})

    anyio.run(populate_cases)
    destination_url = f"file://{folding_mount / tmp_path.name}"
    outcome = run("copy", url, destination_url, "--json", "-j", "1")  # in order: Chat first
    assert outcome.exit_code == CORRUPT, outcome.stdout
    [failed] = outcome.json()["failed"]
    assert failed["file"] == "chat/state.json"
    assert failed["error"]["type"] == "InvalidSessionIdError"
    assert "'Chat' is stored there" in failed["error"]["message"]
    copied = anyio.run(contents, SessionStore.from_url(destination_url))
    assert sorted(copied) == ["Chat/state.json", "other/state.json"]


def test_a_store_option_s_default_ttl_is_in_seconds(run: Run, tmp_path: Path) -> None:
    """``--source-option default_ttl=5`` was handed on as text, which the library
    refused in its own words ("... (or a timedelta) ..."); now seconds, as in a URL."""
    source, destination = f"file://{tmp_path / 'a'}", f"file://{tmp_path / 'b'}"
    assert run("copy", source, destination, "--source-option", "default_ttl=5").exit_code == 0
    outcome = run("copy", source, destination, "--destination-option", "default_ttl=x")
    assert outcome.exit_code == 2
    assert "--destination-option default_ttl must be a number of seconds > 0, got 'x'" in (
        outcome.stderr
    )
