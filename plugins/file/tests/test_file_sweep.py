"""The sweep: what killed writers left in the bucket directory goes, nothing else."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from sessionstore import SessionStore
from sessionstore_file import FileBackend, publishing, sweeping
from sessionstore_file.atomic import replace_file

from .conftest import BUCKET, bucket_dir

OLD = time.time() - 2 * sweeping.GRACE_SECONDS


def abandoned_tree(bucket: Path, name: str, *, age: float = OLD) -> Path:
    """A publisher's half-built tree, as a killed one leaves it."""
    tree = bucket / name
    (tree / "deep").mkdir(parents=True)
    (tree / "deep" / "state.json").write_bytes(b"half")
    (tree / "deep" / ".tmp-0a").write_bytes(b"torn")
    os.utime(tree, (age, age))
    return tree


async def test_a_sweep_removes_abandoned_leftovers_and_nothing_else(
    backend: FileBackend, tmp_path: Path
) -> None:
    for path in ("a/state.json", "a/checkpoint", "top"):
        await backend.sessionstore_upload(
            bucket=BUCKET, path=path, data=b"kept", if_match=None, create_only=False
        )
    bucket = bucket_dir(backend)
    abandoned_tree(bucket, ".tmp-dead")
    (bucket / ".tmp-file").write_bytes(b"a killed writer's top-level temporary file")
    abandoned_tree(bucket, ".tmp-young", age=time.time())  # may still be being locked
    live = abandoned_tree(bucket, ".tmp-live")
    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)
    (outside / "inner" / "precious").write_bytes(b"not ours")
    os.symlink(outside, bucket / ".tmp-link")
    os.symlink(outside / "inner" / "precious", bucket / ".tmp-filelink")
    os.mkdir(bucket / ".not-temporary")
    os.utime(bucket / ".not-temporary", (OLD, OLD))

    writer = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(writer, fcntl.LOCK_EX)  # a writer still building its tree
        assert await backend.sessionstore_sweep(bucket=BUCKET) == 2
        assert sorted(entry.name for entry in bucket.iterdir()) == [
            ".not-temporary",
            ".tmp-filelink",
            ".tmp-link",
            ".tmp-live",
            ".tmp-young",
            "a",
            "top",
        ]
    finally:
        os.close(writer)  # the writer is gone: its tree is abandoned now
    assert await backend.sessionstore_sweep(bucket=BUCKET) == 1
    assert not live.exists()
    assert (outside / "inner" / "precious").read_bytes() == b"not ours"
    assert sorted(path.name for path in (bucket / "a").iterdir()) == ["checkpoint", "state.json"]
    assert (bucket / "top").read_bytes() == b"kept"
    assert await backend.sessionstore_sweep(bucket=BUCKET) == 0


async def test_a_sweep_of_a_missing_bucket_removes_nothing(tmp_path: Path) -> None:
    backend = FileBackend(root=tmp_path / "nowhere")
    assert await backend.sessionstore_sweep(bucket=BUCKET) == 0
    assert not (tmp_path / "nowhere").exists()


async def test_purge_expired_sweeps_unless_it_is_a_dry_run(tmp_path: Path) -> None:
    async with SessionStore(backend="file", root=tmp_path, bucket=BUCKET) as store:
        await store.store_session("kept", {"n": 1})
        tree = abandoned_tree(tmp_path / BUCKET, ".tmp-0123456789abcdef")
        assert await store.purge_expired(dry_run=True) == 0
        assert tree.exists()
        assert await store.purge_expired() == 0
        assert not tree.exists()
        assert await store.load_session("kept") == {"n": 1}


async def test_a_sweep_spares_a_tree_a_live_writer_is_still_building(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real publisher, paused after it locked its temporary tree and before the
    file is in it, with the tree aged past the grace period: the lock alone keeps
    it. Released, the writer publishes its session and nothing is left over."""
    reached, release = threading.Event(), threading.Event()

    def paused(*args: Any) -> os.stat_result:
        reached.set()
        release.wait(10)
        return replace_file(*args)

    monkeypatch.setattr(publishing, "replace_file", paused)
    bucket = bucket_dir(backend)
    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: backend.sessionstore_upload(
                bucket=BUCKET, path="new/state.json", data=b"{}", if_match=None, create_only=False
            )
        )
        try:
            assert await anyio.to_thread.run_sync(reached.wait, 10)
            (tree,) = [entry for entry in bucket.iterdir() if entry.name.startswith(".tmp-")]
            os.utime(tree, (OLD, OLD))
            assert await backend.sessionstore_sweep(bucket=BUCKET) == 0
            assert tree.is_dir()
        finally:
            release.set()
    assert [entry.name for entry in bucket.iterdir()] == ["new"]
    assert (bucket / "new" / "state.json").read_bytes() == b"{}"
    assert await backend.sessionstore_sweep(bucket=BUCKET) == 0
