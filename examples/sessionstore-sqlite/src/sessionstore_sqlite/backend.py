"""The async half of the backend: the options a store passes and one hook per operation.

Every hook checks its arguments, then makes exactly one thread hop
(:meth:`SQLiteBackend._in_thread`): a worker thread opens a connection, runs the
matching function of :mod:`sessionstore_sqlite.db`, and closes the connection.
No SQLite call happens on the event loop, and the same code runs on asyncio and
on trio.

A cancelled operation is not abandoned half-way: ``run_blocking`` waits for the
thread, whose transaction then commits or rolls back as a whole, before the
cancellation is delivered, however the caller was cancelled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from sqlite3 import Connection
from typing import Concatenate, ParamSpec, TypeVar

import anyio.lowlevel
import attrs

from sessionstore import ConfigurationError, ListPage, ObjectInfo, StoredObject, hookimpl
from sessionstore.threads import run_blocking
from sessionstore_sqlite import db

P = ParamSpec("P")
T = TypeVar("T")


@attrs.define(eq=False)
class SQLiteBackend:
    """Keeps every bucket of a store in one SQLite database file.

    Options (keyword arguments of ``SessionStore``, or URL query parameters,
    converted to the types below):

    ``path``
        The database file, created with its folder on first use. A relative path
        is taken from the current directory when the store is built.
    ``root``
        The same, under the name a URL's path gets: ``sqlite:///var/lib/app/s.db``
        means ``root="/var/lib/app/s.db"``. Give ``path`` or ``root``, not both.
    ``timeout``
        Seconds a write waits for another writer of the same file (SQLite's busy
        timeout) before failing with "database is locked". Default 30.

    Any number of stores, threads and processes of one host may share the file.
    Version tokens come from one counter for the whole file, so they never repeat.
    """

    path: Path | None = None
    root: Path | None = None
    timeout: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    database: Path = attrs.field(init=False)
    """The absolute path of the database file, from ``path`` or ``root``."""

    def __attrs_post_init__(self) -> None:
        if self.path is not None and self.root is not None:
            raise ConfigurationError(
                "the sqlite backend takes the database file as `path` or as `root` "
                f"(a URL's path), not both: got path={str(self.path)!r}, root={str(self.root)!r}"
            )
        chosen = self.path if self.path is not None else self.root
        if chosen is None:
            raise ConfigurationError(
                "the sqlite backend needs a database file: SessionStore(backend='sqlite', "
                "path='sessions.db') or SessionStore.from_url('sqlite:///abs/path/sessions.db')"
            )
        if str(chosen) == ":memory:":
            raise ConfigurationError(
                "the sqlite backend needs a file: each operation opens its own connection, "
                "so ':memory:' would forget everything; use the memory backend instead"
            )
        self.database = Path(os.path.abspath(chosen))

    async def _in_thread(
        self, operation: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """The one thread hop: run ``operation(connection, *args, **kwargs)`` in a
        worker thread, on a connection opened and closed in that thread.

        sqlite3 connections belong to the thread that opened them, so none is kept
        between operations. That costs about 50 µs per operation while another
        connection to the file is open, and a few hundred when the one closing is
        the file's last (SQLite then checkpoints the WAL into the database). A
        per-thread cache would save it, but ``sessionstore_close`` runs on the
        event loop's thread, where sqlite3 refuses to close another thread's
        connection, and a connection left to the garbage collector is a
        ResourceWarning on Python 3.13+.
        """

        def work() -> T:
            with db.connect(self.database, self.timeout) as connection:
                return operation(connection, *args, **kwargs)

        return await run_blocking(work)

    @hookimpl
    async def sessionstore_init(self, bucket: str) -> None:
        """Create the database file, its folder and tables if missing; switch it to
        WAL mode. Idempotent.

        Buckets need no preparing: ``bucket`` is a column, and a bucket exists as
        soon as it holds a row. Raises ``PermissionError`` or ``sqlite3.Error`` (the
        core reports them with the bucket) when the file cannot be created.
        """

        def prepare() -> None:
            self.database.parent.mkdir(parents=True, exist_ok=True)
            with db.connect(self.database, self.timeout) as connection:
                db.init(connection, self.timeout)

        await run_blocking(prepare)  # one hop, as for every other hook

    @hookimpl
    async def sessionstore_describe(self, bucket: str) -> Mapping[str, str]:
        """The database file, for ``sessionstore doctor`` and start-up logs: where to
        look for the sessions, and what to back up. (Optional hook.)"""
        await anyio.lowlevel.checkpoint()  # every hook yields once, as a thread hop does
        return {
            "database": str(self.database),
            "bucket": f"the rows of bucket {bucket!r} (one file holds every bucket)",
        }

    @hookimpl
    async def sessionstore_upload(
        self, bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
    ) -> ObjectInfo:
        """Write ``data`` at ``path`` in one transaction; return the new version's info.

        Atomic: readers see the old row or the new one, even if the process dies
        during the write (SQLite's journal undoes an unfinished transaction).
        ``if_match``/``create_only`` are checked inside the same ``BEGIN IMMEDIATE``
        transaction as the write, so of many concurrent conditional writers, in
        any number of processes, exactly one succeeds; the others get
        ``ConflictError`` and change nothing. Every write gets a new version token.
        """
        if if_match is not None and create_only:
            raise ValueError("if_match and create_only exclude each other")
        return await self._in_thread(db.upload, bucket, path, bytes(data), if_match, create_only)

    @hookimpl
    async def sessionstore_download(self, bucket: str, path: str) -> StoredObject:
        """The bytes at ``path`` with the info of exactly that version (one ``SELECT``).

        Raises ``FileNotFoundError`` if there is no object.
        """
        return await self._in_thread(db.download, bucket, path)

    @hookimpl
    async def sessionstore_exists(self, bucket: str, path: str) -> bool:
        """Whether an object is at ``path``; a directory alone is not one."""
        return await self._in_thread(db.exists, bucket, path)

    @hookimpl
    async def sessionstore_stat(self, bucket: str, path: str) -> ObjectInfo:
        """Size, UTC times and version of ``path`` without reading its bytes.

        Raises ``FileNotFoundError`` if there is no object.
        """
        return await self._in_thread(db.stat, bucket, path)

    @hookimpl
    async def sessionstore_delete(
        self, bucket: str, paths: Sequence[str], if_match: str | None
    ) -> None:
        """Delete every object in ``paths`` in one transaction; absent ones are skipped.

        With ``if_match`` (one path only) the version check and the delete are one
        atomic step; a stale token or an absent object raises ``ConflictError`` and
        deletes nothing. Directories are never stored, so an emptied one stops
        listing at once.
        """
        if isinstance(paths, str):
            raise TypeError("paths must be a sequence of paths, not one string")
        if if_match is not None and len(paths) != 1:
            raise ValueError(f"if_match needs exactly one path, got {len(paths)}")
        if paths:
            await self._in_thread(db.delete, bucket, list(paths), if_match)

    @hookimpl
    async def sessionstore_list(
        self, bucket: str, prefix: str, cursor: str | None, limit: int | None
    ) -> ListPage:
        """One page of the entries directly below ``prefix``, S3-style, ascending.

        ``prefix`` splits at its last ``/`` into a directory and a name prefix;
        entries are the directory's objects (full paths) and sub-directories
        (full paths plus ``/``) whose names start with the name prefix. The page's
        ``cursor`` is its last entry, and the next page starts strictly after it,
        so entries present for the whole listing appear exactly once; it is
        ``None`` only when nothing matching is left. See :func:`db.list_page` for
        how the entries are found with index seeks rather than a scan.
        """
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number or None, got {limit!r}")
        return await self._in_thread(db.list_page, bucket, prefix, cursor, limit)
