"""Every SessionStore method, on every local backend, on asyncio and trio."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle
import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from sessionstore import (
    ConflictError,
    CorruptSessionError,
    InvalidSessionIdError,
    SerializationError,
    SessionMetadata,
    SessionStore,
    StorageUnavailableError,
)


async def test_store_and_load_round_trip(store: SessionStore) -> None:
    state = {
        "status": "active",
        "_metadata": {"user": "key"},
        "n": 2**80,
        "nested": [1, {"a": None}],
    }
    meta = await store.store_session("abc123", state)
    assert await store.load_session("abc123") == state
    assert meta.session_id == "abc123"
    assert meta.filename == "state.json"
    assert meta.backend == store.backend
    assert meta.size > 0
    assert meta["size"] == meta.size
    assert meta.stored_at is not None
    assert meta.stored_at.utcoffset() == timedelta(0)
    assert meta.format_version == 1


async def test_load_missing_returns_none(store: SessionStore) -> None:
    assert await store.load_session("nobody") is None
    assert await store.load_session_with_metadata("nobody") is None


async def test_overwrite_replaces_and_changes_version(store: SessionStore) -> None:
    first = await store.store_session("s", {"v": 1})
    second = await store.store_session("s", {"v": 2})
    assert first.version != second.version
    assert await store.load_session("s") == {"v": 2}


async def test_load_with_metadata_matches_the_version_read(store: SessionStore) -> None:
    written = await store.store_session("s", {"v": 1})
    loaded = await store.load_session_with_metadata("s")
    assert loaded is not None
    state, meta = loaded
    assert state == {"v": 1}
    assert meta.version == written.version
    assert meta.stored_at == written.stored_at


async def test_metadata_without_content(store: SessionStore) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    written = await store.store_session("s", {"v": 1})
    meta = await store.get_session_metadata("s")
    assert isinstance(meta, SessionMetadata)
    assert meta.size == written.size
    assert meta.version == written.version
    assert meta.modified >= before
    assert meta.created.utcoffset() is not None
    assert meta.modified.utcoffset() is not None
    assert dict(meta)["session_id"] == "s"
    assert await store.get_session_metadata("none") is None


async def test_metadata_reads_as_the_seeds_dict(store: SessionStore) -> None:
    """Code written for session-buddy's metadata dict tests keys and iterates; a
    __getitem__ alone made Python try meta[0], and both raised KeyError(0)."""
    meta = await store.store_session("s", {"v": 1})
    assert "size" in meta
    assert "nothing" not in meta
    assert 0 not in meta
    as_dict = dict(meta)
    assert list(meta) == list(as_dict)
    assert len(meta) == len(as_dict)
    assert dict(meta.items()) == as_dict
    assert list(meta.values()) == list(as_dict.values())


async def test_session_exists(store: SessionStore) -> None:
    assert not await store.session_exists("s")
    await store.store_session("s", {})
    assert await store.session_exists("s")
    await store.store_session("t", {}, "checkpoint.json")
    assert not await store.session_exists("t")
    assert await store.session_exists("t", "checkpoint.json")


async def test_checkpoints_are_listed_and_deleted_with_the_session(store: SessionStore) -> None:
    await store.store_session("s", {"main": True})
    for index in range(3):
        await store.store_session("s", {"step": index}, f"checkpoint_{index:03}.json")
    await store.store_session("other", {})
    assert await store.list_files("s") == [
        "checkpoint_000.json",
        "checkpoint_001.json",
        "checkpoint_002.json",
        "state.json",
    ]
    assert await store.load_session("s", "checkpoint_001.json") == {"step": 1}
    assert await store.delete_session("s") is True
    assert await store.list_files("s") == []
    assert await store.list_sessions() == ["other"]
    assert await store.load_session("s", "checkpoint_001.json") is None
    assert await store.delete_session("s") is False


async def test_a_delete_cut_off_part_way_leaves_the_session_loadable(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``state.json`` is deleted last, whatever the checkpoints are called: a
    backend deleting one path at a time that fails part-way leaves a session that
    loads, not checkpoints without their state."""
    await store.store_session("s", {"main": True})
    await store.store_session("s", {}, "tool-output.json")  # sorts after state.json
    await store.store_session("s", {}, "a-checkpoint.json")
    storage = store._storage
    delete = storage.delete

    async def delete_one_then_fail(paths: Sequence[str], *, if_match: str | None = None) -> None:
        await delete(paths[:1], if_match=if_match)
        raise StorageUnavailableError(
            "the connection dropped after one delete", backend=store.backend, bucket="sessions"
        )

    monkeypatch.setattr(storage, "delete", delete_one_then_fail)
    for _ in range(2):
        with pytest.raises(StorageUnavailableError):
            await store.delete_session("s")
        assert await store.load_session("s") == {"main": True}
    monkeypatch.undo()
    assert await store.delete_session("s") is True
    assert await store.list_files("s") == []


async def test_a_file_no_session_file_can_be_named_survives_the_delete(tmp_path: Path) -> None:
    """Not the session's (another tool put it there), so not deleted: its folder,
    and so the id, stays."""
    store = SessionStore(backend="file", root=tmp_path)
    await store.store_session("s", {})
    await store.store_session("s", {}, "cp.json")
    (tmp_path / "sessions" / "s" / ".hidden").write_bytes(b"not ours")
    assert await store.list_files("s") == ["cp.json", "state.json"]
    assert await store.delete_session("s") is True
    assert (tmp_path / "sessions" / "s" / ".hidden").read_bytes() == b"not ours"
    assert await store.list_files("s") == []
    assert await store.list_sessions() == ["s"]


async def test_delete_one_file(store: SessionStore) -> None:
    await store.store_session("s", {})
    await store.store_session("s", {}, "cp.json")
    assert await store.delete_session("s", "cp.json") is True
    assert await store.delete_session("s", "cp.json") is False
    assert await store.list_files("s") == ["state.json"]


async def test_list_sessions_with_prefix(store: SessionStore) -> None:
    for session_id in ["b2", "a1", "b1", "c"]:
        await store.store_session(session_id, {})
    await store.store_session("only-checkpoint", {}, "cp.json")
    assert await store.list_sessions() == ["a1", "b1", "b2", "c", "only-checkpoint"]
    assert await store.list_sessions("b") == ["b1", "b2"]
    assert await store.list_sessions("zz") == []


async def test_list_sessions_page_cursor(store: SessionStore) -> None:
    for index in range(25):
        await store.store_session(f"s{index:02}", {})
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_sessions_page(cursor=cursor, limit=10)
        assert len(page.session_ids) <= 10
        seen.extend(page.session_ids)
        if page.cursor is None:
            break
        cursor = page.cursor
    assert seen == [f"s{index:02}" for index in range(25)]


async def test_if_match(store: SessionStore) -> None:
    first = await store.store_session("s", {"v": 1})
    second = await store.store_session("s", {"v": 2}, if_match=first.version)
    with pytest.raises(ConflictError):
        await store.store_session("s", {"v": "stale"}, if_match=first.version)
    assert await store.load_session("s") == {"v": 2}
    await store.store_session("s", {"v": 3}, if_match=second.version)
    with pytest.raises(ConflictError):
        await store.store_session("absent", {}, if_match=first.version)
    assert await store.load_session("absent") is None


async def test_create_only(store: SessionStore) -> None:
    await store.store_session("s", {"v": 1}, create_only=True)
    with pytest.raises(ConflictError):
        await store.store_session("s", {"v": 2}, create_only=True)
    assert await store.load_session("s") == {"v": 1}
    with pytest.raises(ValueError, match="exclude each other"):
        await store.store_session("s", {}, if_match="x", create_only=True)


async def test_create_only_race_has_exactly_one_winner(store: SessionStore) -> None:
    winners: list[int] = []

    async def racer(index: int) -> None:
        try:
            await store.store_session("race", {"winner": index}, create_only=True)
        except ConflictError:
            return
        winners.append(index)

    async with anyio.create_task_group() as group:
        for index in range(20):
            group.start_soon(racer, index)
    assert len(winners) == 1
    assert await store.load_session("race") == {"winner": winners[0]}


async def test_concurrent_updates_lose_nothing(store: SessionStore) -> None:
    def increment(state: dict[str, Any] | None) -> dict[str, Any]:
        state = state or {"count": 0}
        state["count"] += 1
        return state

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(store.update_session, "counter", increment)
    assert await store.load_session("counter") == {"count": 50}


async def test_update_accepts_an_async_function(store: SessionStore) -> None:
    async def add(state: dict[str, Any] | None) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return {"items": [*(state or {"items": []})["items"], "x"]}

    assert await store.update_session("s", add) == {"items": ["x"]}
    assert await store.update_session("s", add) == {"items": ["x", "x"]}


async def test_update_gives_up_with_conflict_error(store: SessionStore) -> None:
    async def meddle(state: dict[str, Any] | None) -> dict[str, Any]:
        # Another writer always gets in between the read and the write.
        await store.store_session("s", {"other": True})
        return {"mine": True}

    with pytest.raises(ConflictError, match="gave up after 3 attempts"):
        await store.update_session("s", meddle, max_attempts=3)


async def test_update_may_try_more_than_a_thousand_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The back-off's ceiling, 0.001 * 2**attempt, overflowed a float at attempt
    1,024: a generous max_attempts ended in OverflowError, not ConflictError."""
    monkeypatch.setattr(random, "uniform", lambda low, high: 0.0)  # no real waiting
    store = SessionStore(backend="memory")

    async def meddle(state: dict[str, Any] | None) -> dict[str, Any]:
        await store.store_session("s", {"other": True})
        return {"mine": True}

    with pytest.raises(ConflictError, match="gave up after 1030 attempts"):
        await store.update_session("s", meddle, max_attempts=1030)


async def test_update_refuses_a_non_dict_result(store: SessionStore) -> None:
    with pytest.raises(SerializationError, match="must return the new state"):
        await store.update_session("s", lambda state: None)  # type: ignore[arg-type,return-value]


_metadata_of_s = SessionMetadata(
    session_id="s",
    filename="state.json",
    size=2,
    modified=datetime(2026, 1, 1, tzinfo=timezone.utc),
    created=datetime(2026, 1, 1, tzinfo=timezone.utc),
    backend="memory",
    version="1",
)
"""What a caller passes as ``if_match`` when it forgets ``.version``."""


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.list_sessions_page(limit=0), ValueError, "limit must be at least 1"),
        (lambda s: s.list_sessions_page(limit=1.5), TypeError, "limit must be an int"),
        (lambda s: s.list_sessions_page(limit="2"), TypeError, "limit must be an int"),
        (lambda s: s.list_sessions_page(limit=True), TypeError, "limit must be an int"),
        (lambda s: s.list_sessions_page(cursor=5), TypeError, "cursor must be a string"),
        (lambda s: s.store_raw("s", "state.json", "{}"), TypeError, "takes bytes, got str"),
        (
            lambda s: s.store_session("s", {}, if_match=_metadata_of_s),
            TypeError,
            r"if_match must be a version string, got SessionMetadata \(pass its .version\)",
        ),
        (lambda s: s.store_session("s", {}, if_match=5), TypeError, "got int"),
        (lambda s: s.store_raw("s", "state.json", b"{}", if_match=b"1"), TypeError, "got bytes"),
        (
            lambda s: s.store_session("s", {}, create_only="false"),
            TypeError,
            "create_only must be True or False, got 'false'",
        ),
        (lambda s: s.store_raw("s", "x.json", b"{}", create_only=1), TypeError, "got 1"),
        (lambda s: s.purge_expired(dry_run="no"), TypeError, "dry_run must be True or False"),
        (
            lambda s: s.update_session("s", {"v": 2}),
            TypeError,
            "update_session takes a function of the current state, got dict; "
            "to write a state as it is, use store_session",
        ),
        (lambda s: s.store_session("s", {}, ttl=float("inf")), ValueError, "a finite number"),
        (lambda s: s.update_session("s", dict, max_attempts=0), ValueError, "at least 1, got 0"),
        (lambda s: s.update_session("s", dict, max_attempts=2.0), TypeError, "must be an int"),
        (lambda s: s.purge_expired(concurrency=0), ValueError, "concurrency must be at least 1"),
        (lambda s: s.purge_expired(concurrency=2.5), TypeError, "concurrency must be an int"),
        (lambda s: s.purge_expired(concurrency=True), TypeError, "concurrency must be an int"),
        (lambda s: s.purge_expired(page_size=0), ValueError, "page_size must be at least 1"),
        (lambda s: s.iter_sessions(page_size=0), ValueError, "page_size must be at least 1"),
        (lambda s: s.iter_sessions(page_size="9"), TypeError, "page_size must be an int"),
    ],
    ids=[
        "limit-0",
        "limit-float",
        "limit-str",
        "limit-bool",
        "cursor",
        "raw-str",
        "if_match-metadata",
        "if_match-int",
        "raw-if_match-bytes",
        "create_only-str",
        "raw-create_only-int",
        "dry_run-str",
        "update-a-state",
        "ttl-inf",
        "tries-0",
        "tries-float",
        "concurrency-0",
        "concurrency-float",
        "concurrency-bool",
        "purge-page-0",
        "iter-page-0",
        "iter-page-str",
    ],
)
async def test_wrong_arguments_are_caller_errors_and_touch_nothing(
    store: SessionStore, call: Any, error: type[Exception], message: str
) -> None:
    """Not a StorageUnavailableError from deep in a backend, nor a ConflictError
    for an update that never tried: the caller's mistake, named, before any I/O."""
    await store.store_session("s", {"v": 1})
    before = await store.load_raw("s")
    with pytest.raises(error, match=message) as caught:
        await call(store)
    assert not isinstance(caught.value, (StorageUnavailableError, ConflictError))
    assert await store.load_raw("s") == before


@pytest.mark.parametrize(
    "bad_state", [{"s": {1}}, {"f": float("nan")}, ["not", "a", "dict"]], ids=["set", "nan", "list"]
)
async def test_unserialisable_state_writes_nothing(store: SessionStore, bad_state: Any) -> None:
    await store.store_session("s", {"ok": True})
    with pytest.raises(SerializationError):
        await store.store_session("s", bad_state)
    assert await store.load_session("s") == {"ok": True}


@pytest.mark.parametrize("bad", ["", ".", "..", "../etc", "a/b", "a\x00", "x" * 300, "CON"])
async def test_invalid_names_are_refused(store: SessionStore, bad: str) -> None:
    for call in (
        lambda: store.store_session(bad, {}),
        lambda: store.store_session("ok", {}, bad),
        lambda: store.load_session(bad),
        lambda: store.load_session("ok", bad),
        lambda: store.delete_session(bad),
        lambda: store.delete_session("ok", bad),
        lambda: store.session_exists(bad),
        lambda: store.get_session_metadata(bad),
        lambda: store.list_files(bad),
        lambda: store.update_session(bad, lambda s: {}),
    ):
        with pytest.raises(InvalidSessionIdError):
            await call()
    assert await store.list_sessions() == []


async def test_corrupt_stored_bytes(store: SessionStore) -> None:
    await store.store_session("s", {})
    storage = store._storage
    await storage.upload("s/state.json", b'{"truncated": ')
    with pytest.raises(CorruptSessionError, match=r"s/state\.json") as caught:
        await store.load_session("s")
    assert caught.value.path == "s/state.json"
    with pytest.raises(CorruptSessionError):
        await store.update_session("s", lambda state: {})


async def test_seed_format_file_loads(store: SessionStore) -> None:
    await store.store_session("s", {})
    seed_bytes = b"""{
  "status": "active",
  "_metadata": {"session_id": "s", "stored_at": "2025-06-01T12:00:00.000001", "backend": "file"}
}"""
    await store._storage.upload("s/state.json", seed_bytes)
    assert await store.load_session("s") == {"status": "active"}
    loaded = await store.load_session_with_metadata("s")
    assert loaded is not None
    assert loaded[1].format_version is None


async def test_async_context_manager_and_lazy_use(tmp_path: Path) -> None:
    async with SessionStore(backend="file", root=tmp_path) as store:
        assert (tmp_path / "sessions").is_dir()
        await store.store_session("s", {"a": 1})
    lazy = SessionStore(backend="file", root=tmp_path)
    assert await lazy.load_session("s") == {"a": 1}


async def test_from_url(tmp_path: Path) -> None:
    store = SessionStore.from_url(f"file://{tmp_path}?bucket=chats")
    assert store.backend == "file"
    assert store.bucket == "chats"
    await store.store_session("s", {"a": 1})
    assert (tmp_path / "chats" / "s" / "state.json").is_file()
    memory = SessionStore.from_url("memory://")
    assert memory.backend == "memory"


class ChatStore(SessionStore):
    """A subclass with state of its own, as an application may write."""

    def __init__(self, *args: Any, greeting: str = "hello", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.greeting = greeting


async def test_from_url_runs_a_subclass_init_and_still_ignores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It made the subclass without its __init__, so ``greeting`` was missing."""
    monkeypatch.setenv("SESSIONSTORE_URL", f"file://{tmp_path}?bucket=from-env&default_ttl=60")
    store = ChatStore.from_url(f"file://{tmp_path}?bucket=chats", root=str(tmp_path / "r"))
    assert isinstance(store, ChatStore)
    assert store.greeting == "hello"
    assert (store.backend, store.bucket) == ("file", "chats")
    assert store.settings.default_ttl is None
    await store.store_session("s", {"a": 1})
    assert (tmp_path / "r" / "chats" / "s" / "state.json").is_file()
    assert ChatStore(backend="memory", greeting="hi").greeting == "hi"


async def test_nested_async_with_closes_at_the_outermost(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function lent an open store may ``async with`` it too (so may each task
    sharing it): closing it under its caller broke the caller's requests in flight."""
    closes = 0
    close = store._storage.close

    async def counted_close() -> None:
        nonlocal closes
        closes += 1
        await close()

    monkeypatch.setattr(store._storage, "close", counted_close)
    async with store:
        async with store as inner:
            assert inner is store
            await store.store_session("s", {"a": 1})
        assert closes == 0
        assert await store.load_session("s") == {"a": 1}
    assert closes == 1
    async with store:
        pass
    assert closes == 2


async def test_an_entry_that_fails_to_open_is_not_counted(tmp_path: Path) -> None:
    """Else the store would never close again."""
    (tmp_path / "afile").write_text("")
    store = SessionStore(backend="file", root=tmp_path / "afile")
    with pytest.raises(StorageUnavailableError):
        async with store:
            pass
    assert store._entered == 0


async def test_a_pickled_store_reopens_the_same_storage(store: SessionStore) -> None:
    await store.store_session("s", {"a": 1})
    copy = pickle.loads(pickle.dumps(store))
    assert (copy.settings, copy.bucket) == (store.settings, store.bucket)
    expected = None if store.backend == "memory" else {"a": 1}  # memory: per process
    assert await copy.load_session("s") == expected
    chat = ChatStore(backend="memory", greeting="hi")
    assert pickle.loads(pickle.dumps(chat)).greeting == "hi"


def load_in_this_process(store: SessionStore, session_id: str) -> Any:
    """Run in a worker process: the store arrives pickled."""
    return anyio.run(store.load_session, session_id)


async def test_a_store_passed_to_a_spawned_worker_process_works_there(tmp_path: Path) -> None:
    """Python 3.14 starts multiprocessing workers with forkserver by default on
    Linux too, which pickles their arguments: a store could not be pickled."""
    store = SessionStore(backend="file", root=tmp_path)
    await store.store_session("s", {"from": "parent"})
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        loaded = await anyio.to_thread.run_sync(
            lambda: pool.submit(load_in_this_process, store, "s").result(timeout=60)
        )
    assert loaded == {"from": "parent"}


async def test_environment_chooses_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONSTORE_URL", f"file://{tmp_path}?bucket=from-env")
    store = SessionStore()
    assert (store.backend, store.bucket) == ("file", "from-env")
    await store.store_session("s", {})
    assert (tmp_path / "from-env" / "s" / "state.json").is_file()
    monkeypatch.delenv("SESSIONSTORE_URL")
    monkeypatch.setenv("SESSIONSTORE_BACKEND", "memory")
    assert SessionStore().backend == "memory"


def test_repr_shows_no_options(tmp_path: Path) -> None:
    store = SessionStore(backend="file", root=tmp_path)
    assert repr(store) == "SessionStore(backend='file', bucket='sessions')"


def test_bad_options_fail_at_construction() -> None:
    from sessionstore import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"unknown option.*'rooot'.*accepts: root"):
        SessionStore(backend="file", rooot="/tmp")
    with pytest.raises(InvalidSessionIdError, match="bucket"):
        SessionStore(backend="memory", bucket="../up")


def test_a_file_url_with_two_slashes_says_to_write_three() -> None:
    """``file://data/x`` reads ``data`` as the bucket and ``/x`` as a prefix: the
    error named only the option 'prefix', which the user never wrote."""
    from sessionstore import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"'prefix'.*file:///var/lib/app, three slashes"):
        SessionStore.from_url("file://data/x")


async def test_backend_failure_is_storage_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    store = SessionStore(backend="file", root=blocker)
    with pytest.raises(StorageUnavailableError) as caught:
        await store.store_session("s", {})
    error = caught.value
    assert isinstance(error, OSError)
    assert error.backend == "file"
    assert error.bucket == "sessions"
    assert "file backend failed on sessions" in str(error)
    assert error.__cause__ is not None


async def test_invalid_names_fail_before_any_io(tmp_path: Path) -> None:
    """The file backend creates its root on first I/O; refused names never get there."""
    root = tmp_path / "never-created"
    store = SessionStore(backend="file", root=root)
    for bad in ["../escape", "a/b", "", "\x00", "."]:
        with pytest.raises(InvalidSessionIdError):
            await store.store_session(bad, {"x": 1})
        with pytest.raises(InvalidSessionIdError):
            await store.load_session("fine", bad)
        with pytest.raises(InvalidSessionIdError):
            await store.delete_session(bad)
    assert not root.exists()
    assert not (tmp_path / "escape").exists()
