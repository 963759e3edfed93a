"""The file backend against the hook contract, calling its hooks directly on a
real directory (no mocks)."""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from sessionstore import SessionStore
from sessionstore.errors import ConfigurationError, ConflictError
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.registry import load_backend
from sessionstore.settings import converter
from sessionstore.testing import all_pages
from sessionstore_file import FileBackend, listing, reading, writing
from sessionstore_file.dirs import open_deepest
from sessionstore_file.locking import BUSY
from sessionstore_file.root import ENV_ROOT

from .conftest import BUCKET, bucket_dir


async def put(
    backend: FileBackend,
    path: str,
    data: bytes = b"x",
    *,
    if_match: str | None = None,
    create_only: bool = False,
) -> ObjectInfo:
    return await backend.sessionstore_upload(
        bucket=BUCKET, path=path, data=data, if_match=if_match, create_only=create_only
    )


async def get(backend: FileBackend, path: str) -> StoredObject:
    return await backend.sessionstore_download(bucket=BUCKET, path=path)


async def stat(backend: FileBackend, path: str) -> ObjectInfo:
    return await backend.sessionstore_stat(bucket=BUCKET, path=path)


async def exists(backend: FileBackend, path: str) -> bool:
    return await backend.sessionstore_exists(bucket=BUCKET, path=path)


async def delete(backend: FileBackend, *paths: str, if_match: str | None = None) -> None:
    await backend.sessionstore_delete(bucket=BUCKET, paths=list(paths), if_match=if_match)


async def page(
    backend: FileBackend, prefix: str = "", cursor: str | None = None, limit: int | None = None
) -> ListPage:
    return await backend.sessionstore_list(bucket=BUCKET, prefix=prefix, cursor=cursor, limit=limit)


async def list_all(backend: FileBackend, prefix: str = "", limit: int | None = None) -> list[str]:
    pages = await all_pages(lambda cursor: page(backend, prefix, cursor, limit), limit=limit)
    return [entry for entries in pages for entry in entries]


# -- round trips and versions ------------------------------------------------------

PAYLOADS = {
    "empty": b"",
    "one-byte": b"\x00",
    "not-utf8": bytes(range(256)) + b"\xff\xfe\xc3\x28",
    "10MB": random.Random(3).randbytes(10 * 1024 * 1024),
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
async def test_round_trip(backend: FileBackend, payload: str) -> None:
    data = PAYLOADS[payload]
    info = await put(backend, "s/blob", data)
    stored = await get(backend, "s/blob")
    assert stored.data == data
    assert stored.info == info
    assert info.size == len(data)
    assert (bucket_dir(backend) / "s" / "blob").read_bytes() == data


async def test_info_fields(backend: FileBackend) -> None:
    before = datetime.now(timezone.utc)
    info = await put(backend, "s/f", b"12345")
    assert info.path == "s/f"
    assert info.size == 5
    assert info.modified.utcoffset() == timedelta(0)
    assert info.created == info.modified  # every write is a new file
    assert before - timedelta(seconds=1) <= info.modified <= datetime.now(timezone.utc)
    assert await stat(backend, "s/f") == info
    status = (bucket_dir(backend) / "s" / "f").stat()
    assert info.version == f"{status.st_ino:x}-{status.st_mtime_ns:x}-{status.st_size:x}"


async def test_overwrite_replaces_bytes_and_version(backend: FileBackend) -> None:
    first = await put(backend, "s/f", b"one")
    second = await put(backend, "s/f", b"two!")
    assert second.version != first.version
    assert await get(backend, "s/f") == StoredObject(data=b"two!", info=second)


async def test_rapid_same_size_writes_all_get_distinct_versions(backend: FileBackend) -> None:
    infos = [await put(backend, "s/f", b"same") for _ in range(200)]
    assert len({info.version for info in infos}) == 200
    mtimes = [int(info.version.split("-")[1], 16) for info in infos]
    assert mtimes == sorted(set(mtimes)), "each version's mtime must pass the previous one"


async def test_versions_stay_distinct_across_delete_and_recreate(backend: FileBackend) -> None:
    versions = set()
    for _ in range(50):
        versions.add((await put(backend, "s/f", b"same")).version)
        await delete(backend, "s/f")
    assert len(versions) == 50


async def test_new_version_is_stamped_after_a_future_mtime(backend: FileBackend) -> None:
    """A clock behind the current file's mtime still yields a later, new token."""
    await put(backend, "s/f", b"old")
    future = time.time_ns() + 3600 * 10**9
    os.utime(bucket_dir(backend) / "s" / "f", ns=(future, future))
    stale = (await stat(backend, "s/f")).version
    fresh = await put(backend, "s/f", b"new")
    assert fresh.version != stale
    assert int(fresh.version.split("-")[1], 16) > future


async def test_a_write_keeps_its_own_mtime_when_already_past_the_old_one(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting the times is a system call every write would pay: it is made only
    when the kernel's (coarse) stamp does not pass the replaced version's."""
    await put(backend, "s/f", b"old")
    past = time.time_ns() - 3600 * 10**9
    os.utime(bucket_dir(backend) / "s" / "f", ns=(past, past))
    calls: list[object] = []
    real_utime = os.utime

    def utime(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        real_utime(*args, **kwargs)

    monkeypatch.setattr(os, "utime", utime)
    fresh = await put(backend, "s/f", b"new")
    assert calls == []
    assert int(fresh.version.split("-")[1], 16) > past
    assert fresh == await stat(backend, "s/f")


@pytest.mark.parametrize("stated", [0, 3, 49_999, 100_000])
def test_a_read_goes_on_to_the_end_when_the_file_is_not_the_size_fstat_said(
    stated: int,
) -> None:
    """One read of exactly the stated size is taken as the whole object (objects are
    never changed in place); after any other first read (a file someone else
    changed meanwhile), reading goes on to the end. A pipe stands in for the file."""
    data = random.Random(5).randbytes(50_000)  # fits a pipe's buffer
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
        os.close(write_end)
        assert reading._read_all(read_end, stated) == data
    finally:
        os.close(read_end)


async def test_missing_objects(backend: FileBackend) -> None:
    for path in ("nobody/f", "s/f", "s"):
        with pytest.raises(FileNotFoundError):
            await get(backend, path)
        with pytest.raises(FileNotFoundError):
            await stat(backend, path)
        assert await exists(backend, path) is False
        await put(backend, "s/other")  # later rounds: the session exists
    assert await exists(backend, "s/other") is True


async def test_missing_bucket_reads_as_empty(tmp_path: Path) -> None:
    backend = FileBackend(root=tmp_path)
    with pytest.raises(FileNotFoundError):
        await get(backend, "s/f")
    assert await exists(backend, "s/f") is False
    assert await page(backend) == ListPage(entries=())
    await delete(backend, "s/f")
    with pytest.raises(ConflictError):
        await delete(backend, "s/f", if_match="1-2-3")


async def test_upload_creates_a_missing_bucket(tmp_path: Path) -> None:
    backend = FileBackend(root=tmp_path / "new")
    await put(backend, "s/f", b"x")
    assert (await get(backend, "s/f")).data == b"x"


async def test_init_is_idempotent(backend: FileBackend) -> None:
    await put(backend, "s/f", b"kept")
    await backend.sessionstore_init(bucket=BUCKET)
    assert (await get(backend, "s/f")).data == b"kept"


async def test_failed_write_leaves_no_temporary_file(backend: FileBackend) -> None:
    await put(backend, "s/sub/f")
    with pytest.raises(IsADirectoryError):
        await put(backend, "s/sub", b"cannot replace a directory")
    assert sorted(os.listdir(bucket_dir(backend) / "s")) == ["sub"]


# -- conditional writes --------------------------------------------------------------


async def test_if_match(backend: FileBackend) -> None:
    v1 = await put(backend, "s/f", b"v1")
    v2 = await put(backend, "s/f", b"v2", if_match=v1.version)
    with pytest.raises(ConflictError, match="expected version"):
        await put(backend, "s/f", b"stale", if_match=v1.version)
    assert (await get(backend, "s/f")).info == v2
    with pytest.raises(ConflictError, match="no object"):
        await put(backend, "s/absent", b"x", if_match=v2.version)
    assert not await exists(backend, "s/absent")


async def test_create_only(backend: FileBackend) -> None:
    first = await put(backend, "s/f", b"first", create_only=True)
    with pytest.raises(ConflictError, match="already exists"):
        await put(backend, "s/f", b"second", create_only=True)
    assert await get(backend, "s/f") == StoredObject(data=b"first", info=first)


async def test_conditional_delete(backend: FileBackend) -> None:
    old = await put(backend, "s/f", b"1")
    new = await put(backend, "s/f", b"2")
    with pytest.raises(ConflictError):
        await delete(backend, "s/f", if_match=old.version)
    assert (await get(backend, "s/f")).data == b"2"
    await delete(backend, "s/f", if_match=new.version)
    assert not await exists(backend, "s/f")
    with pytest.raises(ConflictError):
        await delete(backend, "s/f", if_match=new.version)


async def test_a_conflict_names_the_object_not_where_the_store_lives(
    backend: FileBackend,
) -> None:
    """Applications show conflicts to their users: the message names the object in
    its bucket, as the other backends do, and never the store's folder on this host."""
    first = await put(backend, "s/f", b"1")
    await put(backend, "s/f", b"2")
    attempts = [
        put(backend, "s/f", b"x", create_only=True),
        put(backend, "s/f", b"x", if_match=first.version),
        put(backend, "s/new/f", b"x", if_match=first.version),  # in a missing folder
        delete(backend, "s/f", if_match=first.version),
        delete(backend, "s/gone/f", if_match=first.version),
    ]
    for attempt in attempts:
        with pytest.raises(ConflictError) as raised:
            await attempt
        assert f"in bucket {BUCKET!r}" in str(raised.value)
        assert os.fspath(backend.root_dir) not in str(raised.value)


async def test_if_match_needs_one_path(backend: FileBackend) -> None:
    with pytest.raises(ValueError, match="exactly one path"):
        await delete(backend, "s/a", "s/b", if_match="1-2-3")


# -- delete --------------------------------------------------------------------------


async def test_delete_present_and_absent(backend: FileBackend) -> None:
    for name in ("a", "b", "c"):
        await put(backend, f"s/{name}")
    await delete(backend, "s/a", "s/missing", "s/c", "nobody/f")
    assert await list_all(backend, "s/") == ["s/b"]
    await delete(backend, "s/a", "s/c")
    assert await exists(backend, "s/b")


async def test_emptied_session_directory_is_removed_with_stale_temp_files(
    backend: FileBackend,
) -> None:
    await put(backend, "gone/a")
    await put(backend, "gone/b")
    await put(backend, "kept/a")
    (bucket_dir(backend) / "gone" / ".tmp-0123456789abcdef").write_bytes(b"crashed writer")
    await delete(backend, "gone/a", "gone/b")
    assert sorted(os.listdir(bucket_dir(backend))) == ["kept"]
    assert await list_all(backend) == ["kept/"]


async def test_foreign_hidden_file_keeps_the_directory(backend: FileBackend) -> None:
    await put(backend, "s/a")
    (bucket_dir(backend) / "s" / ".keep").write_bytes(b"")
    await delete(backend, "s/a")
    assert os.listdir(bucket_dir(backend) / "s") == [".keep"]


async def test_deleting_in_an_empty_leftover_directory_removes_it(backend: FileBackend) -> None:
    """A writer killed after creating its session directory leaves it empty."""
    (bucket_dir(backend) / "crashed").mkdir()
    (bucket_dir(backend) / "crashed" / ".tmp-00").write_bytes(b"")
    await delete(backend, "crashed/state.json")
    assert os.listdir(bucket_dir(backend)) == []


async def test_deep_paths_are_pruned_up_to_the_bucket(backend: FileBackend) -> None:
    await put(backend, "a/b/c/d")
    await put(backend, "a/x")
    await delete(backend, "a/b/c/d")
    assert await list_all(backend, "a/") == ["a/x"]
    await delete(backend, "a/x")
    assert os.listdir(bucket_dir(backend)) == []
    assert bucket_dir(backend).is_dir()


async def test_objects_at_bucket_level(backend: FileBackend) -> None:
    info = await put(backend, "top", b"t")
    assert await list_all(backend) == ["top"]
    await delete(backend, "top", if_match=info.version)
    assert await list_all(backend) == []
    assert bucket_dir(backend).is_dir()


def _removed_once_opened(monkeypatch: pytest.MonkeyPatch, session: Path, name: str) -> list[str]:
    """Make the next writer lose the race to a deleter: right after it opened the
    directory ``session`` (and before it locks it), the object ``name`` and the
    directory are removed, as a deleter holding the lock at that instant does.
    The list returned counts the writer's openings."""
    opened: list[str] = []

    def racing_open_deepest(*args: Any, **kwargs: Any) -> Any:
        opened.append("chain")
        chain, missing = open_deepest(*args, **kwargs)
        if len(opened) == 1:
            os.unlink(session / name)
            os.rmdir(session)
        return chain, missing

    monkeypatch.setattr(writing, "open_deepest", racing_open_deepest)
    return opened


@pytest.mark.parametrize("create_only", [False, True], ids=["plain", "create_only"])
async def test_writer_retries_when_its_directory_is_removed_under_it(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch, create_only: bool
) -> None:
    """A deleter removes the session directory after a writer opened it, before the
    writer got its lock: the writer must start again and write into a new directory
    (its create_only holds there too: the directory it had open is gone, empty)."""
    await put(backend, "s/old")
    session = bucket_dir(backend) / "s"
    opened = _removed_once_opened(monkeypatch, session, "old")
    await put(backend, "s/new", b"new", create_only=create_only)
    assert len(opened) == 2
    assert (await get(backend, "s/new")).data == b"new"
    assert os.listdir(session) == ["new"]


async def test_if_match_in_a_directory_removed_under_it_conflicts(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version a writer expects was deleted with its directory: a conflict, and
    nothing is written anywhere."""
    info = await put(backend, "s/state")
    session = bucket_dir(backend) / "s"
    _removed_once_opened(monkeypatch, session, "state")
    with pytest.raises(ConflictError):
        await put(backend, "s/state", b"new", if_match=info.version)
    assert not session.exists()
    assert await list_all(backend) == []


# -- list ----------------------------------------------------------------------------


async def test_list_directories_and_objects(backend: FileBackend) -> None:
    for path in ["b/state.json", "a/state.json", "a/cp-2", "a/cp-1", "c/x"]:
        await put(backend, path)
    assert await list_all(backend) == ["a/", "b/", "c/"]
    assert await list_all(backend, "a/") == ["a/cp-1", "a/cp-2", "a/state.json"]
    assert await list_all(backend, "a/cp") == ["a/cp-1", "a/cp-2"]
    assert await list_all(backend, "missing/") == []
    assert await list_all(backend, "a/state.json/") == []


async def test_list_orders_as_full_paths(backend: FileBackend) -> None:
    """``a/`` sorts between ``a.b`` and ``a0``, as the full paths do."""
    for path in ["a/f", "a0/f", "a.b/f", "a-b/f", "top", "top-level"]:
        await put(backend, path)
    expected = ["a-b/", "a.b/", "a/", "a0/", "top", "top-level"]
    assert await list_all(backend) == expected
    for limit in (1, 2, 3):
        assert await list_all(backend, limit=limit) == expected


async def test_list_with_name_prefix(backend: FileBackend) -> None:
    for session_id in ["ab1", "ab2", "abc", "b", "a"]:
        await put(backend, f"{session_id}/state.json")
    await put(backend, "ab1/cp")
    assert await list_all(backend, "ab") == ["ab1/", "ab2/", "abc/"]
    assert await list_all(backend, "ab", limit=2) == ["ab1/", "ab2/", "abc/"]
    assert await list_all(backend, "ab1/c") == ["ab1/cp"]
    assert await list_all(backend, "zz") == []


async def test_pages(backend: FileBackend) -> None:
    ids = [f"s{index:03}" for index in range(40)]
    for session_id in reversed(ids):
        await put(backend, f"{session_id}/f")
    expected = [f"{session_id}/" for session_id in ids]
    for limit in (None, 1, 7, 39, 40, 41, 1000):
        assert await list_all(backend, limit=limit) == expected
    first = await page(backend, limit=40)
    assert first.cursor is None, "a page that holds the rest ends the listing"
    assert (await page(backend, limit=39)).cursor == "s038/"


async def test_cursor_resumes_strictly_after_a_deleted_entry(backend: FileBackend) -> None:
    for session_id in ("a", "b", "c", "d"):
        await put(backend, f"{session_id}/f")
    first = await page(backend, limit=2)
    assert first == ListPage(entries=("a/", "b/"), cursor="b/")
    await delete(backend, "b/f")
    await put(backend, "bb/f")
    assert await page(backend, cursor=first.cursor, limit=2) == ListPage(
        entries=("bb/", "c/"), cursor="c/"
    )
    assert await page(backend, "d", cursor="c/") == ListPage(entries=("d/",))


async def test_hidden_and_temporary_files_are_never_listed(backend: FileBackend) -> None:
    await put(backend, "s/f")
    (bucket_dir(backend) / ".tmp-0011").write_bytes(b"")
    (bucket_dir(backend) / ".hidden").mkdir()
    (bucket_dir(backend) / "s" / ".tmp-abcd").write_bytes(b"torn")
    os.mkfifo(bucket_dir(backend) / "fifo")
    os.mkfifo(bucket_dir(backend) / "s" / ".fifo")
    assert await list_all(backend) == ["s/"]
    assert await list_all(backend, "s/") == ["s/f"]
    assert await list_all(backend, "s/.") == []
    os.mkfifo(bucket_dir(backend) / "s" / "fifo")
    assert await exists(backend, "s/fifo") is False
    with pytest.raises(FileNotFoundError):
        await get(backend, "s/fifo")


async def test_whole_listings_equal_a_plain_filter_and_sort(backend: FileBackend) -> None:
    """A whole listing sorts first and cuts by bisection; a limited page filters
    each entry: both must agree with the obvious filter-then-sort, for any prefix
    and cursor, whatever odd names the directory holds."""
    bucket = bucket_dir(backend)
    dirs = ["a", "a-b", "a.b", "a0", "ab", "b", "-x", "é", "\U0010ffff", "\U0010ffffz", "zz"]
    files = ["a1", "ab.json", "top", "\U0010ffff\U0010ffff"]
    for name in dirs:
        (bucket / name).mkdir()
    for name in files:
        (bucket / name).write_bytes(b"")
    (bucket / ".tmp-1").write_bytes(b"")
    (bucket / ".hidden").mkdir()
    (bucket / "link").symlink_to(bucket / "a")
    os.mkfifo(bucket / "fifo")
    keys = sorted([f"{name}/" for name in dirs] + files)
    prefixes = ["", "a", "a-", "ab", "b", "c", "-", ".", ".t", "é", "\U0010ffff", "zz", "link"]
    cursors = [None, "", "a", "a/", "ab", "ab.json", "é/", "\U0010ffff/", "zzz"]
    for prefix in prefixes:
        for cursor in cursors:
            expected = [key for key in keys if key.startswith(prefix)]
            expected = [key for key in expected if cursor is None or key > cursor]
            whole = listing.list_page(
                str(backend.root_dir), BUCKET, prefix, cursor, None, folds=False
            )
            assert list(whole.entries) == expected, (prefix, cursor)
            assert whole.cursor is None
            paged: list[str] = []
            after = cursor
            while True:
                page = listing.list_page(
                    str(backend.root_dir), BUCKET, prefix, after, 2, folds=False
                )
                paged.extend(page.entries)
                if page.cursor is None:
                    break
                after = page.cursor
            assert paged == expected, (prefix, cursor)


async def test_a_new_directory_appears_only_with_its_object(backend: FileBackend) -> None:
    """A new session's directory is published with its first file in one rename, so
    a writer killed half-way leaves only a hidden temporary tree, never a session
    that lists without files (regression: it used to mkdir first)."""
    await put(backend, "b/state.json")
    leftover = bucket_dir(backend) / ".tmp-0123456789abcdef"  # a killed publisher's tree
    (leftover / "deep").mkdir(parents=True)
    (leftover / "deep" / ".tmp-fedcba").write_bytes(b"half")
    await put(backend, "a/state.json")
    await put(backend, "d/deep/f")
    assert await list_all(backend) == ["a/", "b/", "d/"]
    assert await list_all(backend, "d/") == ["d/deep/"]
    assert sorted(path.name for path in bucket_dir(backend).iterdir()) == [
        ".tmp-0123456789abcdef",
        "a",
        "b",
        "d",
    ]  # nothing else was left behind by the publishing writers
    assert sorted(path.name for path in (bucket_dir(backend) / "a").iterdir()) == ["state.json"]


async def test_an_existing_empty_directory_is_written_into(backend: FileBackend) -> None:
    """A directory left empty (by hand, or by an older version) takes new objects."""
    (bucket_dir(backend) / "a").mkdir(mode=0o700)
    await put(backend, "a/state.json")
    assert await list_all(backend, "a/") == ["a/state.json"]


async def test_concurrent_first_writes_to_a_new_directory_all_land(backend: FileBackend) -> None:
    """Writers creating the same new session at once: one publishes the directory,
    the others write into it; every distinct file lands, one create-only wins."""
    root = os.fspath(backend.root_dir)

    def create(name: str) -> bool:
        while True:  # as the hook does, on a busy lock (on the event loop)
            try:
                result = writing.upload(root, BUCKET, f"s/{name}", name.encode(), None, True, False)
            except ConflictError:
                return False
            if result is not BUSY:
                return True
            time.sleep(0.001)

    names = [f"f{index}" for index in range(12)] + ["same"] * 12
    random.Random(5).shuffle(names)

    def race() -> list[bool]:
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            return list(pool.map(create, names))

    created = await anyio.to_thread.run_sync(race)
    assert sum(created) == 13  # the twelve distinct files and one "same"
    listed = sorted(path.name for path in (bucket_dir(backend) / "s").iterdir())
    assert listed == sorted([f"f{index}" for index in range(12)] + ["same"])
    assert not [path for path in bucket_dir(backend).iterdir() if path.name.startswith(".")]


async def test_a_page_holds_memory_for_its_entries_not_for_the_directory(
    backend: FileBackend,
) -> None:
    """A limited page keeps only the smallest names past the cursor while it scans:
    iterating a bucket holds memory for a page, not for the bucket (the benchmarks
    of #8 caught a version that listed every name first: 9.7x the peak from 10k to
    100k sessions). Measured with tracemalloc: a page of 10 in 10,000 sessions
    allocates far less than the 10,000 names would take (~650 kB)."""
    await put(backend, "s00000/state.json")
    bucket = bucket_dir(backend)
    for index in range(1, 10_000):
        os.mkdir(bucket / f"s{index:05}")
        (bucket / f"s{index:05}" / "state.json").write_bytes(b"{}")
    tracemalloc.start()
    try:
        first = await page(backend, limit=10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first.entries == tuple(f"s{index:05}/" for index in range(10))
    assert peak < 100_000, f"a page of 10 allocated {peak:,} bytes at its peak"


async def test_list_argument_checks(backend: FileBackend) -> None:
    with pytest.raises(ValueError, match="limit"):
        await page(backend, limit=0)
    with pytest.raises(ValueError, match="cursor"):
        await page(backend, "a/", cursor="b/x")
    with pytest.raises(ValueError, match="segment"):
        await page(backend, "../")


async def test_dot_segments_are_refused(backend: FileBackend) -> None:
    for path in ("../escape", "s/..", "./f", "s//f", "s/.tmp-1"):
        with pytest.raises(ValueError, match="segment"):
            await put(backend, path)
    assert os.listdir(backend.root_dir) == [BUCKET]


# -- one thread hop per operation ----------------------------------------------------


async def test_each_operation_makes_exactly_one_thread_hop(
    backend: FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    real_run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(func.__name__)
        return await real_run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
    operations: dict[str, Callable[[], Any]] = {
        "init": lambda: backend.sessionstore_init(bucket=BUCKET),
        "upload": lambda: put(backend, "s/f", b"x" * 100_000),
        "conditional upload": lambda: put(backend, "s/g", create_only=True),
        "download": lambda: get(backend, "s/f"),
        "stat": lambda: stat(backend, "s/f"),
        "exists": lambda: exists(backend, "s/f"),
        "list": lambda: page(backend, limit=5),
        "delete": lambda: delete(backend, "s/f", "s/g"),
    }
    for name, operation in operations.items():
        hops.clear()
        await operation()
        assert len(hops) == 1, f"{name} made {len(hops)} thread hops: {hops}"


# -- configuration -------------------------------------------------------------------


def test_root_option_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROOT, str(tmp_path / "env"))
    assert FileBackend(root=tmp_path / "option").root_dir == tmp_path / "option"


def test_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROOT, str(tmp_path / "env"))
    assert FileBackend().root_dir == tmp_path / "env"


async def test_root_defaults_to_the_user_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_ROOT, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    backend = FileBackend()
    assert backend.root_dir == tmp_path / "data" / "sessionstore"
    await backend.sessionstore_init(bucket=BUCKET)
    assert (tmp_path / "data" / "sessionstore" / BUCKET).is_dir()


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert FileBackend(root=Path("rel")).root_dir == tmp_path / "rel"


def test_root_option_from_a_url_string(tmp_path: Path) -> None:
    backend = converter.structure({"root": str(tmp_path)}, FileBackend)
    assert backend.root == tmp_path
    assert backend.root_dir == tmp_path


@pytest.mark.parametrize(
    ("root", "message"), [("", "the path is empty"), ("/tmp/a\0b", "the path holds a NUL byte")]
)
def test_an_empty_or_nul_root_is_refused_when_the_store_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root: str, message: str
) -> None:
    """``root=""`` (or ``?root=``) stored in the working directory, unlike an empty
    SESSIONSTORE_FILE_ROOT; a NUL byte failed only at the first operation."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=f"backend 'file': {message}"):
        SessionStore(backend="file", root=root)
    with pytest.raises(ValueError, match=message):
        FileBackend(root=root)
    assert list(tmp_path.iterdir()) == []


def test_a_url_with_an_empty_root_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="the path is empty"):
        SessionStore.from_url("file://?bucket=sessions&root=")


def test_entry_point_names_the_backend() -> None:
    (entry_point,) = [ep for ep in entry_points(group="sessionstore.backends") if ep.name == "file"]
    assert entry_point.load() is FileBackend
    assert load_backend("file")[1] is FileBackend
