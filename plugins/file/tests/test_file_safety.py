"""The file backend's safety guarantees: file modes, symlinks refused, nothing
outside the bucket ever touched, and conditional writes with one winner under
real thread concurrency."""

from __future__ import annotations

import os
import socket
import stat
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sessionstore import SessionStore
from sessionstore.errors import ConflictError, InvalidSessionIdError, StoragePermissionError
from sessionstore.names import validate_name
from sessionstore_file import FileBackend

from .conftest import BUCKET, bucket_dir


def operations(backend: FileBackend, path: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Every hook that reads or changes ``path`` (or lists its directory)."""
    directory = path.rsplit("/", 1)[0] + "/"
    return {
        "download": partial(backend.sessionstore_download, bucket=BUCKET, path=path),
        "stat": partial(backend.sessionstore_stat, bucket=BUCKET, path=path),
        "exists": partial(backend.sessionstore_exists, bucket=BUCKET, path=path),
        "upload": partial(
            backend.sessionstore_upload,
            bucket=BUCKET,
            path=path,
            data=b"written",
            if_match=None,
            create_only=False,
        ),
        "delete": partial(backend.sessionstore_delete, bucket=BUCKET, paths=[path], if_match=None),
        "list": partial(
            backend.sessionstore_list, bucket=BUCKET, prefix=directory, cursor=None, limit=None
        ),
    }


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every entry below ``directory`` with its bytes (``None`` for directories)."""
    return {
        str(path.relative_to(directory)): None if path.is_dir() else path.read_bytes()
        for path in sorted(directory.rglob("*"))
    }


# -- modes ---------------------------------------------------------------------------


async def test_modes_are_private(tmp_path: Path) -> None:
    backend = FileBackend(root=tmp_path / "new-root")
    await backend.sessionstore_upload(
        bucket=BUCKET, path="s/f", data=b"x", if_match=None, create_only=False
    )
    await backend.sessionstore_upload(
        bucket=BUCKET, path="s/f", data=b"y", if_match=None, create_only=False
    )
    for directory in (backend.root_dir, bucket_dir(backend), bucket_dir(backend) / "s"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((bucket_dir(backend) / "s" / "f").stat().st_mode) == 0o600


# -- symlinks ------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the root holding one file a session might be named after."""
    target = tmp_path / "outside"
    target.mkdir()
    (target / "state.json").write_bytes(b"secret")
    return target


@pytest.mark.parametrize("operation", ["download", "stat", "exists", "upload", "delete", "list"])
async def test_symlinked_session_directory_is_refused(
    backend: FileBackend, outside: Path, operation: str
) -> None:
    (bucket_dir(backend) / "evil").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    with pytest.raises(PermissionError, match="symlink") as caught:
        await operations(backend, "evil/state.json")[operation]()
    assert str(bucket_dir(backend) / "evil") in str(caught.value)
    assert snapshot(outside) == before
    assert (bucket_dir(backend) / "evil").is_symlink()


@pytest.mark.parametrize("operation", ["download", "stat", "exists", "upload", "delete"])
async def test_symlinked_file_is_refused(
    backend: FileBackend, outside: Path, operation: str
) -> None:
    await backend.sessionstore_upload(
        bucket=BUCKET, path="s/real", data=b"x", if_match=None, create_only=False
    )
    (bucket_dir(backend) / "s" / "state.json").symlink_to(outside / "state.json")
    before = snapshot(outside)
    with pytest.raises(PermissionError, match="symlink"):
        await operations(backend, "s/state.json")[operation]()
    assert snapshot(outside) == before


async def test_symlinks_are_never_listed(backend: FileBackend, outside: Path) -> None:
    """In the bucket directory a symlink is no session: skipped. Inside a session's
    directory it stands where an object would: refused, at every page size, so that
    deleting the session cannot report success and leave it listed for good."""
    await backend.sessionstore_upload(
        bucket=BUCKET, path="s/real", data=b"x", if_match=None, create_only=False
    )
    (bucket_dir(backend) / "evil").symlink_to(outside, target_is_directory=True)
    list_hook = partial(backend.sessionstore_list, bucket=BUCKET, cursor=None)
    for limit in (None, 1):
        assert (await list_hook(prefix="", limit=limit)).entries == ("s/",)
    assert (await list_hook(prefix="s/", limit=None)).entries == ("s/real",)
    (bucket_dir(backend) / "s" / "link").symlink_to(outside / "state.json")
    for limit in (None, 1):
        with pytest.raises(PermissionError, match="symlink") as caught:
            await list_hook(prefix="s/", limit=limit)
        assert caught.value.filename.endswith(f"{BUCKET}/s/link")
    assert snapshot(outside) == {"state.json": b"secret"}


async def test_a_symlink_planted_in_a_session_stops_its_delete_loudly(
    tmp_path: Path, outside: Path
) -> None:
    """Before, delete_session skipped the link, returned False and the session stayed
    listed with no files; now the store says why and deletes nothing."""
    store = SessionStore(backend="file", root=tmp_path / "root")
    await store.store_session("s", {"v": 1})
    await store.store_session("s", {"v": 2}, "cp.json")
    (tmp_path / "root" / "sessions" / "s" / "zz").symlink_to(outside / "state.json")
    for operation in (store.delete_session("s"), store.list_files("s")):
        with pytest.raises(StoragePermissionError, match="symlink"):
            await operation
    assert await store.load_session("s", "cp.json") == {"v": 2}
    assert await store.list_sessions() == ["s"]
    assert snapshot(outside) == {"state.json": b"secret"}


def plant_special_file(directory: Path, name: str, kind: str) -> None:
    """A FIFO or a bound unix socket named ``name`` in ``directory`` (bound by a
    relative name: socket paths are short)."""
    if kind == "fifo":
        os.mkfifo(directory / name)
        return
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(name)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("kind", ["fifo", "socket"])
async def test_a_special_file_planted_in_a_session_is_refused_never_skipped(
    tmp_path: Path, kind: str
) -> None:
    """As for a symlink: skipped, a FIFO or socket would keep its session listed
    after every real file was deleted (delete_session returned False, purge counted
    it). In the bucket directory it is no session, and is skipped."""
    store = SessionStore(backend="file", root=tmp_path / "root")
    await store.store_session("s", {"v": 1})
    bucket = tmp_path / "root" / "sessions"
    plant_special_file(bucket, "stray", kind)
    assert await store.list_sessions() == ["s"]
    plant_special_file(bucket / "s", "zz", kind)
    for operation in (store.delete_session("s"), store.list_files("s")):
        with pytest.raises(StoragePermissionError, match="special file") as caught:
            await operation
        assert str(bucket / "s" / "zz") in str(caught.value)
    assert await store.load_session("s") == {"v": 1}
    assert await store.list_sessions() == ["s"]


async def test_symlinked_bucket_is_refused(tmp_path: Path, outside: Path) -> None:
    backend = FileBackend(root=tmp_path / "root")
    backend.root_dir.mkdir()
    (backend.root_dir / BUCKET).symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    with pytest.raises(PermissionError, match="symlink"):
        await backend.sessionstore_init(bucket=BUCKET)
    for operation in operations(backend, "s/f").values():
        with pytest.raises(PermissionError, match="symlink"):
            await operation()
    assert snapshot(outside) == before


# -- containment ---------------------------------------------------------------------


def _is_valid(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidSessionIdError:
        return False
    return True


valid_names = st.one_of(
    st.text(min_size=1, max_size=30),
    st.text(st.sampled_from("./\\~%2e$ -_*?:\u2215\uff0f\u2024\u00a0"), min_size=1, max_size=12),
).filter(_is_valid)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(session_id=valid_names, filename=valid_names)
@example(session_id="a..", filename="%2e%2e%2f")
@example(session_id="~", filename="$HOME")
@example(session_id="a\u2215b", filename="\uff0e\uff0e")
@example(session_id="x" * 255, filename="\u00e9" * 127)
async def test_no_valid_name_reaches_outside_the_bucket(
    tmp_path: Path, session_id: str, filename: str
) -> None:
    """Whatever names the core accepts, the file lands exactly at
    ``<root>/<bucket>/<session_id>/<filename>`` and nowhere else, and deleting it
    leaves only the bucket directory."""
    base = tmp_path / uuid.uuid4().hex
    backend = FileBackend(root=base / "root")
    path = f"{session_id}/{filename}"
    await backend.sessionstore_upload(
        bucket=BUCKET, path=path, data=b"x", if_match=None, create_only=False
    )
    expected = os.path.join(base, "root", BUCKET, session_id, filename)
    written = [
        os.path.join(directory, name) for directory, _dirs, files in os.walk(base) for name in files
    ]
    assert written == [expected]
    listed = await backend.sessionstore_list(
        bucket=BUCKET, prefix=f"{session_id}/", cursor=None, limit=None
    )
    assert listed.entries == (path,)
    await backend.sessionstore_delete(bucket=BUCKET, paths=[path], if_match=None)
    assert [directory for directory, _dirs, _files in os.walk(base)] == [
        str(base),
        str(base / "root"),
        str(base / "root" / BUCKET),
    ]


# -- concurrency ---------------------------------------------------------------------


async def test_fifty_compare_and_swap_racers_have_one_winner(backend: FileBackend) -> None:
    upload = partial(backend.sessionstore_upload, bucket=BUCKET, path="s/race")
    winners: dict[str, list[int]] = {"create": [], "match": []}

    async def race(kind: str, index: int, if_match: str | None, create_only: bool) -> None:
        try:
            await upload(data=str(index).encode(), if_match=if_match, create_only=create_only)
        except ConflictError:
            return
        winners[kind].append(index)

    async with anyio.create_task_group() as group:
        for index in range(50):
            group.start_soon(race, "create", index, None, True)
    assert len(winners["create"]) == 1
    token = (await backend.sessionstore_stat(bucket=BUCKET, path="s/race")).version
    async with anyio.create_task_group() as group:
        for index in range(50):
            group.start_soon(race, "match", index, token, False)
    assert len(winners["match"]) == 1
    stored = await backend.sessionstore_download(bucket=BUCKET, path="s/race")
    assert stored.data == str(winners["match"][0]).encode()


async def test_concurrent_counter_loses_no_update(backend: FileBackend) -> None:
    """Read-modify-write loops with ``if_match``, interleaved with unconditional
    writes to another file of the session: every increment is kept."""

    async def increment() -> None:
        while True:
            stored = await backend.sessionstore_download(bucket=BUCKET, path="s/count")
            value = int(stored.data) + 1
            try:
                await backend.sessionstore_upload(
                    bucket=BUCKET,
                    path="s/count",
                    data=str(value).encode(),
                    if_match=stored.info.version,
                    create_only=False,
                )
            except ConflictError:
                continue
            return

    await backend.sessionstore_upload(
        bucket=BUCKET, path="s/count", data=b"0", if_match=None, create_only=False
    )
    async with anyio.create_task_group() as group:
        for _ in range(30):
            group.start_soon(increment)
            group.start_soon(
                partial(
                    backend.sessionstore_upload,
                    bucket=BUCKET,
                    path="s/other",
                    data=b"noise",
                    if_match=None,
                    create_only=False,
                )
            )
    assert (await backend.sessionstore_download(bucket=BUCKET, path="s/count")).data == b"30"


async def test_writers_and_deleters_of_one_session_race_cleanly(backend: FileBackend) -> None:
    """Writers racing deleters that remove the session directory never fail and
    never write into a removed directory: the last writes are all readable."""

    async def write(index: int) -> None:
        await backend.sessionstore_upload(
            bucket=BUCKET, path=f"s/f{index % 3}", data=b"x", if_match=None, create_only=False
        )

    async def remove() -> None:
        await backend.sessionstore_delete(
            bucket=BUCKET, paths=["s/f0", "s/f1", "s/f2"], if_match=None
        )

    for _ in range(5):
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(write, index)
                group.start_soon(remove)
        async with anyio.create_task_group() as group:
            for index in range(3):
                group.start_soon(write, index)
        listed = await backend.sessionstore_list(
            bucket=BUCKET, prefix="s/", cursor=None, limit=None
        )
        assert listed.entries == ("s/f0", "s/f1", "s/f2")
    assert sorted(os.listdir(bucket_dir(backend) / "s")) == ["f0", "f1", "f2"]
