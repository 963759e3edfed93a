"""Expiry through the facade: TTL arguments, default TTLs, touch and a purge that
races a writer, on every local backend."""

from __future__ import annotations

import gc
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.lowlevel
import pytest

from sessionstore import (
    ConfigurationError,
    ConflictError,
    SerializationError,
    SessionStore,
    StoragePermissionError,
    StoredObject,
)
from sessionstore.testing.backend_tests import FakeClock


@pytest.mark.parametrize(
    "ttl",
    # 1e-9 s would round to a zero timedelta: a file expired as it is written.
    [
        0,
        -1,
        timedelta(0),
        math.nan,
        math.inf,
        True,
        "60",
        1e300,
        timedelta.max,
        1e-9,
        0.9e-6,
        pytest.param(10**400, id="10**400"),
        pytest.param(-(10**400), id="-10**400"),
    ],
)
async def test_invalid_ttl_is_refused_and_writes_nothing(store: SessionStore, ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await store.store_session("s", {}, ttl=ttl)
    assert await store.list_sessions() == []


async def test_a_one_microsecond_ttl_is_the_shortest(store: SessionStore) -> None:
    meta = await store.store_session("s", {}, ttl=timedelta(microseconds=1))
    assert meta.expires_at is not None
    assert meta.stored_at is not None
    assert meta.expires_at - meta.stored_at == timedelta(microseconds=1)


async def test_invalid_ttl_is_refused_before_reading(store: SessionStore) -> None:
    calls: list[Any] = []

    def record(state: dict[str, Any] | None) -> dict[str, Any]:
        calls.append(state)
        return {}

    with pytest.raises(ValueError, match="ttl"):
        await store.update_session("s", record, ttl=0)
    with pytest.raises(ValueError, match="ttl"):
        await store.touch_session("absent", ttl=-1)
    assert calls == []


async def test_files_without_ttl_have_no_expiry(store: SessionStore) -> None:
    meta = await store.store_session("s", {})
    assert meta.expires_at is None
    loaded = await store.load_session_with_metadata("s")
    assert loaded is not None
    assert loaded[1].expires_at is None


async def test_default_ttl_applies_and_explicit_ttl_wins(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    store = SessionStore(backend="file", root=tmp_path, default_ttl=timedelta(hours=1))
    assert store.settings.default_ttl == 3600
    default = await store.store_session("s", {})
    explicit = await store.store_session("s", {}, "cp", ttl=5)
    assert default.expires_at == fake_clock.time + timedelta(hours=1)
    assert explicit.expires_at == fake_clock.time + timedelta(seconds=5)
    touched = await store.touch_session("s")
    assert touched is not None
    assert touched.expires_at == default.expires_at


def test_default_ttl_from_environment_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONSTORE_DEFAULT_TTL", "90")
    assert SessionStore(backend="memory").settings.default_ttl == 90
    assert SessionStore(backend="memory", default_ttl=5).settings.default_ttl == 5
    monkeypatch.setenv("SESSIONSTORE_URL", "memory://?default_ttl=30")
    assert SessionStore().settings.default_ttl == 30
    # from_url reads the URL and its keywords only, never the environment.
    url = "memory://?default_ttl=3600"
    assert SessionStore.from_url(url).settings.default_ttl == 3600
    assert SessionStore.from_url(url, default_ttl=7).settings.default_ttl == 7
    assert SessionStore.from_url("memory://").settings.default_ttl is None


@pytest.mark.parametrize("bad", ["0", "-5", "soon", "nan", "1e300"])
def test_bad_default_ttl_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    """1e300 seconds is past the year 9999: a store built with it failed every write."""
    with pytest.raises(ConfigurationError, match="default_ttl") as caught:
        SessionStore.from_url(f"memory://?default_ttl={bad}")
    assert ("before the year 10000" in str(caught.value)) == (bad == "1e300")
    monkeypatch.setenv("SESSIONSTORE_DEFAULT_TTL", bad)
    with pytest.raises(ConfigurationError, match="SESSIONSTORE_DEFAULT_TTL"):
        SessionStore(backend="memory")
    with pytest.raises(ValueError, match="ttl"):
        SessionStore(backend="memory", default_ttl=0)


@pytest.mark.parametrize(
    "huge", [pytest.param(10**400, id="10**400"), 1e300, timedelta.max], ids=str
)
def test_a_default_ttl_past_the_year_9999_is_refused_by_the_constructor(huge: Any) -> None:
    """Not an OverflowError (10**400 fits no float), nor a store whose every write
    raised "ttl None reaches beyond the year 9999"."""
    with pytest.raises(ValueError, match="beyond the year 9999"):
        SessionStore(backend="memory", default_ttl=huge)
    with pytest.raises(ValueError, match="beyond the year 9999"):
        SessionStore.from_url("memory://", default_ttl=huge)


async def test_touch_needs_a_ttl(store: SessionStore) -> None:
    await store.store_session("s", {})
    with pytest.raises(ValueError, match="default_ttl"):
        await store.touch_session("s")


async def test_touch_with_a_file_name_for_a_ttl_says_where_it_goes(store: SessionStore) -> None:
    await store.store_session("s", {"v": 1}, filename="cp.json")
    with pytest.raises(ValueError, match=r"pass filename='cp.json'"):
        await store.touch_session("s", "cp.json")  # type: ignore[arg-type]
    metadata = await store.get_session_metadata("s", "cp.json")
    assert metadata is not None
    assert metadata.expires_at is None


async def test_touch_of_a_stored_nan_names_the_stored_state_and_writes_nothing(
    store: SessionStore,
) -> None:
    """Another tool stored NaN, which loads: the touch cannot write it back, and
    says that the state in storage, not an argument, is why."""
    await store.store_session("s", {"v": 1}, ttl=60)
    stored = await store.load_raw("s")
    assert stored is not None
    await store.store_raw("s", "state.json", stored.data.replace(b'{"v":1}', b'{"v":NaN}'))
    before = await store.load_raw("s")
    with pytest.raises(
        SerializationError,
        match=r"touch_session cannot write 's', filename='state.json' back as it is stored: "
        r".*NaN.*; store a state without it first",
    ):
        await store.touch_session("s", 3600)
    assert await store.load_raw("s") == before


async def test_touch_of_a_file_without_expiry_gives_it_one(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    await store.store_session("s", {"v": 1})
    touched = await store.touch_session("s", 30)
    assert touched is not None
    assert touched.expires_at == fake_clock.time + timedelta(seconds=30)
    fake_clock.advance(30)
    assert await store.load_session("s") is None


async def test_create_only_writes_over_an_expired_file_only(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    """An expired file reads as absent (load, session_exists), so it does not block
    a create; a live one does, and so does one that cannot be decoded."""
    await store.store_session("s", {"v": 1}, ttl=10)
    with pytest.raises(ConflictError):
        await store.store_session("s", {"v": 2}, create_only=True)
    fake_clock.advance(10)
    assert not await store.session_exists("s")
    created = await store.store_session("s", {"v": 3}, create_only=True)
    assert await store.load_session_with_metadata("s") == ({"v": 3}, created)
    with pytest.raises(ConflictError):
        await store.store_session("s", {"v": 4}, create_only=True)
    await store.store_raw("s", "state.json", b"{}")  # a plain object: never expires
    with pytest.raises(ConflictError):
        await store.store_session("s", {"v": 5}, create_only=True)
    assert await store.load_session("s") == {}


async def test_store_raw_create_only_writes_over_an_expired_file_only(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    """store_raw takes its conditions "as for store_session": its create_only was
    refused by an expired file (ConflictError) that store_session writes over."""
    source = SessionStore(backend="memory")
    await source.store_session("s", {"restored": True})
    backup = await source.load_raw("s")
    assert backup is not None
    await store.store_session("s", {"v": 1}, ttl=10)
    with pytest.raises(ConflictError):
        await store.store_raw("s", "state.json", backup.data, create_only=True)
    fake_clock.advance(10)
    await store.store_raw("s", "state.json", backup.data, create_only=True)
    assert await store.load_session("s") == {"restored": True}
    with pytest.raises(ConflictError):
        await store.store_raw("s", "state.json", backup.data, create_only=True)


async def test_create_only_over_an_expired_file_loses_to_a_writer_in_between(
    store: SessionStore, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write over the expired file is conditional on the version read: a writer
    refreshing the file meanwhile wins, and the create fails."""
    await store.store_session("s", {"v": 1}, ttl=1)
    fake_clock.advance(2)
    storage = await store._ensure_ready()
    download: Callable[[str], Awaitable[StoredObject]] = storage.download

    refreshes: list[str] = []

    async def download_then_refresh(path: str) -> StoredObject:
        stored = await download(path)
        if not refreshes:
            refreshes.append(path)
            await store.store_session("s", {"refreshed": True}, ttl=60)
        return stored

    monkeypatch.setattr(storage, "download", download_then_refresh)
    with pytest.raises(ConflictError):
        await store.store_session("s", {"v": 2}, create_only=True)
    assert refreshes == ["s/state.json"]
    assert await store.load_session("s") == {"refreshed": True}


async def test_purge_spares_a_session_refreshed_while_it_runs(
    store: SessionStore, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer refreshes "b" just after purge read it as expired: purge's
    conditional delete fails and "b" survives with its checkpoint."""
    for session_id in ("a", "b", "c"):
        await store.store_session(session_id, {"id": session_id}, ttl=1)
        await store.store_session(session_id, {}, "cp.json")
    fake_clock.advance(2)
    storage = await store._ensure_ready()
    download: Callable[[str], Awaitable[StoredObject]] = storage.download

    async def download_then_refresh(path: str) -> StoredObject:
        stored = await download(path)
        if path == "b/state.json":
            await store.store_session("b", {"id": "b", "refreshed": True}, ttl=60)
        return stored

    monkeypatch.setattr(storage, "download", download_then_refresh)
    assert await store.purge_expired() == 2
    assert await store.list_sessions() == ["b"]
    assert await store.load_session("b") == {"id": "b", "refreshed": True}
    assert await store.list_files("b") == ["cp.json", "state.json"]


async def test_purge_keeps_a_state_recreated_after_its_delete(
    store: SessionStore, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new state.json written between purge's two deletes starts a new session:
    it is kept, the old checkpoints go."""
    await store.store_session("a", {}, ttl=1)
    await store.store_session("a", {}, "cp.json")
    fake_clock.advance(2)
    storage = await store._ensure_ready()
    delete = storage.delete

    async def delete_then_recreate(paths: Any, *, if_match: str | None = None) -> None:
        await delete(paths, if_match=if_match)
        if if_match is not None:
            await store.store_session("a", {"new": True})

    monkeypatch.setattr(storage, "delete", delete_then_recreate)
    assert await store.purge_expired() == 1
    assert await store.list_files("a") == ["state.json"]
    assert await store.load_session("a") == {"new": True}


async def test_purge_by_prefix_and_invalid_page_size(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    for session_id in ("chat-1", "chat-2", "job-1"):
        await store.store_session(session_id, {}, ttl=1)
    fake_clock.advance(2)
    assert await store.purge_expired(prefix="chat-", page_size=1) == 2
    assert await store.list_sessions() == ["job-1"]
    with pytest.raises(ValueError, match="page_size"):
        await store.purge_expired(page_size=0)


async def test_purge_leaves_corrupt_state_files(store: SessionStore) -> None:
    storage = await store._ensure_ready()
    await storage.upload("s/state.json", b"not json")
    assert await store.purge_expired() == 0
    assert await store.session_exists("s") is True


def _plant_symlinked_state(root: Path, session_id: str) -> None:
    """Replace a stored session's state.json with a symlink, which the file backend
    refuses to read."""
    state = root / "sessions" / session_id / "state.json"
    state.unlink()
    state.symlink_to(root / "elsewhere")


async def test_purge_reports_a_session_it_cannot_read_and_goes_on(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    store = SessionStore(backend="file", root=tmp_path)
    for session_id in ("a", "c", "d"):
        await store.store_session(session_id, {}, ttl=1)
        await store.store_session(session_id, {}, "checkpoint.json")
    await store.store_session("b", {}, ttl=1)
    _plant_symlinked_state(tmp_path, "b")
    fake_clock.advance(2)
    failed: list[tuple[str, Exception]] = []
    purged: list[str] = []

    count = await store.purge_expired(
        on_purged=purged.append, on_error=lambda i, e: failed.append((i, e))
    )

    assert (count, sorted(purged)) == (3, ["a", "c", "d"])
    assert [(session_id, type(error)) for session_id, error in failed] == [
        ("b", StoragePermissionError)
    ]
    assert "symlink" in str(failed[0][1])
    assert await store.list_sessions() == ["b"]
    assert (tmp_path / "sessions" / "b" / "state.json").is_symlink()


def _once_the_expired_state_is_deleted(
    store: SessionStore, then: Callable[[], Awaitable[None]]
) -> None:
    """Run ``then`` once, right after purge's conditional delete of a state.json
    (the only delete with ``if_match``), as an application starting a new session
    under that id at that moment would."""
    storage = store._storage
    real_delete = storage.delete

    async def delete(paths: Sequence[str], *, if_match: str | None = None) -> None:
        await real_delete(paths, if_match=if_match)
        if if_match is not None:
            storage.delete = real_delete  # type: ignore[method-assign]
            await then()

    storage.delete = delete  # type: ignore[method-assign]


async def test_purge_keeps_the_checkpoints_of_a_session_started_right_after_it(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    """A new session under the same id, written between the purge's delete of the
    expired state.json and its delete of the checkpoints, kept its state.json but
    lost the checkpoint it wrote beside it: the checkpoints were listed after."""
    await store.store_session("chat", {"old": True}, ttl=1)
    await store.store_session("chat", {"old": True}, "old-checkpoint")
    fake_clock.advance(2)

    async def new_session() -> None:
        await store.update_session("chat", lambda state: {"new": True})
        await store.store_session("chat", {"step": 1}, "checkpoint-001")

    _once_the_expired_state_is_deleted(store, new_session)
    assert await store.purge_expired() == 1
    assert await store.list_files("chat") == ["checkpoint-001", "state.json"]
    assert await store.load_session("chat") == {"new": True}


async def test_purge_keeps_a_checkpoint_a_new_session_wrote_under_an_old_name(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    """The new session's first checkpoint has the expired one's name: purge deleted
    it too, as it deleted the names it had listed whatever their version."""
    await store.store_session("chat", {"old": True}, ttl=1)
    await store.store_session("chat", {"old": True}, "checkpoint-001")
    await store.store_session("chat", {"old": True}, "checkpoint-002")
    fake_clock.advance(2)

    async def new_session() -> None:
        await store.store_session("chat", {"new": True})
        await store.store_session("chat", {"new": True}, "checkpoint-001")

    _once_the_expired_state_is_deleted(store, new_session)
    assert await store.purge_expired() == 1
    assert await store.list_files("chat") == ["checkpoint-001", "state.json"]
    assert await store.load_session("chat", "checkpoint-001") == {"new": True}


async def test_purge_finishes_a_session_whose_delete_answer_was_lost(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    """The storage deleted the expired state.json, but its answer was lost and the
    client's retry found nothing to delete at that version: a ConflictError. Purge
    took it for "written since" and left the checkpoints for good (the cloud audit,
    on s3, gcs and azure): without their state.json no later purge finds them."""
    await store.store_session("chat", {"old": True}, ttl=1)
    await store.store_session("chat", {"step": 1}, "checkpoint-001")
    fake_clock.advance(2)
    storage = store._storage
    real_delete = storage.delete

    async def delete_then_lose_the_answer(
        paths: Sequence[str], *, if_match: str | None = None
    ) -> None:
        await real_delete(paths, if_match=if_match)
        if paths == ["chat/state.json"]:
            storage.delete = real_delete  # type: ignore[method-assign]
            raise ConflictError("retried: nothing at that version")

    storage.delete = delete_then_lose_the_answer  # type: ignore[method-assign]
    assert await store.purge_expired() == 1
    assert await store.list_files("chat") == []
    assert await store.list_sessions() == []


async def test_purge_awaits_async_callbacks(tmp_path: Path, fake_clock: FakeClock) -> None:
    """An ``async def`` on_purged or on_error was called and never awaited: it never
    ran, and Python only warned of a coroutine never awaited."""
    store = SessionStore(backend="file", root=tmp_path)
    for session_id in ("a", "b", "c"):
        await store.store_session(session_id, {}, ttl=1)
    _plant_symlinked_state(tmp_path, "b")
    fake_clock.advance(2)
    heard: list[tuple[str, str]] = []

    async def purged(session_id: str) -> None:
        await anyio.lowlevel.checkpoint()
        heard.append(("purged", session_id))

    async def failed(session_id: str, error: Exception) -> None:
        await anyio.lowlevel.checkpoint()
        heard.append(("failed", session_id))

    assert await store.purge_expired(on_purged=purged, on_error=failed, concurrency=1) == 2
    assert heard == [("purged", "a"), ("failed", "b"), ("purged", "c")]


async def test_purge_stops_when_on_error_raises(tmp_path: Path, fake_clock: FakeClock) -> None:
    store = SessionStore(backend="file", root=tmp_path)
    for session_id in ("a", "b"):
        await store.store_session(session_id, {}, ttl=1)
    _plant_symlinked_state(tmp_path, "a")
    fake_clock.advance(2)

    def stop(session_id: str, error: Exception) -> None:
        raise RuntimeError(f"stop at {session_id}")

    with pytest.raises(RuntimeError, match="stop at a") as raised:
        await store.purge_expired(on_error=stop, concurrency=1)
    assert isinstance(raised.value.__context__, StoragePermissionError)
    assert await store.list_sessions() == ["a", "b"]  # nothing after "a" was purged
    gc.collect()  # the listing was closed, not left for the collector


async def test_purge_that_fails_midway_closes_its_listing(tmp_path: Path) -> None:
    """Regression: when a session's purge raised (here a symlink planted as a
    state file), the listing generator was left suspended; trio then warned that
    it was garbage-collected unfinalized."""
    store = SessionStore(backend="file", root=tmp_path)
    for session in ("a", "b"):
        await store.store_session(session, {}, ttl=60)
        await store.store_session(session, {}, "checkpoint.json")
    _plant_symlinked_state(tmp_path, "a")
    with pytest.raises(StoragePermissionError, match="symlink"):
        await store.purge_expired()
    gc.collect()  # an unfinalized generator warns here, which fails the test
