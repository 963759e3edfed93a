"""``SessionStore``: the session-centric async API over any backend.

A session is a folder of named files in a bucket: ``<session_id>/state.json``
plus any checkpoint files. Each file holds a JSON object, stored inside an
envelope (see :mod:`sessionstore.codec`).
"""

from __future__ import annotations

import inspect
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing, suppress
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import anyio
import attrs

from sessionstore import bulk, clock, codec
from sessionstore.counts import check_count
from sessionstore.errors import (
    ConflictError,
    CorruptSessionError,
    SerializationError,
    SessionStoreError,
)
from sessionstore.names import (
    session_path,
    valid_directory_names,
    valid_names,
    validate_bucket,
    validate_name,
    validate_prefix,
)
from sessionstore.objects import ObjectInfo, SessionMetadata, SessionPage, StoredObject
from sessionstore.settings import (
    DEFAULT_TTL_OPTION,
    StoreSettings,
    parse_url,
    resolve_settings,
    ttl_seconds,
)
from sessionstore.storage import Storage

DEFAULT_FILENAME = "state.json"
MAX_ATTEMPTS = 100
"""How often a compare-and-swap loop starts again before giving up."""
DELETE_BATCH = 1000
"""Most paths handed to one delete call (the S3 and GCS batch limit)."""

State = dict[str, Any]
Updater = Callable[[State | None], "Mapping[str, Any] | Awaitable[Mapping[str, Any]]"]
TTL = timedelta | float | int
Rewrite = Callable[[State | None], Awaitable["Mapping[str, Any] | None"]]
"""Given the live state (``None`` if absent or expired), the state to write, or
``None`` to write nothing."""
Decoded = TypeVar("Decoded")
_Store = TypeVar("_Store", bound="SessionStore")
_RESOLVED = "_sessionstore_settings"
"""The keyword :meth:`SessionStore.from_url` hands its settings to ``__init__``
under, so a subclass's ``__init__`` runs too; no backend option is named so."""


class SessionStore:
    """Store, load, list and delete session state in any installed backend.

    ``backend`` and ``bucket`` default to ``SESSIONSTORE_URL`` /
    ``SESSIONSTORE_BACKEND`` / ``SESSIONSTORE_BUCKET``, else ``file`` and
    ``sessions``; further keyword arguments are the backend's options (for
    ``file``: ``root``). ``default_ttl`` (seconds or a timedelta; else
    ``SESSIONSTORE_DEFAULT_TTL``) is the time-to-live of writes that give no
    ``ttl``; without one they never expire. The backend is imported and its
    options checked here; the bucket is prepared on first use, or on ``async with``.

    Example::

        async with SessionStore(backend="memory") as store:
            await store.store_session("abc123", {"status": "active"})
            state = await store.load_session("abc123")
    """

    settings: StoreSettings
    """The backend (spelt as it names itself), bucket, options and default TTL this
    store was built with: what a pickled store carries to another process."""
    bucket: str
    """The bucket this store's sessions are in."""

    def __init__(
        self, backend: str | None = None, bucket: str | None = None, **backend_options: Any
    ) -> None:
        settings = backend_options.pop(_RESOLVED, None)
        if settings is None:
            # default_ttl is a reserved keyword, taken out of **backend_options so that
            # callers passing an options dict keep type-checking.
            default_ttl = backend_options.pop(DEFAULT_TTL_OPTION, None)
            settings = resolve_settings(backend, bucket, backend_options, default_ttl=default_ttl)
        self._open(settings)

    @classmethod
    def from_url(
        cls: type[_Store], url: str, *, bucket: str | None = None, **backend_options: Any
    ) -> _Store:
        """Build a store from a URL such as ``file:///var/lib/app?bucket=sessions``
        or ``memory://?default_ttl=3600``, ignoring the environment; ``bucket`` and
        keyword options (``default_ttl`` too) override the URL's.

        A subclass's ``__init__`` runs, given the settings as one keyword it should
        pass on to ``super().__init__`` with the others (``**kwargs``)."""
        default_ttl = backend_options.pop(DEFAULT_TTL_OPTION, None)
        settings = parse_url(url)
        resolved = StoreSettings(
            backend=settings.backend,
            bucket=settings.bucket if bucket is None else bucket,
            options={**settings.options, **backend_options},
            default_ttl=settings.default_ttl if default_ttl is None else ttl_seconds(default_ttl),
        )
        given: dict[str, Any] = {_RESOLVED: resolved}
        return cls(**given)

    def _open(self, settings: StoreSettings) -> None:
        # The backend first: with an unknown one, the bucket's rules are not the point.
        self._storage = Storage(settings.backend, settings.bucket, settings.options)
        # Named as the backend spells it (--backend MEMORY is memory).
        self.settings = attrs.evolve(settings, backend=self._storage.name)
        self.bucket = validate_bucket(settings.bucket)
        self._ready = False
        self._entered = 0  # open ``async with`` blocks

    @property
    def backend(self) -> str:
        """The backend's name, e.g. ``"file"``."""
        return self.settings.backend

    def __repr__(self) -> str:
        # Options may hold credentials: never show them.
        return f"SessionStore(backend={self.backend!r}, bucket={self.bucket!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (sent to a worker process), a store is its settings, credentials
        included, as fsspec's file systems are: in the other process it opens its
        own connections to the same storage. A ``memory`` store's sessions live in
        its process, so its copy starts empty."""
        state = self.__dict__.copy()
        for opened in ("_storage", "_ready", "_entered", "bucket"):
            del state[opened]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        settings = state.pop("settings")
        self.__dict__.update(state)
        self._open(settings)

    async def __aenter__(self: _Store) -> _Store:
        """Prepare the bucket; the store is closed when the last ``async with``
        around it ends, so a function may open a store it was given without
        closing it under its caller (or under other tasks sharing it)."""
        self._entered += 1
        try:
            await self._ensure_ready()
        except BaseException:
            self._entered -= 1
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered -= 1
        if not self._entered:
            await self.aclose()

    async def aclose(self) -> None:
        """Let the backend release its connections, now, whatever ``async with``
        blocks are still open. The store stays usable: the next operation
        prepares the bucket again; closing again does nothing. Operations other
        tasks have in flight finish (or fail) as the backend allows: the built-in
        ones finish them first.

        Shielded from cancellation (within the storage's timeouts): closing is what
        an ``async with`` whose body was cancelled does on its way out, and a
        close cut off at its first await would leak the backend's connections."""
        if self._ready:
            self._ready = False
            with anyio.CancelScope(shield=True):
                await self._storage.close()

    async def describe(self) -> dict[str, str]:
        """Where and how the backend keeps this store's bucket, as short labels to
        one-line values (the file backend: its folder, and whether names differ by
        case there), for a person checking a setup: log it at start-up, or see it
        in ``sessionstore doctor``. Never holds a credential. Prepares the bucket
        first, as other operations do, since the backend may report what it
        learned then; ``{}`` for a backend that does not say."""
        storage = await self._ensure_ready()
        return await storage.describe()

    async def _ensure_ready(self) -> Storage:
        if not self._ready:
            # init is idempotent, so concurrent first calls may both run it.
            await self._storage.init()
            self._ready = True
        return self._storage

    # -- state files ---------------------------------------------------------------

    async def store_session(
        self,
        session_id: str,
        state: Mapping[str, Any],
        filename: str = DEFAULT_FILENAME,
        *,
        if_match: str | None = None,
        create_only: bool = False,
        ttl: TTL | None = None,
    ) -> SessionMetadata:
        """Store ``state`` (a JSON object) as ``filename`` of the session.

        ``if_match`` writes only over exactly that version; ``create_only`` only
        if the file does not exist or has expired (as :meth:`session_exists` sees
        it); otherwise :class:`ConflictError`. ``ttl`` (seconds or a timedelta, at
        least 1 µs; default: the store's ``default_ttl``) makes the file read as
        absent once it has passed. Returns the metadata of the
        version written. Raises :class:`SerializationError` (writing nothing)
        when the state is not JSON.
        """
        _check_conditions(if_match, create_only)
        path = session_path(session_id, filename)
        stored_at = clock.now()
        envelope = codec.Envelope(
            format=codec.FORMAT_VERSION,
            session_id=session_id,
            filename=filename,
            stored_at=stored_at,
            backend=self.backend,
            expires_at=self._expiry(stored_at, ttl),
        )
        data = codec.encode(state, envelope)
        # The hot paths (this and _download) skip awaiting _ensure_ready once ready.
        storage = self._storage if self._ready else await self._ensure_ready()
        try:
            info = await storage.upload(path, data, if_match=if_match, create_only=create_only)
        except ConflictError as conflict:
            if not create_only:
                raise
            info = await self._create_over_expired(path, data, conflict)
        return self._metadata(session_id, filename, info, envelope)

    async def _create_over_expired(
        self, path: str, data: bytes, conflict: ConflictError
    ) -> ObjectInfo:
        """Finish a ``create_only`` write that found a file: write over exactly that
        version if it has expired (an expired file reads as absent everywhere, so it
        must not block a create), else raise the ``conflict``. Costs requests only
        on this conflict path."""
        for _ in range(MAX_ATTEMPTS):
            stored = await self._download(path)
            over = None  # deleted meanwhile: create again
            if stored is not None:
                try:
                    expired = _expired(codec.decode_envelope(stored.data, path))
                except CorruptSessionError:
                    expired = False  # undecodable counts as existing (see session_exists)
                if not expired:
                    break
                over = stored.info.version
            try:
                return await self._storage.upload(
                    path, data, if_match=over, create_only=over is None
                )
            except ConflictError:
                continue  # another writer got in between: look again
        raise conflict

    async def load_session(self, session_id: str, filename: str = DEFAULT_FILENAME) -> State | None:
        """Return the stored state exactly as it was stored, or ``None`` if absent.

        Raises :class:`CorruptSessionError` when the stored bytes are not a
        session document.
        """
        read = await self._read(session_id, filename, codec.decode)
        return None if read is None or _expired(read[0].envelope) else read[0].state

    async def load_session_with_metadata(
        self, session_id: str, filename: str = DEFAULT_FILENAME
    ) -> tuple[State, SessionMetadata] | None:
        """Like :meth:`load_session`, with the metadata (and ``version``) of
        exactly the version read: one request."""
        read = await self._read(session_id, filename, codec.decode)
        if read is None or _expired(read[0].envelope):
            return None
        document, info = read
        return document.state, self._metadata(session_id, filename, info, document.envelope)

    async def update_session(
        self,
        session_id: str,
        fn: Updater,
        filename: str = DEFAULT_FILENAME,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        ttl: TTL | None = None,
    ) -> State:
        """Read-modify-write without lost updates; return the state written.

        ``fn`` receives the current state (``None`` if absent or expired) and
        returns the new one; it may be a coroutine function and may run several
        times. The write is conditional on the version read; on a conflict the
        update is retried after a short random back-off, up to ``max_attempts``
        times before :class:`ConflictError`. ``ttl`` is as for
        :meth:`store_session`: the new version gets its own expiry.
        """

        if not callable(fn):  # refused before reading, not when it is first called
            raise TypeError(
                f"update_session takes a function of the current state, got "
                f"{type(fn).__name__}; to write a state as it is, use store_session"
            )

        async def apply(current: State | None) -> Mapping[str, Any]:
            new = fn(current)
            if inspect.isawaitable(new):
                new = await new
            if not isinstance(new, Mapping):
                raise SerializationError(
                    f"update_session's function must return the new state as a dict, "
                    f"got {type(new).__name__}"
                )
            return new

        written = await self._rewrite(session_id, filename, apply, ttl, max_attempts)
        assert written is not None  # apply always returns a state
        return dict(written[0])

    async def touch_session(
        self, session_id: str, ttl: TTL | None = None, filename: str = DEFAULT_FILENAME
    ) -> SessionMetadata | None:
        """Push the file's expiry to ``ttl`` (default: the store's ``default_ttl``)
        from now, keeping its state; ``None`` if it is absent or already expired.

        The file is rewritten (new version) conditionally on the version read, so
        a concurrent write is never lost: on a conflict the touch starts again.
        """
        if ttl is None and self.settings.default_ttl is None:
            raise ValueError("touch_session needs a ttl, or a store with a default_ttl")
        if isinstance(ttl, str):  # touch_session(id, "cp.json"): the ttl comes second
            raise ValueError(
                f"touch_session's second argument is the ttl, got {ttl!r}; "
                f"to touch a file, pass filename={ttl!r}"
            )

        async def keep(current: State | None) -> State | None:
            return current

        try:
            written = await self._rewrite(session_id, filename, keep, ttl, MAX_ATTEMPTS)
        except SerializationError as error:
            # The state is the stored one: written by another tool, it can hold
            # what this library reads but never writes (NaN, an infinity).
            raise SerializationError(
                f"touch_session cannot write {session_id!r}, filename={filename!r} "
                f"back as it is stored: {error}; store a state without it first"
            ) from error
        return None if written is None else written[1]

    async def _rewrite(
        self,
        session_id: str,
        filename: str,
        rewrite: Rewrite,
        ttl: TTL | None,
        max_attempts: int,
    ) -> tuple[Mapping[str, Any], SessionMetadata] | None:
        """The compare-and-swap loop: read the live state, ``rewrite`` it, write
        the result over exactly the version read (an expired file's included),
        and start again on a conflict. ``None`` when ``rewrite`` gave ``None``."""
        if ttl is not None:
            ttl_seconds(ttl)  # refuse a bad ttl before reading, not only when writing
        check_count("max_attempts", max_attempts)
        for attempt in range(max_attempts):
            read = await self._read(session_id, filename, codec.decode)
            version = None if read is None else read[1].version
            new = await rewrite(
                None if read is None or _expired(read[0].envelope) else read[0].state
            )
            if new is None:
                return None
            try:
                meta = await self.store_session(
                    session_id,
                    new,
                    filename,
                    if_match=version,
                    create_only=version is None,
                    ttl=ttl,
                )
            except ConflictError:
                if attempt + 1 < max_attempts:  # no waiting before giving up
                    # Full-jitter exponential back-off spreads contending writers apart.
                    # (2**attempt capped: past 1,023 attempts it overflowed a float.)
                    ceiling = min(0.25, 0.001 * 2 ** min(attempt, 8))
                    await anyio.sleep(random.uniform(0, ceiling))
                continue
            return new, meta
        raise ConflictError(
            f"rewriting {session_id!r}, filename={filename!r} gave up after "
            f"{max_attempts} attempts: the file kept changing under it"
        )

    async def delete_session(self, session_id: str, filename: str | None = None) -> bool:
        """Delete one file of the session, or with ``filename=None`` every file.

        Returns whether anything was there to delete when it began (two deletes
        at once may both return True). Files under the session that
        no session file can be named (``.hidden``, written there by another tool)
        are not the session's, so they stay; while one does, the id still lists.
        """
        if filename is not None:
            path = session_path(session_id, filename)
            storage = await self._ensure_ready()
            if not await storage.exists(path):
                return False
            await storage.delete([path])
            return True
        return await self._delete_files(session_id, keep=None)

    async def purge_expired(
        self,
        *,
        prefix: str = "",
        page_size: int = bulk.PAGE_SIZE,
        dry_run: bool = False,
        concurrency: int = bulk.DEFAULT_CONCURRENCY,
        on_purged: Callable[[str], object] | None = None,
        on_error: Callable[[str, SessionStoreError], object] | None = None,
    ) -> int:
        """Delete every session (all its files) whose ``state.json`` has expired;
        return how many. ``on_purged`` is called with each purged id (it and
        ``on_error`` may be ``async def`` functions: they are awaited); ``dry_run``
        counts (and reports) the expired sessions without deleting any.
        ``concurrency`` sessions are checked at a time, so ``on_purged`` and
        ``on_error`` hear of them in the order they finish, not in listing order.

        A session that cannot be read or deleted (a file the storage refuses, a
        request that fails) raises its error and ends the purge, unless
        ``on_error`` is given: it is called with the id and the error, and the
        purge goes on with the next session, so one bad session cannot keep a
        whole bucket from being purged (raise inside it to stop). Errors listing
        the sessions, or sweeping at the end, always raise. When the purge ends
        early (an error, or cancelled), no session is left half-deleted: a session
        whose delete has begun is finished first (within the storage's timeouts).

        Sessions are listed a page at a time, so memory stays flat. Safe while the
        application writes: a ``state.json`` is deleted only at the version found
        expired, so a session refreshed meanwhile survives, and each checkpoint
        only at the version it had before, so a new session started under the
        same id right after keeps its own, even under an old name. A session without a
        ``state.json`` is left alone, whatever its checkpoints' expiry. Unless
        ``dry_run``, the backend then clears what interrupted writes left in the
        bucket (the file backend's abandoned temporary folders), if it has any.
        """
        _check_flag("dry_run", dry_run)
        purged = 0

        async def purge(session_id: str) -> None:
            nonlocal purged
            try:
                expired = await self._purge_if_expired(session_id, dry_run=dry_run)
            except SessionStoreError as error:
                if on_error is None:
                    raise
                await _call_back(on_error, session_id, error)
                return
            if expired:
                purged += 1
                if on_purged is not None:
                    await _call_back(on_purged, session_id)

        await bulk.for_each_session(
            self, prefix, purge, concurrency=concurrency, page_size=page_size
        )
        if not dry_run:
            storage = await self._ensure_ready()
            await storage.sweep()
        return purged

    async def _purge_if_expired(self, session_id: str, *, dry_run: bool) -> bool:
        try:
            read = await self._read(session_id, DEFAULT_FILENAME, codec.decode_envelope)
        except CorruptSessionError:
            return False  # not known to be expired: leave it for a human
        if read is None or not _expired(read[0]):
            return False
        if dry_run:
            return True
        storage = await self._ensure_ready()
        # The expired session's checkpoints are those there, at the versions there,
        # before its state.json goes. A new session started under this id right
        # after the delete keeps its state.json, so it keeps its checkpoints too:
        # those listed after, and those it wrote over an old one's name.
        checkpoints = await self._checkpoint_versions(session_id)
        # Once begun, the session is deleted whole even if the purge is cancelled
        # meanwhile (the storage may have acted on a request whose answer the
        # cancellation cut off): nothing would find its checkpoints again without
        # their state.json.
        state_path = session_path(session_id, DEFAULT_FILENAME)
        with anyio.CancelScope(shield=True):
            try:
                await storage.delete([state_path], if_match=read[1].version)
            except ConflictError:
                # Written since we read it, and the session lives on; or gone: the
                # answer to our own delete was lost and its retry found nothing (or
                # a delete_session got there first), and the checkpoints must go too.
                if await storage.exists(state_path):
                    return False
            for path, version in checkpoints:
                with suppress(ConflictError):  # written since: a new session's
                    await storage.delete([path], if_match=version)
        return True

    async def _checkpoint_versions(self, session_id: str) -> list[tuple[str, str]]:
        """The path and current version of each file of the session but its state."""
        storage = await self._ensure_ready()
        found = []
        for name in await self.list_files(session_id):
            if name == DEFAULT_FILENAME:
                continue
            path = session_path(session_id, name)
            with suppress(FileNotFoundError):  # deleted since it was listed
                found.append((path, (await storage.stat(path)).version))
        return found

    async def _delete_files(self, session_id: str, keep: str | None) -> bool:
        """Delete every file of the session but ``keep``; whether there were any."""
        validate_name(session_id)
        return await self._delete_names(session_id, await self.list_files(session_id), keep)

    async def _delete_names(self, session_id: str, names: list[str], keep: str | None) -> bool:
        """Delete the session's files ``names`` but ``keep``; whether there were any.

        ``state.json`` goes last: a delete that fails or is cut off part-way
        leaves a session that still loads and lists (and a retry finishes it),
        never checkpoints without their state."""
        storage = await self._ensure_ready()
        names = sorted(names, key=lambda name: name == DEFAULT_FILENAME)
        paths = [f"{session_id}/{name}" for name in names if name != keep]
        for start in range(0, len(paths), DELETE_BATCH):
            await storage.delete(paths[start : start + DELETE_BATCH])
        return bool(paths)

    async def session_exists(self, session_id: str, filename: str = DEFAULT_FILENAME) -> bool:
        """Whether the session's ``filename`` exists and has not expired (one read
        of the file). Raises on storage errors: a false "absent" would let callers
        overwrite a live session; for the same reason a file that cannot be
        decoded counts as existing."""
        try:
            read = await self._read(session_id, filename, codec.decode_envelope)
        except CorruptSessionError:
            return True
        return read is not None and not _expired(read[0])

    async def get_session_metadata(
        self, session_id: str, filename: str = DEFAULT_FILENAME, *, full: bool = False
    ) -> SessionMetadata | None:
        """Size, times and version of a session file, or ``None`` if absent.

        Reads no content unless ``full``: then the file is downloaded (one request
        instead of one stat) to fill ``stored_at``, ``format_version`` and
        ``expires_at`` too. An expired file still has metadata until it is purged.
        """
        if full:
            read = await self._read(session_id, filename, codec.decode_envelope)
            if read is None:
                return None
            return self._metadata(session_id, filename, read[1], read[0])
        path = session_path(session_id, filename)
        storage = await self._ensure_ready()
        try:
            info = await storage.stat(path)
        except FileNotFoundError:
            return None
        return self._metadata(session_id, filename, info, None)

    # -- stored bytes --------------------------------------------------------------

    async def load_raw(
        self, session_id: str, filename: str = DEFAULT_FILENAME
    ) -> StoredObject | None:
        """The file's stored bytes (envelope included) and the info of exactly that
        version, or ``None`` if absent; expired files too. For tools that move
        sessions between stores byte for byte."""
        return await self._download(session_path(session_id, filename))

    async def store_raw(
        self,
        session_id: str,
        filename: str,
        data: bytes,
        *,
        if_match: str | None = None,
        create_only: bool = False,
    ) -> ObjectInfo:
        """Write bytes read by :meth:`load_raw` (from this store or another) as they
        are, conditions as for :meth:`store_session`. Raises
        :class:`CorruptSessionError` (writing nothing) unless they decode as a
        session document, so no store ever holds a file it cannot read."""
        _check_conditions(if_match, create_only)
        if not isinstance(data, bytes):
            raise TypeError(f"store_raw takes bytes, got {type(data).__name__}")
        path = session_path(session_id, filename)
        codec.decode(data, path)
        storage = await self._ensure_ready()
        try:
            return await storage.upload(path, data, if_match=if_match, create_only=create_only)
        except ConflictError as conflict:
            if not create_only:
                raise
            # As for store_session: an expired file reads as absent, so it does not
            # block a create (it did here, with ConflictError).
            return await self._create_over_expired(path, data, conflict)

    # -- listing -------------------------------------------------------------------

    async def list_sessions(self, prefix: str = "") -> list[str]:
        """Every session id starting with ``prefix``, in listing order: ascending by
        ``"<id>/"``, as cloud listings sort (so ``"a-b"`` comes before ``"a"``)."""
        session_ids: list[str] = []
        async with aclosing(bulk.pages(self, prefix, page_size=None)) as pages:
            async for page in pages:
                session_ids.extend(page)
        return session_ids

    def iter_sessions(
        self, prefix: str = "", *, page_size: int | None = bulk.PAGE_SIZE
    ) -> AsyncGenerator[str, None]:
        """Yield session ids starting with ``prefix`` in listing order (see
        :meth:`list_sessions`), fetched a page at a time, so memory stays flat
        however many sessions exist. Breaking out of the loop early is fine: there
        is nothing to close (trio warns about unfinished async generators; this
        is an iterator that needs no ``aclosing``)."""
        if page_size is not None:
            check_count("page_size", page_size, none_means="no limit")
        return bulk.SessionIds(self, prefix, page_size)

    async def list_sessions_page(
        self, prefix: str = "", *, cursor: str | None = None, limit: int | None = 100
    ) -> SessionPage:
        """One page of session ids; pass the returned ``cursor`` to get the next.
        A page may hold fewer than ``limit`` ids; ``cursor is None`` marks the end."""
        validate_prefix(prefix)
        if limit is not None:
            check_count("limit", limit, none_means="no limit")
        if cursor is not None and not isinstance(cursor, str):
            raise TypeError(f"cursor must be a string from a previous page, got {cursor!r}")
        storage = await self._ensure_ready()
        page = await storage.list(prefix, cursor, limit)
        ids = valid_directory_names(page.entries)
        return SessionPage(session_ids=tuple(ids), cursor=page.cursor)

    async def list_files(self, session_id: str) -> list[str]:
        """Names of every file of the session (state and checkpoints), ascending."""
        prefix = f"{validate_name(session_id)}/"
        storage = await self._ensure_ready()
        names: list[str] = []
        cursor = None
        while True:
            page = await storage.list(prefix, cursor, None)
            start = len(prefix)
            names.extend(
                valid_names([entry[start:] for entry in page.entries if entry[-1:] != "/"])
            )
            if page.cursor is None:
                return names
            cursor = page.cursor

    async def _read(
        self,
        session_id: str,
        filename: str,
        decode: Callable[[bytes, str], Decoded],
    ) -> tuple[Decoded, ObjectInfo] | None:
        """The file as ``decode`` reads it (the whole document, or with
        :func:`codec.decode_envelope` only what expiry and metadata need) and the
        info of exactly that version; ``None`` if there is no file (expired or not)."""
        path = session_path(session_id, filename)
        stored = await self._download(path)
        if stored is None:
            return None
        return decode(stored.data, path), stored.info

    async def _download(self, path: str) -> StoredObject | None:
        storage = self._storage if self._ready else await self._ensure_ready()
        try:
            return await storage.download(path)
        except FileNotFoundError:
            return None

    def _expiry(self, stored_at: datetime, ttl: TTL | None) -> datetime | None:
        """When a file written at ``stored_at`` with ``ttl`` expires (the store's
        default TTL if ``ttl`` is None; ``None``: never)."""
        seconds = self.settings.default_ttl if ttl is None else ttl_seconds(ttl)
        if seconds is None:
            return None
        try:
            return stored_at + timedelta(seconds=seconds)
        except OverflowError:  # a ttl checked when the clock read earlier
            raise ValueError(f"a ttl of {seconds} seconds reaches beyond the year 9999") from None

    def _metadata(
        self,
        session_id: str,
        filename: str,
        info: ObjectInfo,
        envelope: codec.Envelope | None,
    ) -> SessionMetadata:
        return SessionMetadata(
            session_id=session_id,
            filename=filename,
            size=info.size,
            modified=info.modified,
            created=info.created,
            backend=self.backend,
            version=info.version,
            stored_at=envelope.stored_at if envelope else None,
            format_version=envelope.format if envelope else None,
            expires_at=envelope.expires_at if envelope else None,
        )


async def _call_back(callback: Callable[..., object], *args: object) -> None:
    """Call a progress callback, awaiting what it returns if that is awaitable: an
    ``async def`` callback was called and never awaited, so never ran (Python only
    warned that a coroutine was never awaited)."""
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


def _check_conditions(if_match: object, create_only: bool) -> None:
    """Refuse conditions that could never hold. A version that is not a string (the
    whole SessionMetadata passed for its ``version``) matches no file, so every
    write raised ConflictError, and a reload-and-retry loop would never end."""
    _check_flag("create_only", create_only)
    if if_match is not None and create_only:
        raise ValueError("if_match and create_only exclude each other")
    if if_match is not None and not isinstance(if_match, str):
        hint = " (pass its .version)" if isinstance(if_match, SessionMetadata) else ""
        raise TypeError(f"if_match must be a version string, got {type(if_match).__name__}{hint}")


def _check_flag(name: str, value: object) -> None:
    """Refuse a flag that is not a bool: ``"false"`` from a configuration file is
    truthy, and would have turned the flag on."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _expired(envelope: codec.Envelope | None) -> bool:
    """Whether a file with ``envelope`` has expired: files without one never do."""
    return (
        envelope is not None
        and envelope.expires_at is not None
        and envelope.is_expired(clock.now())
    )
