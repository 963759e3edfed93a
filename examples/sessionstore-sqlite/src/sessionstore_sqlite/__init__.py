"""``sessionstore-sqlite``: an example third-party backend keeping sessions in one SQLite file.

Select it with the backend name ``sqlite``, which this distribution registers in
the ``sessionstore.backends`` entry-point group::

    SessionStore(backend="sqlite", path="sessions.db")
    SessionStore.from_url("sqlite:///var/lib/app/sessions.db")

How the pieces map to the contract (:mod:`sessionstore.hookspecs`):

* **Discovery** — ``pyproject.toml`` names :class:`SQLiteBackend` under the
  entry point ``sqlite``; sessionstore imports it only when a store asks for it.
* **Options** — :class:`SQLiteBackend` is an attrs class. Its typed fields are
  the backend options; sessionstore converts URL strings to those types and
  rejects unknown options before any hook runs.
* **Hooks** — :mod:`sessionstore_sqlite.backend` holds the seven ``async def``
  hookimpls. Each validates its arguments and makes one thread hop, where
  :mod:`sessionstore_sqlite.db` does the blocking SQLite work.
* **Buckets and paths** — one table keyed by ``(bucket, path)``; directories are
  not stored but derived when listing, so an emptied one disappears by itself.
* **Atomic conditional writes** — check and write share one ``BEGIN IMMEDIATE``
  transaction, which holds the file's write lock across threads and processes.
* **Version tokens** — one counter for the whole file, never reused, so a
  token can never match a later object recreated at the same path.
* **Errors** — a missing row raises ``FileNotFoundError``, a failed precondition
  ``ConflictError``, access refused ``PermissionError``; the core wraps anything
  else (``sqlite3.Error``) in ``StorageUnavailableError``.
"""

from __future__ import annotations

from sessionstore_sqlite.backend import SQLiteBackend

__all__ = ["SQLiteBackend"]
