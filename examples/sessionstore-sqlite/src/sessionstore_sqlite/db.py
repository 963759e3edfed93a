"""The blocking half of the backend: one plain function per hook, run whole in a worker thread.

Each function takes an open :class:`sqlite3.Connection` and does all of one
operation's SQL on it. None of them knows about async code: :mod:`.backend` opens
the connection with :func:`connect` inside ``anyio.to_thread.run_sync`` and calls
exactly one of them there, so every operation costs one thread hop.

The schema is one table of objects plus a one-row counter::

    sessionstore_objects  (bucket, path) -> data, version, created, modified
    sessionstore_versions last            the last version token handed out

Why the counter: a version token must never repeat for a path, or a writer holding
the token of a deleted object could overwrite the object created in its place.
A per-row counter restarts when a row is deleted and recreated, and ``MAX(version)``
repeats when the newest row is deleted; one counter for the whole file does neither.

Transactions: every write starts with ``BEGIN IMMEDIATE``, which takes SQLite's
single write lock before reading anything, so "check the version, then write" is
one atomic step for every thread and process using the file. A deferred ``BEGIN``
would take the lock only at the first write, and two transactions that both read
first could both pass the check. Readers in WAL mode never wait for writers.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from sessionstore import ConflictError, ListPage, ObjectInfo, StoredObject
from sessionstore.forksafe import ForkGate

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS sessionstore_objects (
        bucket   TEXT    NOT NULL,
        path     TEXT    NOT NULL,  -- bucket-relative, '/'-separated
        data     BLOB    NOT NULL,
        version  INTEGER NOT NULL,  -- taken from sessionstore_versions; never repeats
        created  TEXT    NOT NULL,  -- ISO 8601 UTC; kept when the object is overwritten
        modified TEXT    NOT NULL,  -- ISO 8601 UTC; when this version was written
        PRIMARY KEY (bucket, path)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sessionstore_versions (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        last INTEGER NOT NULL
    )
    """,
    "INSERT OR IGNORE INTO sessionstore_versions (id, last) VALUES (1, 0)",
)
"""Idempotent DDL, run by :func:`init` in one transaction."""

_ACCESS_REFUSED = frozenset(
    {"SQLITE_PERM", "SQLITE_AUTH", "SQLITE_READONLY", "SQLITE_READONLY_DIRECTORY"}
)
"""SQLite error names that mean "access refused" (the contract's PermissionError)."""


_FORK_GATE = ForkGate()
"""Around every connection's life: a fork waits until no thread is inside SQLite,
whose global locks a child forked mid-call would inherit held, and hang on."""


@contextmanager
def connect(database: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """Open ``database`` for one operation and close it afterwards.

    ``timeout`` is SQLite's busy timeout: how long a writer waits for another
    thread's or process's write transaction to finish before giving up with
    "database is locked". ``isolation_level=None`` switches off the sqlite3
    module's implicit transactions: this module says ``BEGIN`` and ``COMMIT``
    itself. (``with sqlite3.connect(...)`` would not close the connection, hence
    this helper.)

    SQLite errors that mean access was refused are re-raised as
    :class:`PermissionError`, as the contract asks. (They are recognised by
    ``sqlite_errorname``, which Python 3.11 added; on 3.10 they surface as
    ``StorageUnavailableError``.)
    """
    try:
        with _FORK_GATE:
            connection = sqlite3.connect(database, timeout=timeout, isolation_level=None)
            try:
                yield connection
            finally:
                connection.close()
    except sqlite3.Error as error:
        if getattr(error, "sqlite_errorname", None) in _ACCESS_REFUSED:
            raise PermissionError(f"{database}: {error}") from error
        raise


@contextmanager
def _transaction(connection: sqlite3.Connection, begin: str) -> Iterator[None]:
    """Run the block in one transaction: committed if it returns, rolled back if it raises."""
    connection.execute(begin)
    try:
        yield
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _write(connection: sqlite3.Connection) -> AbstractContextManager[None]:
    """A write transaction holding the file's write lock from its first statement."""
    return _transaction(connection, "BEGIN IMMEDIATE")


def _read(connection: sqlite3.Connection) -> AbstractContextManager[None]:
    """A read transaction: every query in it sees the same snapshot."""
    return _transaction(connection, "BEGIN")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _info(path: str, size: int, version: int, created: str, modified: str) -> ObjectInfo:
    return ObjectInfo(
        path=path,
        size=size,
        modified=datetime.fromisoformat(modified),
        created=datetime.fromisoformat(created),
        version=str(version),
    )


def _check_version(current: int | None, if_match: str, action: str, where: str) -> None:
    """Raise :class:`ConflictError` unless the object exists with version ``if_match``."""
    if current is None:
        raise ConflictError(
            f"cannot {action} {where}: expected version {if_match!r}, but there is no object"
        )
    if str(current) != if_match:
        raise ConflictError(
            f"cannot {action} {where}: expected version {if_match!r}, found {str(current)!r}"
        )


# -- one function per hook ---------------------------------------------------------


def init(connection: sqlite3.Connection, timeout: float) -> None:
    """Create the tables if they are missing and switch the file to WAL mode.

    WAL (write-ahead logging) lets readers in any process run while one writer
    commits; the setting is stored in the file, so setting it once is enough.
    Switching needs the file to itself, and SQLite answers "locked" at once
    (without its busy timeout) while another process opens the same new file,
    so the switch is retried for up to ``timeout`` seconds.
    """
    with _write(connection):
        for statement in SCHEMA:
            connection.execute(statement)
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def upload(
    connection: sqlite3.Connection,
    bucket: str,
    path: str,
    data: bytes,
    if_match: str | None,
    create_only: bool,
) -> ObjectInfo:
    """Check the precondition and write the row in one ``BEGIN IMMEDIATE`` transaction."""
    where = f"{path!r} in bucket {bucket!r}"
    with _write(connection):
        row = connection.execute(
            "SELECT version, created FROM sessionstore_objects WHERE bucket = ? AND path = ?",
            (bucket, path),
        ).fetchone()
        if if_match is not None:
            _check_version(None if row is None else row[0], if_match, "write", where)
        if create_only and row is not None:
            raise ConflictError(f"cannot create {where}: an object already exists there")
        connection.execute("UPDATE sessionstore_versions SET last = last + 1 WHERE id = 1")
        (version,) = connection.execute(
            "SELECT last FROM sessionstore_versions WHERE id = 1"
        ).fetchone()
        now = _now()
        if row is None:
            created = now
            connection.execute(
                "INSERT INTO sessionstore_objects (bucket, path, data, version, created, modified)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (bucket, path, data, version, created, now),
            )
        else:
            created = row[1]
            connection.execute(
                "UPDATE sessionstore_objects SET data = ?, version = ?, modified = ?"
                " WHERE bucket = ? AND path = ?",
                (data, version, now, bucket, path),
            )
    return _info(path, len(data), version, created, now)


def download(connection: sqlite3.Connection, bucket: str, path: str) -> StoredObject:
    """Bytes and info from one ``SELECT``, so they always belong to the same version."""
    row = connection.execute(
        "SELECT data, version, created, modified FROM sessionstore_objects"
        " WHERE bucket = ? AND path = ?",
        (bucket, path),
    ).fetchone()
    if row is None:
        raise FileNotFoundError(f"no object {path!r} in bucket {bucket!r}")
    data, version, created, modified = row
    return StoredObject(data=data, info=_info(path, len(data), version, created, modified))


def exists(connection: sqlite3.Connection, bucket: str, path: str) -> bool:
    """Whether a row has exactly this path; directories have no rows."""
    row = connection.execute(
        "SELECT 1 FROM sessionstore_objects WHERE bucket = ? AND path = ?", (bucket, path)
    ).fetchone()
    return row is not None


def stat(connection: sqlite3.Connection, bucket: str, path: str) -> ObjectInfo:
    """The info of the current version; ``length(data)`` does not read the bytes."""
    row = connection.execute(
        "SELECT length(data), version, created, modified FROM sessionstore_objects"
        " WHERE bucket = ? AND path = ?",
        (bucket, path),
    ).fetchone()
    if row is None:
        raise FileNotFoundError(f"no object {path!r} in bucket {bucket!r}")
    return _info(path, *row)


def delete(
    connection: sqlite3.Connection, bucket: str, paths: Sequence[str], if_match: str | None
) -> None:
    """Delete every row in ``paths`` in one transaction, after checking ``if_match``.

    Absent rows delete nothing and raise nothing. Directories are not stored, so an
    emptied one disappears from listings by itself.
    """
    with _write(connection):
        if if_match is not None:
            (path,) = paths
            row = connection.execute(
                "SELECT version FROM sessionstore_objects WHERE bucket = ? AND path = ?",
                (bucket, path),
            ).fetchone()
            where = f"{path!r} in bucket {bucket!r}"
            _check_version(None if row is None else row[0], if_match, "delete", where)
        connection.executemany(
            "DELETE FROM sessionstore_objects WHERE bucket = ? AND path = ?",
            [(bucket, path) for path in paths],
        )


Condition = tuple[Literal[">", ">="], str]
"""A range condition on ``path``: the operator and its bound."""


def list_page(
    connection: sqlite3.Connection,
    bucket: str,
    prefix: str,
    cursor: str | None,
    limit: int | None,
) -> ListPage:
    """One page of the entries directly below ``prefix``, found by index seeks.

    Paths are sorted by the primary key, and every entry starts with ``prefix``,
    so the matching rows form one contiguous range beginning at ``prefix``. Walk
    it with "first path after here" queries: a path with no ``/`` after the
    directory part is an object entry, and the next seek starts just after it; a
    path with one names a sub-directory ``name/``, and the next seek jumps past
    everything inside it (to ``name0``: ``'0'`` is the character after ``'/'``).
    Each entry costs one index seek however many objects a sub-directory holds,
    so a page costs O(limit * log N) whatever the size of the bucket.

    SQLite compares TEXT as UTF-8 bytes and Python compares code points: the
    two orders agree, so the cursor (the page's last entry) means the same in both.
    """
    directory = prefix[: prefix.rfind("/") + 1]
    if cursor is not None and not cursor.startswith(directory):
        raise ValueError(f"cursor {cursor!r} does not belong to a listing of {prefix!r}")
    start: Condition = _after(cursor) if cursor is not None else (">=", prefix)
    if start[1] < prefix:
        start = (">=", prefix)

    entries: list[str] = []
    with _read(connection):
        path = _first_path(connection, bucket, start)
        while path is not None and path.startswith(prefix):
            if limit is not None and len(entries) == limit:
                # One matching path is left: the listing goes on after this page.
                return ListPage(entries=tuple(entries), cursor=entries[-1])
            slash = path.find("/", len(directory))
            entries.append(path if slash < 0 else path[: slash + 1])
            path = _first_path(connection, bucket, _after(entries[-1]))
    return ListPage(entries=tuple(entries), cursor=None)


def _after(entry: str) -> Condition:
    """The range condition for "strictly after ``entry`` and everything inside it"."""
    if entry.endswith("/"):
        return ">=", entry[:-1] + "0"
    return ">", entry


def _first_path(connection: sqlite3.Connection, bucket: str, condition: Condition) -> str | None:
    """The smallest path of ``bucket`` meeting ``condition``: one primary-key seek."""
    operator, bound = condition  # the operator is one of two literals, safe in SQL text
    row = connection.execute(
        f"SELECT path FROM sessionstore_objects WHERE bucket = ? AND path {operator} ?"
        " ORDER BY path LIMIT 1",
        (bucket, bound),
    ).fetchone()
    return None if row is None else str(row[0])
