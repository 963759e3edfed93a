"""The memory backend against the hook contract, calling its hooks directly."""

from __future__ import annotations

import itertools
import sys
import threading
from datetime import timedelta
from functools import partial
from importlib.metadata import entry_points

import anyio
import anyio.lowlevel
import pluggy
import pytest

from sessionstore import hookspecs
from sessionstore.contract import HOOK_NAMES, OPTIONAL_HOOKS
from sessionstore.errors import ConflictError
from sessionstore.objects import ListPage, ObjectInfo
from sessionstore.testing import all_pages
from sessionstore.testing.forking import held_in_another_thread, run_in_fork
from sessionstore_memory import MemoryBackend

BUCKET = "test-bucket"


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


async def put(
    backend: MemoryBackend,
    path: str,
    data: bytes = b"x",
    *,
    if_match: str | None = None,
    create_only: bool = False,
) -> ObjectInfo:
    return await backend.sessionstore_upload(
        bucket=BUCKET, path=path, data=data, if_match=if_match, create_only=create_only
    )


async def page(
    backend: MemoryBackend, prefix: str = "", cursor: str | None = None, limit: int | None = None
) -> ListPage:
    return await backend.sessionstore_list(bucket=BUCKET, prefix=prefix, cursor=cursor, limit=limit)


async def list_all(backend: MemoryBackend, prefix: str = "", limit: int | None = None) -> list[str]:
    pages = await all_pages(lambda cursor: page(backend, prefix, cursor, limit), limit=limit)
    return [entry for entries in pages for entry in entries]


async def delete(backend: MemoryBackend, *paths: str, if_match: str | None = None) -> None:
    await backend.sessionstore_delete(bucket=BUCKET, paths=paths, if_match=if_match)


def test_registers_every_hook_with_pluggy() -> None:
    manager = pluggy.PluginManager("sessionstore")
    manager.add_hookspecs(hookspecs)
    plugin = MemoryBackend()
    manager.register(plugin)  # validates each hookimpl's arguments against its spec
    required = set(HOOK_NAMES) - set(OPTIONAL_HOOKS)
    implemented = {caller.name for caller in manager.get_hookcallers(plugin) or []}
    # Nothing to release or sweep, so no sessionstore_close nor sessionstore_sweep.
    assert implemented == required | {"sessionstore_describe"}


def test_entry_point_loads_the_backend() -> None:
    (point,) = entry_points(group="sessionstore.backends", name="memory")
    assert point.load() is MemoryBackend


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe\x80 not utf-8 \xc3\x28"])
async def test_round_trip(backend: MemoryBackend, data: bytes) -> None:
    info = await put(backend, "s/state.json", data)
    stored = await backend.sessionstore_download(bucket=BUCKET, path="s/state.json")
    assert stored.data == data
    assert type(stored.data) is bytes
    assert stored.info == info
    assert (info.path, info.size) == ("s/state.json", len(data))


async def test_upload_copies_mutable_data(backend: MemoryBackend) -> None:
    buffer = bytearray(b"abc")
    await put(backend, "s/f", buffer)  # type: ignore[arg-type]
    buffer[0] = ord("z")
    stored = await backend.sessionstore_download(bucket=BUCKET, path="s/f")
    assert stored.data == b"abc"


async def test_overwrite_changes_version_and_keeps_created(backend: MemoryBackend) -> None:
    first = await put(backend, "s/f", b"one")
    second = await put(backend, "s/f", b"two!")
    assert second.version != first.version
    assert second.created == first.created
    assert second.modified >= first.modified
    assert await backend.sessionstore_stat(bucket=BUCKET, path="s/f") == second
    await delete(backend, "s/f")
    await anyio.sleep(0.002)
    third = await put(backend, "s/f")
    assert third.created > first.created
    assert third.version not in (first.version, second.version)


async def test_times_are_aware_utc(backend: MemoryBackend) -> None:
    info = await put(backend, "s/f")
    for moment in (info.modified, info.created):
        assert moment.utcoffset() == timedelta(0)


async def test_missing_objects(backend: MemoryBackend) -> None:
    await put(backend, "s/f")
    for bucket, path in [("never-made", "s/f"), (BUCKET, "s/g"), (BUCKET, "t/f"), (BUCKET, "s")]:
        with pytest.raises(FileNotFoundError, match=path):
            await backend.sessionstore_download(bucket=bucket, path=path)
        with pytest.raises(FileNotFoundError, match=bucket):
            await backend.sessionstore_stat(bucket=bucket, path=path)
        assert not await backend.sessionstore_exists(bucket=bucket, path=path)
    assert await backend.sessionstore_exists(bucket=BUCKET, path="s/f")


async def test_init_is_idempotent_and_keeps_data(backend: MemoryBackend) -> None:
    await backend.sessionstore_init(bucket=BUCKET)
    assert await list_all(backend) == []
    await put(backend, "s/f")
    await backend.sessionstore_init(bucket=BUCKET)
    assert await list_all(backend) == ["s/"]


async def test_if_match(backend: MemoryBackend) -> None:
    with pytest.raises(ConflictError, match=r"s/f.*no object"):
        await put(backend, "s/f", if_match="1")
    assert await list_all(backend) == []  # a failed write leaves no directory behind
    old = await put(backend, "s/f", b"old")
    new = await put(backend, "s/f", b"new", if_match=old.version)
    with pytest.raises(ConflictError, match="s/f"):
        await put(backend, "s/f", b"stale", if_match=old.version)
    stored = await backend.sessionstore_download(bucket=BUCKET, path="s/f")
    assert (stored.data, stored.info) == (b"new", new)


async def test_create_only(backend: MemoryBackend) -> None:
    info = await put(backend, "s/f", b"first", create_only=True)
    with pytest.raises(ConflictError, match=r"s/f.*exists"):
        await put(backend, "s/f", b"second", create_only=True)
    assert await backend.sessionstore_stat(bucket=BUCKET, path="s/f") == info


@pytest.mark.parametrize("mode", ["create_only", "if_match"])
async def test_concurrent_conditional_writers_one_wins(backend: MemoryBackend, mode: str) -> None:
    token = None if mode == "create_only" else (await put(backend, "s/f")).version
    winners: list[int] = []

    async def racer(i: int) -> None:
        await anyio.lowlevel.checkpoint()  # let every racer start before any writes
        try:
            await put(backend, "s/f", str(i).encode(), if_match=token, create_only=token is None)
        except ConflictError:
            return
        winners.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(racer, i)
    assert len(winners) == 1
    stored = await backend.sessionstore_download(bucket=BUCKET, path="s/f")
    assert stored.data == str(winners[0]).encode()


def test_compare_and_swap_from_threads_loses_no_update() -> None:
    backend = MemoryBackend()
    anyio.run(put, backend, "s/counter", b"0")

    async def increment(times: int) -> None:
        for _ in range(times):
            while True:
                stored = await backend.sessionstore_download(bucket=BUCKET, path="s/counter")
                value = int(stored.data) + 1
                try:
                    await put(backend, "s/counter", b"%d" % value, if_match=stored.info.version)
                    break
                except ConflictError:
                    continue

    threads = [threading.Thread(target=anyio.run, args=(increment, 100)) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so a missing lock loses updates
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    stored = anyio.run(lambda: backend.sessionstore_download(bucket=BUCKET, path="s/counter"))
    assert stored.data == b"800"


def test_a_fork_while_another_thread_holds_the_lock_leaves_the_child_a_working_store(
    anyio_backend: str,
) -> None:
    """A child forked while another thread is inside an operation (holding the lock)
    reads and writes its copy of the data: its lock is not the parent's, held forever."""
    backend = MemoryBackend()
    anyio.run(put, backend, "s/f", b"before", backend=anyio_backend)

    async def read_then_write() -> None:
        stored = await backend.sessionstore_download(bucket=BUCKET, path="s/f")
        assert stored.data == b"before"
        await put(backend, "s/f", b"child", if_match=stored.info.version)

    with held_in_another_thread(backend._lock):
        run_in_fork(partial(anyio.run, read_then_write, backend=anyio_backend))
    download = partial(backend.sessionstore_download, bucket=BUCKET, path="s/f")
    stored = anyio.run(download, backend=anyio_backend)
    assert stored.data == b"before"  # the child wrote its own copy


async def test_delete_many_and_absent(backend: MemoryBackend) -> None:
    for path in ["a/1", "a/2", "b/1", "c"]:
        await put(backend, path)
    await delete(backend, "a/1", "b/1", "b/nope", "zz/1", "c")
    assert await list_all(backend) == ["a/"]
    assert await list_all(backend, "a/") == ["a/2"]
    await delete(backend)
    await delete(backend, "a/1")  # already gone: still fine
    await backend.sessionstore_delete(bucket="never-made", paths=["a/2"], if_match=None)
    assert await backend.sessionstore_exists(bucket=BUCKET, path="a/2")


async def test_delete_if_match(backend: MemoryBackend) -> None:
    old = await put(backend, "s/f")
    new = await put(backend, "s/f")
    with pytest.raises(ConflictError, match="s/f"):
        await delete(backend, "s/f", if_match=old.version)
    assert await backend.sessionstore_exists(bucket=BUCKET, path="s/f")
    await delete(backend, "s/f", if_match=new.version)
    assert not await backend.sessionstore_exists(bucket=BUCKET, path="s/f")
    with pytest.raises(ConflictError, match=r"s/f.*no object"):
        await delete(backend, "s/f", if_match=new.version)


async def test_listing(backend: MemoryBackend) -> None:
    paths = ["top", "a/state.json", "a/ckpt-1", "a/sub/deep", "ab/x", "a-b/x", "a.txt", "b/y"]
    for path in paths:
        await put(backend, path)
    # Ascending by full path: '-' and '.' sort before '/', so "a-b/" < "a.txt" < "a/".
    assert await list_all(backend) == ["a-b/", "a.txt", "a/", "ab/", "b/", "top"]
    assert await list_all(backend, "a/") == ["a/ckpt-1", "a/state.json", "a/sub/"]
    assert await list_all(backend, "a/sub/") == ["a/sub/deep"]
    assert await list_all(backend, "missing/") == []
    assert await list_all(backend, "top/") == []  # an object is not a directory
    assert await backend.sessionstore_list(
        bucket="never-made", prefix="", cursor=None, limit=None
    ) == ListPage(entries=())


async def test_listing_filters_by_name_prefix(backend: MemoryBackend) -> None:
    for path in ["a/1", "ab/1", "abc", "b/1", "a/state.json", "a/ckpt-1", "a/ckpt-2"]:
        await put(backend, path)
    assert await list_all(backend, "a") == ["a/", "ab/", "abc"]
    assert await list_all(backend, "ab") == ["ab/", "abc"]
    assert await list_all(backend, "abcd") == []
    assert await list_all(backend, "a/ckpt-") == ["a/ckpt-1", "a/ckpt-2"]
    assert await list_all(backend, "a/ckpt-", limit=1) == ["a/ckpt-1", "a/ckpt-2"]
    assert await page(backend, "a/ckpt-", limit=2) == ListPage(("a/ckpt-1", "a/ckpt-2"))


async def test_pagination_has_no_duplicates_or_gaps(backend: MemoryBackend) -> None:
    sessions = [f"s{i:04d}/" for i in range(1000)]
    for session in reversed(sessions):
        await put(backend, session + "state.json")
    for limit in (1, 7, 100, 999, 1000, 1001):
        assert await list_all(backend, limit=limit) == sessions
    first = await page(backend, limit=100)
    assert first == ListPage(tuple(sessions[:100]), cursor="s0099/")
    last = await page(backend, cursor="s0899/", limit=100)
    assert last == ListPage(tuple(sessions[900:]))  # exactly full and nothing after: the end


async def test_pagination_while_entries_change(backend: MemoryBackend) -> None:
    # Even sessions exist at the start; those divisible by 6 are deleted on the way,
    # odd ones are created on the way. Every other even one exists throughout.
    for i in range(0, 1000, 2):
        await put(backend, f"s{i:04d}/f")
    stable = {f"s{i:04d}/" for i in range(0, 1000, 2) if i % 6}
    created_ahead: set[str] = set()
    seen: list[str] = []
    cursor: str | None = None
    for step in itertools.count(1):
        result = await page(backend, cursor=cursor, limit=37)
        seen += result.entries
        if result.cursor is None:
            break
        cursor = result.cursor
        ahead, behind = min(995, step * 74 + 60), max(0, step * 74 - 60)
        await delete(backend, cursor + "f", f"s{ahead - ahead % 6:04d}/f")
        await delete(backend, f"s{behind - behind % 6:04d}/f")
        await put(backend, f"s{behind | 1:04d}/f")
        await put(backend, f"s{ahead | 1:04d}/f")
        if f"s{ahead | 1:04d}/" > cursor:
            created_ahead.add(f"s{ahead | 1:04d}/")
    assert seen == sorted(set(seen))  # ascending, no duplicates
    assert stable <= set(seen)
    assert created_ahead <= set(seen)
    assert len(created_ahead) > 10


async def test_cursor_survives_deletion_of_its_entry(backend: MemoryBackend) -> None:
    for name in "abcd":
        await put(backend, f"{name}/f")
    first = await page(backend, limit=2)
    assert first.cursor == "b/"
    await delete(backend, "b/f")
    assert await page(backend, cursor=first.cursor) == ListPage(("c/", "d/"))


async def test_emptied_directories_vanish(backend: MemoryBackend) -> None:
    await put(backend, "s/a/b/c/deep")
    await put(backend, "s/a/keep")
    await delete(backend, "s/a/b/c/deep")
    assert await list_all(backend, "s/a/") == ["s/a/keep"]
    assert await list_all(backend, "s/a/b/") == []
    await delete(backend, "s/a/keep")
    assert await list_all(backend) == []
    await put(backend, "s/again")
    assert await list_all(backend) == ["s/"]


async def test_object_and_directory_of_one_name_coexist(backend: MemoryBackend) -> None:
    await put(backend, "x", b"object")
    await put(backend, "x/y", b"below")
    assert await list_all(backend) == ["x", "x/"]
    await delete(backend, "x")
    assert await list_all(backend) == ["x/"]
    assert (await backend.sessionstore_download(bucket=BUCKET, path="x/y")).data == b"below"


async def test_instances_and_buckets_do_not_share_data(backend: MemoryBackend) -> None:
    other = MemoryBackend()
    await put(backend, "s/f")
    assert not await other.sessionstore_exists(bucket=BUCKET, path="s/f")
    assert await other.sessionstore_list(bucket=BUCKET, prefix="", cursor=None, limit=None) == (
        ListPage(entries=())
    )
    assert not await backend.sessionstore_exists(bucket="other-bucket", path="s/f")


async def test_rejects_misuse(backend: MemoryBackend) -> None:
    with pytest.raises(ValueError, match="empty segment"):
        await put(backend, "s//f")
    with pytest.raises(ValueError, match="one path"):
        await delete(backend, "a", "b", if_match="1")
    with pytest.raises(TypeError):
        await backend.sessionstore_delete(bucket=BUCKET, paths="s/f", if_match=None)
    with pytest.raises(ValueError, match="limit"):
        await page(backend, limit=0)
    with pytest.raises(ValueError, match="cursor"):
        await page(backend, "a/", cursor="b/x")
