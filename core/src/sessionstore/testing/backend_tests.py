"""``BackendTests``: every clause of :mod:`sessionstore.hookspecs`, as tests to inherit.

The hook-level tests call the backend through the same bound plugin manager a
store uses (so errors are mapped exactly as users will see them); the facade
tests go through :class:`~sessionstore.SessionStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import random
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, ClassVar

import anyio
import attrs
import pytest

from sessionstore import clock
from sessionstore.errors import ConfigurationError, ConflictError, StorageUnavailableError
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.storage import Storage
from sessionstore.store import SessionStore
from sessionstore.testing.blocking import file_work_on_this_thread
from sessionstore.testing.forking import forked
from sessionstore.testing.guard import check_overrides
from sessionstore.testing.listing import PageOrder, all_pages
from sessionstore.testing.returns import check_returns

PAYLOADS = {
    "empty": b"",
    "one-byte": b"\x00",
    "not-utf8": bytes(range(256)) * 3 + b"\xff\xfe\xc3\x28",
    "10MB": random.Random(7).randbytes(10 * 1024 * 1024),
}

ALLOWED_NAMES = [
    "plain",
    "UPPER-lower_123",
    "with space inside",
    "dots.in.the..middle",
    "punctuation!#$%&'()+,;=@[]^`{}~",
    "percent%2e%2e%2f",
    "ünïcödé-名前-🙂",
    "x" * 255,
    "é" * 127,
    "-starts-with-dash",
    "trailing~",
]
"""Names the core accepts that a backend must store, list and load unchanged."""

FORK_LOADS = 20
"""Loads each process makes at once after a fork."""

BUSY_TASKS = 4
"""Tasks loading in the parent while it forks, so that a fork lands mid-operation."""
BUSY_FORKS = 5
"""Forks made while the parent is busy."""

FORK_TIMEOUT = 60.0
"""Seconds the forked child has for its loads: generous on a loaded host, but a
deadlocked child fails the test instead of hanging it."""

SWEPT_WRITES = 24
"""Writes under way while ``test_sweep_spares_writes_in_progress`` sweeps."""
SWEPT_WRITE_BYTES = 256 * 1024
"""Big enough that a write takes a while, so sweeps land in the middle of some."""

CANCEL_AFTER = (0.0, 0.001, 0.003, 0.01, 0.03)
"""When the kit cancels an upload in flight, in seconds after it began."""
CANCELLED_WRITE_BYTES = 1024 * 1024
"""The size of that upload: big enough to be under way when cancelled."""
LATE_WRITE_WAIT = 0.1
"""How long the kit watches for a cancelled upload landing after it returned."""
SECRET_WORDS = frozenset(
    {
        *("secret", "password", "passwd", "credential", "credentials"),
        *("connection", "sas", "sig", "signature"),
    }
)
"""Words that mark a store option (or a ``Name=value`` part of one) as a secret
wherever they appear in its name: its value must never be described."""
SECRET_LAST_WORDS = frozenset({"key", "token"})
"""Words that mark it as a secret when its name ends with them: ``account_key``,
``AccountKey`` and ``sas_token`` are secrets, ``key_prefix`` and ``token_file``
are not."""
MIN_SECRET = 6
"""Shorter option values are not looked for in a description: too likely by chance."""

NOT_VERSIONS = ["", " ", "*", '"*"', "abc\n", "9dd4e461268c8034f5c8564e155c67a6"]
"""``if_match`` tokens no backend gives out: blank, wildcards, a bare MD5 (an S3
ETag without its quotes)."""


def built_like(store: SessionStore, bucket: str | None = None) -> SessionStore:
    """A new store built as ``store`` was (backend, options, default ttl), over
    ``bucket`` or the same one: unopened, so usable on any event loop."""
    return SessionStore(
        backend=store.backend,
        bucket=store.bucket if bucket is None else bucket,
        default_ttl=store.settings.default_ttl,
        **store.settings.options,
    )


def run_alone(backend: str, function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``anyio.run(function, *args)`` on ``backend``, in a thread of its own.

    While a test has an async fixture (an async ``store``, say), pytest's anyio
    plugin keeps its event loop open in the test's thread, and ``anyio.run`` there
    raises "Already running ... in this thread". A new thread has no loop yet."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, function, *args, backend=backend).result()


@attrs.define
class FakeClock:
    """A clock for ``sessionstore.clock.now`` that moves only when told, so expiry
    is tested without sleeping."""

    time: datetime = attrs.field(factory=clock.now)

    def __call__(self) -> datetime:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += timedelta(seconds=seconds)


class BackendTests:
    """Inherit this in a ``Test...`` class and provide a ``store`` fixture that
    returns a :class:`~sessionstore.SessionStore` on your backend over a fresh,
    empty bucket (function scope; it may be an async fixture)."""

    pytestmark = pytest.mark.anyio

    version_is_content_hash: ClassVar[bool] = False
    """Capability flag: set it when the storage's version token is a hash of the
    bytes (S3's ETag), so rewriting identical bytes gives the same token back.
    Compare-and-swap stays safe — equal tokens mean equal bytes, so nothing a
    writer read can be lost — and the kit then checks token changes with writes
    whose bytes differ. Every other clause stays required."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_overrides(cls, BackendTests)

    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(self, request: pytest.FixtureRequest) -> str:
        """Every kit test runs on both event loops."""
        return str(request.param)

    @pytest.fixture
    def store(self) -> SessionStore:
        """Override: a store on your backend over a fresh, empty bucket."""
        pytest.fail(
            "BackendTests needs a `store` fixture: define one in your subclass returning "
            "SessionStore(backend='<yours>', bucket=..., **options) over an empty bucket"
        )

    @pytest.fixture
    async def other_bucket_store(self, store: SessionStore) -> AsyncIterator[SessionStore]:
        """A store built as ``store`` is, over another fresh, empty bucket (``store``'s
        name with ``-other`` appended). Override it if your storage cannot open that
        bucket without help (one must be made first, say)."""
        other = built_like(store, bucket=f"{store.bucket[:56]}-other")
        yield other
        await other.aclose()

    @pytest.fixture
    async def storage(self, store: SessionStore) -> Storage:
        """The store's bound backend, initialised (``sessionstore_init`` called)."""
        return await store._ensure_ready()

    @pytest.fixture(autouse=True)
    def _hook_returns_checked(self, request: pytest.FixtureRequest) -> None:
        """In every test using ``store``, a hook returning the wrong type fails with
        the hook's name and the type it must return (not an AttributeError later).
        Tests that do not ask for ``store`` do not get one built for this."""
        if "store" in request.fixturenames:
            check_returns(request.getfixturevalue("store")._storage)

    @pytest.fixture
    def fake_clock(self, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
        """Stands in for ``sessionstore.clock.now`` for one test."""
        fake = FakeClock()
        monkeypatch.setattr(clock, "now", fake)
        return fake

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    async def list_all(storage: Storage, prefix: str = "", limit: int | None = None) -> list[str]:
        pages = await all_pages(lambda cursor: storage.list(prefix, cursor, limit), limit=limit)
        return [entry for page in pages for entry in page]

    cancelled_uploads_may_land_late: ClassVar[bool] = False
    """Capability flag: set it when a cancelled call cuts its request off (so that
    a deadline is met, not waited out), which the server may still carry out after
    the call has returned. The kit then checks that a cancelled upload leaves the
    object whole, old or new, rather than settled when the call returns."""

    def _bytes(self, data: bytes, index: int) -> bytes:
        """``data``, made unique per ``index`` where tokens follow content."""
        return data + b"-%d" % index if self.version_is_content_hash else data

    # -- init ----------------------------------------------------------------------

    async def test_init_is_idempotent(self, storage: Storage) -> None:
        """``sessionstore_init`` may be called again on an existing bucket and must
        keep its objects.

        Troubleshooting: treat "bucket already exists" as success, not an error.
        """
        await storage.upload("s/f", b"kept")
        await storage.init()
        await storage.init()
        assert (await storage.download("s/f")).data == b"kept"

    async def test_unknown_option_is_refused(self, store: SessionStore) -> None:
        """Building a store with an option the backend does not have raises
        ConfigurationError naming it, so a misspelt option (``timout=3``) fails
        at once instead of being ignored.

        Troubleshooting: make the backend an attrs class (its ``init`` fields are
        its options, checked by the core), or give a plain class's ``__init__``
        named parameters only: no ``**kwargs`` that swallow unknown options.
        """
        refused: ConfigurationError | None = None
        try:
            SessionStore(
                backend=store.backend,
                bucket=store.bucket,
                **{**store.settings.options, "kit_no_such_option": "1"},
            )
        except ConfigurationError as error:
            refused = error
        if refused is None:
            pytest.fail(
                f"SessionStore(backend={store.backend!r}, kit_no_such_option='1') was "
                "accepted: the backend ignores options it does not know, so a misspelt "
                "one goes unnoticed. Make it an attrs class, or drop **kwargs from "
                "its __init__"
            )
        assert "kit_no_such_option" in str(refused), f"the error does not name it: {refused}"

    async def test_buckets_are_kept_apart(
        self, store: SessionStore, other_bucket_store: SessionStore
    ) -> None:
        """Two stores built with the same options over two buckets share nothing:
        what one writes, the other neither loads, lists nor deletes.

        Troubleshooting: every hook is given ``bucket``; keep each bucket's objects
        apart by it (a folder, a table column, a key prefix of its own). If the
        second bucket cannot be opened here, override the ``other_bucket_store``
        fixture.
        """
        other = other_bucket_store
        await store.store_session("both", {"bucket": "first"})
        await other.store_session("both", {"bucket": "other"})
        await other.store_session("only-other", {"bucket": "other"}, "cp.json")
        assert await store.load_session("both") == {"bucket": "first"}, (
            "a write to another bucket replaced this bucket's session: the hooks "
            "ignore their bucket argument"
        )
        assert await other.load_session("both") == {"bucket": "other"}
        assert await store.list_sessions() == ["both"], "another bucket's session is listed"
        assert await store.get_session_metadata("only-other", "cp.json") is None
        assert await store.delete_session("both") is True
        assert await other.load_session("both") == {"bucket": "other"}, (
            "delete_session in one bucket deleted the other bucket's session"
        )
        assert await other.list_sessions() == ["both", "only-other"]

    # -- upload / download ---------------------------------------------------------

    async def test_hooks_return_the_documented_types(self, storage: Storage) -> None:
        """Each hook returns what its specification says: ``upload`` and ``stat`` an
        ObjectInfo (str path and version, int size, aware datetimes), ``download``
        a StoredObject of bytes and ObjectInfo, ``exists`` a bool, ``list`` a
        ListPage of str entries and a str or None cursor, the optional
        ``sweep`` the int count of what it removed (0 for nothing, never None),
        and the optional ``describe`` a dict of str labels to str values.

        Troubleshooting: import the types from ``sessionstore`` and build them in
        every hook: ``return ObjectInfo(path=path, size=len(data), modified=now,
        created=now, version=str(generation))``, never a dict, a tuple, the bare
        bytes or the storage's own response object.
        """
        written = await storage.upload("s/f", b"abc")
        assert isinstance(written, ObjectInfo)
        assert isinstance(written.version, str)
        assert isinstance(await storage.stat("s/f"), ObjectInfo)
        stored = await storage.download("s/f")
        assert isinstance(stored, StoredObject)
        assert isinstance(stored.data, bytes)
        assert type(await storage.exists("s/f")) is bool
        page = await storage.list("", None, None)
        assert isinstance(page, ListPage)
        assert list(page.entries) == ["s/"]
        assert page.cursor is None
        assert type(await storage.sweep()) is int  # the hook's own answer is checked too
        assert type(await storage.describe()) is dict  # so is describe's, where it exists

    @pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
    async def test_round_trip_bytes(self, storage: Storage, payload: str) -> None:
        """Bytes uploaded come back identical: empty, one NUL byte, bytes that are
        not UTF-8, and 10 MB.

        Troubleshooting: open files in binary mode, never decode or strip data,
        and read until the end for large objects (no single-chunk read).
        """
        data = PAYLOADS[payload]
        info = await storage.upload("s/blob", data)
        stored = await storage.download("s/blob")
        assert stored.data == data, "sessionstore_download returned different bytes"
        assert stored.info.size == len(data) == info.size

    async def test_upload_returns_the_info_of_what_it_wrote(self, storage: Storage) -> None:
        """``sessionstore_upload`` returns an ObjectInfo whose version is the one
        ``stat`` and ``download`` then report.

        Troubleshooting: return the version from the write itself (e.g. the
        response's etag/generation), not from a separate request that could see
        a later write.
        """
        info = await storage.upload("s/f", b"abc")
        assert isinstance(info, ObjectInfo)
        assert info.path == "s/f"
        assert info.size == 3
        assert (await storage.stat("s/f")).version == info.version
        assert (await storage.download("s/f")).info.version == info.version

    async def test_overwrite_replaces_bytes_and_version(self, storage: Storage) -> None:
        """A second upload to the same path replaces the bytes and the version.

        Troubleshooting: never append; the version token must change on every
        write, even when size and content are the same.
        """
        first = await storage.upload("s/f", b"one")
        second = await storage.upload("s/f", b"two!")
        assert (await storage.download("s/f")).data == b"two!"
        assert second.version != first.version
        assert (await storage.stat("s/f")).size == 4

    async def test_version_changes_on_every_write(self, storage: Storage) -> None:
        """Twenty rapid writes of identical bytes give twenty distinct version tokens
        (of differing bytes, for a backend with ``version_is_content_hash``).

        Troubleshooting: a token must not be a coarse timestamp; use the storage's
        generation, or a counter or a fine clock that you force to increase. If
        the storage's token is a content hash, set ``version_is_content_hash``.
        """
        versions = [
            (await storage.upload("s/f", self._bytes(b"same", index))).version
            for index in range(20)
        ]
        assert len(set(versions)) == 20, f"version tokens repeat: {versions}"

    async def test_version_is_not_reused_after_delete(self, storage: Storage) -> None:
        """Deleting an object and writing it again gives a new token, so a writer
        holding the old token cannot overwrite the new object (the same bytes again,
        unless ``version_is_content_hash``).

        Troubleshooting: derive tokens from something that keeps growing across
        deletes (a storage generation, a global counter, a forced-forward clock),
        not from a per-object counter that restarts or from the content.
        """
        old = await storage.upload("s/f", b"same")
        await storage.delete(["s/f"])
        new = await storage.upload("s/f", self._bytes(b"same", 1))
        assert new.version != old.version, "a deleted object's version token came back"
        with pytest.raises(ConflictError):
            await storage.upload("s/f", b"late", if_match=old.version)

    async def test_download_of_missing_object_raises_file_not_found(self, storage: Storage) -> None:
        """Downloading an absent object raises FileNotFoundError (in a missing
        session and in an existing one).

        Troubleshooting: map the storage's "not found" (404, ENOENT, NoSuchKey...)
        to FileNotFoundError; do not return empty bytes or None.
        """
        with pytest.raises(FileNotFoundError):
            await storage.download("nobody/state.json")
        await storage.upload("s/other", b"x")
        with pytest.raises(FileNotFoundError):
            await storage.download("s/state.json")

    async def test_download_info_matches_the_bytes(self, storage: Storage) -> None:
        """The info returned with downloaded bytes describes exactly those bytes.

        Troubleshooting: take size and version from the same response (or the
        same open file) as the bytes.
        """
        await storage.upload("s/f", b"first")
        latest = await storage.upload("s/f", b"second!")
        stored = await storage.download("s/f")
        assert stored.data == b"second!"
        assert stored.info.size == len(stored.data)
        assert stored.info.version == latest.version

    # -- exists / stat -------------------------------------------------------------

    async def test_exists(self, storage: Storage) -> None:
        """``exists`` is True for an object, False for an absent one and False for a
        prefix that only holds other objects.

        Troubleshooting: check for the exact object; a "directory" is not an object.
        """
        assert await storage.exists("s/f") is False
        await storage.upload("s/f", b"x")
        assert await storage.exists("s/f") is True
        assert await storage.exists("s") is False
        assert await storage.exists("s/g") is False

    async def test_stat_fields(self, storage: Storage) -> None:
        """``stat`` reports path, size, timezone-aware modified/created times not
        in the future, created no later than modified, and a version string.

        Troubleshooting: build datetimes with a tzinfo (UTC); naive datetimes
        are refused by ObjectInfo itself.
        """
        info = await storage.upload("s/f", b"12345")
        stat = await storage.stat("s/f")
        assert stat.path == "s/f"
        assert stat.size == 5
        assert stat.modified.utcoffset() is not None
        assert stat.created.utcoffset() is not None
        assert stat.created <= stat.modified + timedelta(seconds=1)
        assert isinstance(stat.version, str)
        assert stat.version
        assert stat.version == info.version
        # Allow for clock skew between this machine and a remote storage service.
        assert stat.modified <= datetime.now(timezone.utc) + timedelta(minutes=5)

    async def test_stat_of_missing_object_raises_file_not_found(self, storage: Storage) -> None:
        """``stat`` of an absent object raises FileNotFoundError.

        Troubleshooting: map the storage's "not found" to FileNotFoundError.
        """
        with pytest.raises(FileNotFoundError):
            await storage.stat("s/missing")

    # -- delete --------------------------------------------------------------------

    async def test_delete_present_and_absent(self, storage: Storage) -> None:
        """Delete removes every listed object and silently skips absent ones, so
        repeating it is harmless.

        Troubleshooting: ignore "not found" per object; do not stop at the first.
        """
        for name in ("a", "b", "c"):
            await storage.upload(f"s/{name}", b"x")
        await storage.delete(["s/a", "s/missing", "s/c"])
        assert await self.list_all(storage, "s/") == ["s/b"]
        await storage.delete(["s/a", "s/c"])
        await storage.delete(["nobody/state.json"])
        assert await storage.exists("s/b")

    async def test_emptied_prefix_leaves_listings(self, storage: Storage) -> None:
        """When a session's last object is deleted, the session no longer lists.

        Troubleshooting: on file-like storage, remove the emptied directory (and
        your own leftovers in it) after deleting its last object.
        """
        await storage.upload("gone/a", b"x")
        await storage.upload("gone/b", b"x")
        await storage.upload("kept/a", b"x")
        await storage.delete(["gone/a", "gone/b"])
        assert await self.list_all(storage) == ["kept/"]

    async def test_sweep_keeps_every_object(self, storage: Storage) -> None:
        """``sessionstore_sweep`` (optional) removes only what interrupted writes left:
        every stored object stays, bytes and version alike, and listings are unchanged.

        Troubleshooting: only remove entries your own writers create under names the
        contract reserves (a leading ``.``), and only once no writer uses them.
        """
        infos = [await storage.upload(path, b"kept") for path in ("s/a", "s/b", "t/a", "top")]
        listed = await self.list_all(storage)
        await storage.sweep()  # its count is checked as every hook's return is
        assert await self.list_all(storage) == listed
        for info in infos:
            stored = await storage.download(info.path)
            assert (stored.data, stored.info.version) == (b"kept", info.version)

    async def test_sweep_spares_writes_in_progress(self, storage: Storage) -> None:
        """A sweep running while writes are under way removes nothing a live writer
        still needs: every write completes, and every object holds its bytes.

        Troubleshooting: a temporary entry belongs to its writer until that writer
        finishes or dies. Sweep only what no writer owns: hold a lock while writing
        and sweep only entries whose lock is free, or only entries older than any
        write can take.
        """
        if not inspect.unwrap(storage._hook.sessionstore_sweep).get_hookimpls():
            pytest.skip("the backend has no sessionstore_sweep (optional)")
        payloads = [os.urandom(SWEPT_WRITE_BYTES) for _ in range(SWEPT_WRITES)]
        finished, failed = 0, list[str]()

        async def write(index: int) -> None:
            nonlocal finished
            try:
                await storage.upload(f"s{index % 4}/f{index}", payloads[index])
            except StorageUnavailableError as error:
                failed.append(str(error))
            finally:
                finished += 1

        async with anyio.create_task_group() as group:
            for index in range(SWEPT_WRITES):
                group.start_soon(write, index)
            while finished < SWEPT_WRITES:
                await storage.sweep()
        assert not failed, (
            f"{len(failed)} of {SWEPT_WRITES} writes failed while sweeps ran (did a sweep "
            f"take their temporary files?); the first: {failed[0]}"
        )
        for index, payload in enumerate(payloads):
            stored = await storage.download(f"s{index % 4}/f{index}")
            assert stored.data == payload, f"s{index % 4}/f{index} lost its bytes to a sweep"

    async def test_conditional_delete(self, storage: Storage) -> None:
        """Delete with ``if_match`` removes the object only at that version; a stale
        token or an absent object raises ConflictError and deletes nothing.

        Troubleshooting: send the storage's conditional-delete header (If-Match,
        ifGenerationMatch, etag condition) or compare and delete under one lock.
        """
        old = await storage.upload("s/f", b"1")
        new = await storage.upload("s/f", b"2")
        with pytest.raises(ConflictError):
            await storage.delete(["s/f"], if_match=old.version)
        assert (await storage.download("s/f")).data == b"2"
        await storage.delete(["s/f"], if_match=new.version)
        assert not await storage.exists("s/f")
        with pytest.raises(ConflictError):
            await storage.delete(["s/f"], if_match=new.version)

    # -- conditional upload --------------------------------------------------------

    async def test_create_only(self, storage: Storage) -> None:
        """``create_only`` writes an absent object and refuses an existing one with
        ConflictError, leaving it unchanged.

        Troubleshooting: use the storage's create-if-absent request (If-None-Match: *,
        ifGenerationMatch=0, O_EXCL/link under a lock); a check-then-write races.
        """
        await storage.upload("s/f", b"first", create_only=True)
        with pytest.raises(ConflictError):
            await storage.upload("s/f", b"second", create_only=True)
        assert (await storage.download("s/f")).data == b"first"

    async def test_if_match(self, storage: Storage) -> None:
        """``if_match`` writes only over exactly that version: a stale token raises
        ConflictError and leaves the object unchanged; so does a token for an
        absent object.

        Troubleshooting: pass the token as the storage's precondition (If-Match,
        ifGenerationMatch, etag + IfNotModified) on a single-request upload; never
        drop it silently on a multipart path. When the precondition fails, raise
        ``sessionstore.ConflictError``: any other exception reads as a storage
        failure (StorageUnavailableError).
        """
        v1 = await storage.upload("s/f", b"v1")
        v2 = await storage.upload("s/f", b"v2", if_match=v1.version)
        with pytest.raises(ConflictError):
            await storage.upload("s/f", b"stale", if_match=v1.version)
        assert (await storage.download("s/f")).data == b"v2"
        await storage.upload("s/f", b"v3", if_match=v2.version)
        with pytest.raises(ConflictError):
            await storage.upload("s/absent", b"x", if_match=v2.version)
        assert not await storage.exists("s/absent")

    @pytest.mark.parametrize("token", NOT_VERSIONS, ids=range(len(NOT_VERSIONS)))
    async def test_a_token_that_is_no_version_conflicts_and_changes_nothing(
        self, storage: Storage, token: str
    ) -> None:
        """``if_match`` with a token the backend never gave out (blank, a wildcard, a
        bare hash) raises ConflictError, for a write, a write over an absent object
        and a delete, and changes nothing. Tokens often come from a client's
        If-Match header: a storage that reads ``""`` as no condition, or ``*`` as
        any version, wrote and deleted unconditionally.

        Troubleshooting: check the token's form before sending it as the
        precondition, and raise ConflictError for one your storage would read as
        a wildcard or as no condition at all.
        """
        await storage.upload("s/f", b"kept")
        with pytest.raises(ConflictError):
            await storage.upload("s/f", b"lost", if_match=token)
        with pytest.raises(ConflictError):
            await storage.upload("s/absent", b"lost", if_match=token)
        with pytest.raises(ConflictError):
            await storage.delete(["s/f"], if_match=token)
        assert (await storage.download("s/f")).data == b"kept"
        assert not await storage.exists("s/absent")

    async def test_a_conflict_names_its_object(self, storage: Storage) -> None:
        """Each ConflictError (create over an object, a stale version, a version of
        an absent object, a stale conditional delete) names the object's path, so
        the application can tell which write lost.

        Troubleshooting: put the path in the bucket in the message, not a local
        file path or URL that shows where the storage lives.
        """
        path = "s/contested.json"
        first = await storage.upload(path, b"1")
        await storage.upload(path, b"2")
        attempts: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            (path, partial(storage.upload, path, b"x", create_only=True)),
            (path, partial(storage.upload, path, b"x", if_match=first.version)),
            (
                "s/absent.json",
                partial(storage.upload, "s/absent.json", b"x", if_match=first.version),
            ),
            (path, partial(storage.delete, [path], if_match=first.version)),
        ]
        for named, attempt in attempts:
            with pytest.raises(ConflictError) as raised:
                await attempt()
            assert named in str(raised.value), raised.value

    async def test_conditional_writes_have_one_winner(self, storage: Storage) -> None:
        """Twenty concurrent ``create_only`` uploads of one path, then twenty
        concurrent ``if_match`` uploads holding the same token: exactly one of
        each group succeeds.

        Troubleshooting: the check and the write must be one atomic step (one
        conditional request, or one lock around both).
        """
        outcomes: dict[str, list[int]] = {"create": [], "match": []}

        async def write(kind: str, index: int, **condition: Any) -> None:
            try:
                await storage.upload("s/race", f"{kind}-{index}".encode(), **condition)
            except ConflictError:
                return
            outcomes[kind].append(index)

        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(partial(write, "create", index, create_only=True))
        assert len(outcomes["create"]) == 1, f"create_only winners: {outcomes['create']}"
        token = (await storage.stat("s/race")).version
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(partial(write, "match", index, if_match=token))
        assert len(outcomes["match"]) == 1, f"if_match winners: {outcomes['match']}"
        winner = f"match-{outcomes['match'][0]}".encode()
        assert (await storage.download("s/race")).data == winner

    # -- list ----------------------------------------------------------------------

    async def test_list_directories_and_objects(self, storage: Storage) -> None:
        """Listing the root gives sessions as ``"<id>/"``; listing ``"<id>/"`` gives
        that session's objects as full paths; both in ascending order of the
        entries as strings, trailing "/" included (the order of cloud listings).

        Troubleshooting: list with delimiter "/" (common prefixes for directories),
        return bucket-relative paths, sort the entries themselves (``"a/"``, not
        ``"a"``), hide your own temp files.
        """
        for path in ["b/state.json", "a/state.json", "a/cp-2", "a/cp-1", "c/x", "a0/x", "a-b/x"]:
            await storage.upload(path, b"x")
        # Ordered as strings with the trailing "/": "a-b/" < "a/" < "a0/".
        assert await self.list_all(storage) == ["a-b/", "a/", "a0/", "b/", "c/"], (
            "the root lists each session as '<id>/', '/' included, sorted as those strings"
        )
        assert await self.list_all(storage, "a/") == ["a/cp-1", "a/cp-2", "a/state.json"], (
            "listing '<id>/' gives the session's objects as full bucket-relative paths"
        )
        assert await self.list_all(storage, "missing/") == []

    async def test_list_with_name_prefix(self, storage: Storage) -> None:
        """A prefix not ending in "/" filters names in its directory.

        Troubleshooting: split the prefix at its last "/" into directory and name
        prefix; filter names by ``startswith``.
        """
        for session_id in ["ab1", "ab2", "abc", "b", "a"]:
            await storage.upload(f"{session_id}/state.json", b"x")
        await storage.upload("ab1/cp", b"x")
        assert await self.list_all(storage, "ab") == ["ab1/", "ab2/", "abc/"]
        assert await self.list_all(storage, "ab1/c") == ["ab1/cp"]
        assert await self.list_all(storage, "zz") == []

    async def test_list_pages_have_no_duplicates_or_gaps(self, storage: Storage) -> None:
        """Paging through 120 sessions 7 at a time yields each exactly once, in order.

        Troubleshooting: the cursor must resume strictly after the last entry
        returned; only a ``None`` cursor ends the listing.
        """
        ids = [f"s{index:03}" for index in range(120)]
        async with anyio.create_task_group() as group:
            for session_id in ids:
                group.start_soon(storage.upload, f"{session_id}/state.json", b"x")
        assert await self.list_all(storage, limit=7) == [f"{i}/" for i in ids]
        assert await self.list_all(storage, "s1", limit=7) == [
            f"{i}/" for i in ids if i.startswith("s1")
        ]

    async def test_list_pages_while_the_bucket_changes(self, storage: Storage) -> None:
        """Sessions present for the whole listing appear exactly once even while
        others are created and deleted between pages.

        Troubleshooting: make the cursor a position in the key order (e.g. the
        last key, or the storage's continuation token), not an offset.
        """
        stable = [f"m{index:03}" for index in range(0, 60, 2)]
        for session_id in stable:
            await storage.upload(f"{session_id}/state.json", b"x")
        seen: list[str] = []
        order = PageOrder()
        cursor = None
        churn = 0
        while True:
            page = await storage.list("", cursor, 5)
            order.check(cursor, page)
            seen.extend(page.entries)
            if page.cursor is None:
                break
            cursor = page.cursor
            churn += 1
            await storage.upload(f"m{churn * 2 + 1:03}/state.json", b"new")
            await storage.delete([f"m{churn * 2 - 1:03}/state.json"])
        stable_seen = [entry for entry in seen if entry[:-1] in stable]
        assert stable_seen == [f"{i}/" for i in stable]
        assert len(seen) == len(set(seen)), "an entry was listed twice"

    # -- describe ------------------------------------------------------------------

    async def test_describe_says_where_without_secrets(self, store: SessionStore) -> None:
        """``sessionstore_describe`` (optional) says where and how the bucket is kept
        as non-empty str labels mapped to non-empty one-line str values, and no
        value of an option whose name suggests a secret (one that ends in key or
        token, or has secret, password, credential, connection, sas or signature
        among its words) appears in any of them:
        ``sessionstore doctor`` prints them, applications log them.

        Troubleshooting: describe the location (a folder, a URL without its query,
        an account name) and the endpoint, never the credentials that reach them;
        read the endpoint from the client without the query string a SAS rides in.
        """
        hook = store._storage._hook.sessionstore_describe
        # Optional, so skipped without one (unwrapped: the kit may wrap it, see returns.py).
        if not inspect.unwrap(hook).get_hookimpls():
            pytest.skip("the backend has no sessionstore_describe (optional)")
        description = await store.describe()
        assert description, "sessionstore_describe returned nothing: leave the hook out instead"
        # The types are checked as every hook's return is (see returns.py).
        for label, value in description.items():
            assert label.strip(), f"an empty label: {description}"
            assert value.strip(), f"{label!r} is empty: {description}"
            assert "\n" not in value, f"{label!r} is not one line: {value!r}"
        for option, secret in _secret_values(store.settings.options):
            for label, value in description.items():
                assert secret not in f"{label}: {value}", (
                    f"sessionstore_describe shows the value of the option {option!r} "
                    f"under {label!r}: describe where the bucket is, never a credential"
                )

    # -- cancellation --------------------------------------------------------------

    @pytest.mark.parametrize(
        "hook",
        ["init", "upload", "download", "exists", "stat", "delete", "list", "sweep", "describe"],
    )
    async def test_every_hook_is_a_checkpoint(self, storage: Storage, hook: str) -> None:
        """Called in a cancelled scope, each hook raises the cancellation and changes
        nothing: an operation that never yields to the event loop cannot meet a
        deadline and keeps every other task waiting while a loop of them runs.
        (``sessionstore_sweep`` and ``sessionstore_describe`` only if implemented;
        ``sessionstore_close`` is not checked: it releases clients, which it should
        rather finish than abandon.)

        Troubleshooting: a hook that offloads to a thread (``anyio.to_thread``) or
        awaits a request yields already; one that completes without awaiting
        anything (an in-process store, or a shortcut such as a cached answer)
        should begin with ``await anyio.lowlevel.checkpoint()``, before it changes
        anything.
        """
        # Optional, so skipped without one (unwrapped: the kit may wrap it, see returns.py).
        if hook in ("sweep", "describe"):
            caller = inspect.unwrap(getattr(storage._hook, f"sessionstore_{hook}"))
            if not caller.get_hookimpls():
                pytest.skip(f"the backend has no sessionstore_{hook} (optional)")
        await storage.upload("s/f", b"old")
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "init": storage.init,
            "upload": lambda: storage.upload("s/f", b"new"),
            "download": lambda: storage.download("s/f"),
            "exists": lambda: storage.exists("s/f"),
            "stat": lambda: storage.stat("s/f"),
            "delete": lambda: storage.delete(["s/f"]),
            "list": lambda: storage.list("", None, None),
            "sweep": storage.sweep,
            "describe": storage.describe,
        }
        with anyio.CancelScope() as scope:
            scope.cancel()
            await calls[hook]()
        assert scope.cancelled_caught, (
            f"sessionstore_{hook} returned in a cancelled scope without yielding to the "
            "event loop once"
        )
        assert (await storage.download("s/f")).data == b"old", (
            f"sessionstore_{hook} changed storage before it raised the cancellation: "
            "reach the first checkpoint before changing anything, so that a cancelled "
            "call leaves storage as it was"
        )

    async def test_a_cancelled_upload_is_over_when_the_call_returns(
        self, storage: Storage, anyio_backend: str
    ) -> None:
        """Cancelled part-way, an upload has taken place or not by the time the
        cancellation reaches its caller, and nothing lands later: the caller loads
        the object to know which, and an ``update_session`` retried on that evidence
        must not apply its change twice. On asyncio the kit cancels as asyncio itself
        does (``task.cancel()``: ``asyncio.timeout``, ``wait_for``, Ctrl-C under
        ``asyncio.run``), which passes through anyio's shielded thread hops.

        Troubleshooting: hop with ``sessionstore.threads.run_blocking``, not
        ``anyio.to_thread.run_sync``, whose worker asyncio's cancellation abandons.
        A network backend that cuts its request off on cancellation (so that a
        deadline is met) cannot know whether it lands: set
        ``cancelled_uploads_may_land_late``.
        """
        new = b"n" * CANCELLED_WRITE_BYTES
        for delay in CANCEL_AFTER:
            await storage.upload("s/f", b"old")
            if anyio_backend == "asyncio":
                task = asyncio.ensure_future(storage.upload("s/f", new))
                await asyncio.sleep(delay)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            else:
                with anyio.move_on_after(delay):
                    await storage.upload("s/f", new)
            at_return = (await storage.download("s/f")).data
            await anyio.sleep(LATE_WRITE_WAIT)
            later = (await storage.download("s/f")).data
            assert at_return in (b"old", new), "a cancelled upload left a torn object"
            assert later in (b"old", new), "a cancelled upload left a torn object"
            if self.cancelled_uploads_may_land_late:
                continue
            assert later == at_return, (
                f"an upload cancelled {delay} s in landed after the call had returned: "
                "the caller's load saw the old bytes, then the new ones appeared"
            )

    # -- facade --------------------------------------------------------------------

    async def test_facade_round_trip_of_states_and_checkpoints(self, store: SessionStore) -> None:
        """States and checkpoints stored through SessionStore load back equal, list,
        and disappear with ``delete_session``.

        Troubleshooting: if the hook-level tests pass and this fails, check that
        listing returns session folders as "<id>/" and files as "<id>/<name>".
        """
        state = {"user": "ada", "_metadata": "mine", "big": 2**80, "list": [1, None, "x"]}
        await store.store_session("s1", state)
        await store.store_session("s1", {"step": 1}, "checkpoint-1.json")
        await store.store_session("s2", {})
        assert await store.load_session("s1") == state
        assert await store.load_session("s1", "checkpoint-1.json") == {"step": 1}
        assert await store.list_sessions() == ["s1", "s2"]
        assert await store.list_files("s1") == ["checkpoint-1.json", "state.json"]
        assert await store.delete_session("s1") is True
        assert await store.list_sessions() == ["s2"]
        assert await store.load_session("s1", "checkpoint-1.json") is None

    async def test_concurrent_updates_lose_nothing(self, store: SessionStore) -> None:
        """Thirty concurrent ``update_session`` increments end at exactly 30.

        Troubleshooting: a lost update means a conditional write succeeded over a
        version it did not match: see test_if_match and
        test_conditional_writes_have_one_winner.
        """

        def increment(state: dict[str, Any] | None) -> dict[str, Any]:
            return {"count": (state or {"count": 0})["count"] + 1}

        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(store.update_session, "counter", increment)
        assert await store.load_session("counter") == {"count": 30}

    @pytest.mark.parametrize("name", ALLOWED_NAMES, ids=range(len(ALLOWED_NAMES)))
    async def test_every_allowed_name(self, store: SessionStore, name: str) -> None:
        """Every character the core accepts in a session id or file name is stored,
        listed and loaded unchanged (unicode, spaces, punctuation, percent signs,
        255-byte names).

        Troubleshooting: do not URL-decode, normalise or escape names yourself
        beyond what your storage requires, and undo any escaping when listing.
        """
        await store.store_session(name, {"id": name}, name)
        assert await store.load_session(name, name) == {"id": name}
        assert await store.list_sessions() == [name]
        assert await store.list_files(name) == [name]
        assert await store.delete_session(name) is True
        assert await store.list_sessions() == []

    async def test_close_and_reuse(self, store: SessionStore) -> None:
        """A closed store works again on its next call (``sessionstore_close``, if
        implemented, then ``sessionstore_init`` again), with its data intact.

        Troubleshooting: in ``sessionstore_close`` drop clients so that
        ``sessionstore_init`` or the next call can make new ones; never make
        close fail on a backend that was never used.
        """
        await store.store_session("s", {"a": 1})
        await store.aclose()
        await store.aclose()
        assert await store.load_session("s") == {"a": 1}
        async with store:
            await store.store_session("s", {"a": 2})
        assert await store.load_session("s") == {"a": 2}

    async def test_closing_while_other_tasks_use_the_store(self, store: SessionStore) -> None:
        """``aclose`` while other tasks have operations in flight (an application
        shutting down, a function closing a store it was lent): each of those
        operations still succeeds with the right answer.

        Troubleshooting: in ``sessionstore_close``, drop the client so that the
        next operation makes a new one, but do not close a client that operations
        still use: :class:`sessionstore.clients.SharedClient` closes it when the
        last of them ends. A client closed under them made S3 downloads in flight
        return ``None``, which read as "no such session".
        """
        tasks, rounds, closes = 10, 6, 200
        failures: list[str] = []
        working = tasks

        async def work(session_id: str) -> None:
            nonlocal working
            try:
                for n in range(rounds):
                    await store.store_session(session_id, {"n": n})
                    loaded = await store.load_session(session_id)
                    if loaded != {"n": n}:
                        failures.append(f"{session_id}, round {n}: loaded {loaded!r}")
            except Exception as error:  # collected, then asserted with the others
                failures.append(f"{session_id}: {error!r}")
            finally:
                working -= 1

        async def close_again_and_again() -> None:
            for _ in range(closes):
                await anyio.sleep(0.001)
                if not working:
                    return
                await store.aclose()

        async with anyio.create_task_group() as group:
            group.start_soon(close_again_and_again)
            for index in range(tasks):
                group.start_soon(work, f"s{index}")
        assert failures == []

    async def test_no_file_work_on_the_event_loop(self, store: SessionStore) -> None:
        """Every operation, the first one (which calls ``sessionstore_init``)
        included, does its file-system work (opening, renaming, listing, removing
        files; ``sqlite3.connect``) in a worker thread, never on the event loop's
        thread, where it would block every other task of the application.

        Troubleshooting: put each operation's blocking work in one
        ``anyio.to_thread.run_sync`` call; build clients that read files (an SDK
        loading its data files, a credentials file) there too. The failure shows
        the first such call and where it was made.
        """
        fresh = built_like(store)
        with file_work_on_this_thread() as seen:
            await fresh.store_session("s", {"n": 1})
            await fresh.store_session("s", {"n": 2}, "cp.json")
            assert await fresh.load_session("s") == {"n": 1}
            await fresh.session_exists("s")
            await fresh.get_session_metadata("s")
            await fresh.list_sessions()
            await fresh.list_files("s")
            await fresh.describe()
            await fresh.delete_session("s", "cp.json")
            await fresh.delete_session("s")
            await fresh.purge_expired()
            await fresh.aclose()
        assert not seen, (
            f"{len(seen)} file operation(s) on the event loop's thread, the first: {seen[0]}"
        )

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
    def test_a_store_used_before_fork_works_in_both_processes(
        self, store: SessionStore, anyio_backend: str
    ) -> None:
        """A store used before ``fork()`` (a preloading web server, multiprocessing)
        works in the child and, at the same time, in the parent.

        Troubleshooting: clients with an event loop of their own (fsspec's, say)
        do not survive fork, and pooled connections must not be shared by two
        processes (their requests and answers would interleave): keep the pid
        beside each client and make a new one when ``os.getpid()`` differs,
        dropping the parent's without closing its connections.
        """
        # A store of its own, built as the fixture's was: the fixture may be async and
        # have used its store on pytest's event loop, which stays open meanwhile (each
        # anyio.run below is on a loop and thread of its own: see run_alone).
        store = built_like(store)
        run = partial(run_alone, anyio_backend)
        run(store.store_session, "parent", {"n": 1})
        run(store.store_session, "child", {"n": 2})

        def in_the_child() -> None:
            loaded = [run(store.load_session, "child") for _ in range(FORK_LOADS)]
            assert loaded == [{"n": 2}] * FORK_LOADS, loaded

        # Both processes load at once, distinct sessions, so that answers crossing
        # between processes show; a child that deadlocks fails within the timeout.
        with forked(in_the_child, timeout=FORK_TIMEOUT):
            loaded_here = [run(store.load_session, "parent") for _ in range(FORK_LOADS)]
        assert loaded_here == [{"n": 1}] * FORK_LOADS
        run(store.store_session, "parent", {"n": 3})
        assert run(store.load_session, "parent") == {"n": 3}
        run(store.aclose)

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
    def test_a_store_forked_mid_operation_works_in_the_child(
        self, store: SessionStore, anyio_backend: str
    ) -> None:
        """``fork()`` while other threads of the parent are inside operations on the
        store (a web server's worker threads, a background task): the child's
        copy of every lock those threads held stays locked, and the child must
        still use the store.

        Troubleshooting: a ``threading.Lock`` held by a thread at the fork stays
        locked in the child forever; guard the instance's state with
        ``sessionstore.forksafe.ForkSafeLock``, make clients per process
        (``SharedClient``), not just per instance, and put calls into a C
        library with locks of its own (SQLite) inside a ``ForkGate``.
        """
        store = built_like(store)
        run = partial(run_alone, anyio_backend)
        run(store.store_session, "busy", {"n": 1})
        stop, busy = threading.Event(), threading.Event()

        async def keep_busy() -> None:
            async with anyio.create_task_group() as group:
                for _ in range(BUSY_TASKS):
                    group.start_soon(load_until_stopped)

        async def load_until_stopped() -> None:
            try:
                while not stop.is_set():
                    assert await store.load_session("busy") == {"n": 1}
                    busy.set()
            finally:
                busy.set()  # failing, they end the wait for them at once

        def in_the_child() -> None:
            loaded = [run(store.load_session, "busy") for _ in range(FORK_LOADS)]
            assert loaded == [{"n": 1}] * FORK_LOADS, loaded

        with ThreadPoolExecutor(1) as pool:
            loads = pool.submit(partial(anyio.run, keep_busy, backend=anyio_backend))
            try:
                assert busy.wait(FORK_TIMEOUT), "the parent's loads did not start"
                if loads.done():
                    loads.result()  # they failed: that error, not a fork's
                for _ in range(BUSY_FORKS):
                    with forked(in_the_child, timeout=FORK_TIMEOUT):
                        pass
            finally:
                stop.set()
                loads.result()
        run(store.aclose)

    async def test_metadata_times_are_timezone_aware(self, store: SessionStore) -> None:
        """Metadata reports aware datetimes and the stored version.

        Troubleshooting: see test_stat_fields.
        """
        written = await store.store_session("s", {"a": 1})
        meta = await store.get_session_metadata("s")
        assert meta is not None
        assert meta.modified.utcoffset() is not None
        assert meta.created.utcoffset() is not None
        assert meta.version == written.version
        assert written.stored_at is not None
        assert written.stored_at.utcoffset() == timedelta(0)

    # -- expiry --------------------------------------------------------------------

    async def test_expired_files_read_as_absent(
        self, store: SessionStore, fake_clock: FakeClock
    ) -> None:
        """A file past its ``ttl`` loads as None and does not exist; each file has its
        own expiry, and a file stored without one never expires.

        Troubleshooting: expiry is read from the stored envelope against the
        client's clock, never the storage's; if this fails, stored bytes came back
        different (see test_round_trip_bytes).
        """
        meta = await store.store_session("s", {"v": 1}, ttl=60)
        await store.store_session("s", {"cp": 1}, "cp.json", ttl=timedelta(minutes=5))
        await store.store_session("forever", {"v": 1})
        assert meta.expires_at == fake_clock.time + timedelta(seconds=60)
        fake_clock.advance(59)
        assert await store.load_session("s") == {"v": 1}
        fake_clock.advance(1)
        assert await store.load_session("s") is None
        assert await store.load_session_with_metadata("s") is None
        assert await store.session_exists("s") is False
        assert await store.load_session("s", "cp.json") == {"cp": 1}
        assert await store.session_exists("s", "cp.json") is True
        fake_clock.advance(10**6)
        assert await store.load_session("forever") == {"v": 1}

    async def test_update_treats_an_expired_file_as_absent(
        self, store: SessionStore, fake_clock: FakeClock
    ) -> None:
        """``update_session`` hands an expired state to its function as None and
        writes over exactly the expired version.

        Troubleshooting: see test_if_match; the write is conditional on the
        version of the expired file, not create-only.
        """
        await store.store_session("s", {"count": 5}, ttl=1)
        fake_clock.advance(2)
        seen: list[Any] = []

        def increment(state: dict[str, Any] | None) -> dict[str, Any]:
            seen.append(state)
            return {"count": (state or {"count": 0})["count"] + 1}

        assert await store.update_session("s", increment, ttl=10) == {"count": 1}
        assert seen == [None]
        loaded = await store.load_session_with_metadata("s")
        assert loaded is not None
        assert loaded[1].expires_at == fake_clock.time + timedelta(seconds=10)

    async def test_touch_extends_expiry(self, store: SessionStore, fake_clock: FakeClock) -> None:
        """``touch_session`` keeps the state and moves its expiry; it returns None
        for an absent or expired file and creates nothing.

        Troubleshooting: see test_if_match.
        """
        await store.store_session("s", {"v": 1}, ttl=10)
        fake_clock.advance(8)
        touched = await store.touch_session("s", ttl=10)
        assert touched is not None
        assert touched.expires_at == fake_clock.time + timedelta(seconds=10)
        fake_clock.advance(8)
        assert await store.load_session("s") == {"v": 1}
        fake_clock.advance(2)
        assert await store.touch_session("s", ttl=10) is None
        assert await store.touch_session("absent", ttl=10) is None
        assert await store.list_sessions() == ["s"]

    async def test_purge_expired(self, store: SessionStore, fake_clock: FakeClock) -> None:
        """``purge_expired`` deletes every file of each session whose state.json has
        expired, and only those; sessions without a state.json are left alone.

        Troubleshooting: see test_conditional_delete and
        test_emptied_prefix_leaves_listings.
        """
        for index in range(5):
            await store.store_session(f"old-{index}", {"i": index}, ttl=1)
            await store.store_session(f"old-{index}", {"cp": index}, "cp.json", ttl=100)
        await store.store_session("live", {}, ttl=100)
        await store.store_session("forever", {})
        await store.store_session("no-state", {}, "cp.json", ttl=1)
        fake_clock.advance(2)
        assert await store.purge_expired(page_size=2) == 5
        assert await store.list_sessions() == ["forever", "live", "no-state"]
        assert await store.purge_expired() == 0


def _secret_values(options: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each option whose name suggests a secret, with its value as text, and the
    values of its secret ``name=value`` parts (a connection string's
    ``AccountKey``, a SAS's ``sig``); values too short to be told from ordinary
    words are left out."""

    def secret(name: str) -> bool:
        words = [word.lower() for word in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)]
        return bool(words) and (
            not SECRET_WORDS.isdisjoint(words) or words[-1] in SECRET_LAST_WORDS
        )

    for option, value in options.items():
        if not secret(option) or value is None:
            continue
        texts = [str(v) for v in value.values()] if isinstance(value, Mapping) else [str(value)]
        for text in texts:
            named = (part.partition("=") for part in re.split("[;&]", text))
            found = [text, *(value for name, _, value in named if secret(name))]
            for found_text in found:
                cleaned = found_text.strip().lstrip("?")
                if len(cleaned) >= MIN_SECRET:
                    yield option, cleaned
