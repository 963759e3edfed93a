"""The backend contract: one async hook per storage operation.

A backend is a class whose methods are marked with :data:`hookimpl`. It is
published under the entry-point group ``sessionstore.backends``::

    [project.entry-points."sessionstore.backends"]
    mystore = "mystore_pkg:MyBackend"

For every store, sessionstore builds the class with the store's backend options
as keyword arguments (typed fields of an attrs class are converted from strings,
so URL query options work), registers that one instance with a fresh
:class:`pluggy.PluginManager`, and calls the hooks below. Every hookimpl must be
an ``async def``; blocking work belongs in ``anyio.to_thread.run_sync`` so the
backend runs on asyncio and trio alike.

Every hook but :func:`sessionstore_close` is a checkpoint: it yields to the event
loop at least once, before it changes anything, so that a call can be cancelled
(leaving storage as it was) and a loop of calls lets other tasks run. A thread hop
or a network request yields; a hook that would complete without awaiting either
(an in-process store, a cached answer) first awaits
``anyio.lowlevel.checkpoint()``.

Paths are bucket-relative and ``/``-separated; each segment has already been
validated (non-empty, no ``/``, ``\\``, NUL or control characters, not ``.`` or
``..``, no leading ``.``), so a backend may join them to its storage location
as they are. Leading-``.`` names are free for a backend's own bookkeeping
(temporary files, locks) and must never be listed.

Every hook is required except :func:`sessionstore_close`, :func:`sessionstore_sweep`
and :func:`sessionstore_describe`.

Errors: a missing object raises :class:`FileNotFoundError`; a failed
precondition raises :class:`sessionstore.ConflictError`; access refused raises
:class:`PermissionError`. Anything else may propagate as it is: the core wraps
it in :class:`sessionstore.StorageUnavailableError` naming backend, bucket and
path, with the original chained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pluggy

from sessionstore.objects import ListPage, ObjectInfo, StoredObject

hookspec = pluggy.HookspecMarker("sessionstore")
hookimpl = pluggy.HookimplMarker("sessionstore")


@hookspec(firstresult=True)
async def sessionstore_init(bucket: str) -> None:
    """Prepare ``bucket`` for use, creating it if the backend may.

    Called before a store's first operation, and again after the store was
    closed; concurrent first operations may call it more than once. Raise a
    clear error if the bucket is missing and cannot be created.

    Idempotent: calling it again, or on an existing bucket, changes nothing.
    """


@hookspec(firstresult=True)
async def sessionstore_upload(
    bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
) -> ObjectInfo:
    """Store ``data`` at ``path``, replacing any current object, atomically.

    A reader sees the old bytes or the new bytes, never a mix, even if the
    writing process dies mid-way. The new version token differs from every
    token this path ever had, including before it was deleted and recreated —
    except where the storage's token is a hash of the bytes (S3's ETag): then
    identical bytes share a token, which keeps compare-and-swap safe since
    equal tokens mean equal bytes (declare it with the kit's
    ``version_is_content_hash``).

    The check and the write are one atomic step: of many concurrent conditional
    writers holding the same token, exactly one succeeds. Unconditional uploads
    are idempotent; conditional ones are not (a retry may see its own write).

    :param if_match: write only if the object exists with exactly this version
        token; otherwise raise :class:`~sessionstore.ConflictError` (also when
        the object is absent).
    :param create_only: write only if no object exists at ``path``; otherwise
        raise :class:`~sessionstore.ConflictError`. Never combined with
        ``if_match``.
    :return: the :class:`~sessionstore.ObjectInfo` of the version just written.
    """


@hookspec(firstresult=True)
async def sessionstore_download(bucket: str, path: str) -> StoredObject:
    """Return the bytes at ``path`` with the :class:`~sessionstore.ObjectInfo`
    of exactly that version (one read; the token must match the bytes).

    Raises :class:`FileNotFoundError` if there is no object. Idempotent.
    """


@hookspec(firstresult=True)
async def sessionstore_exists(bucket: str, path: str) -> bool:
    """Return whether an object exists at ``path`` (a prefix alone does not count).

    Never raises for a missing object. Idempotent.
    """


@hookspec(firstresult=True)
async def sessionstore_stat(bucket: str, path: str) -> ObjectInfo:
    """Return the :class:`~sessionstore.ObjectInfo` of ``path`` without its bytes.

    Times are timezone-aware. Raises :class:`FileNotFoundError` if there is no
    object. Idempotent.
    """


@hookspec(firstresult=True)
async def sessionstore_delete(bucket: str, paths: Sequence[str], if_match: str | None) -> None:
    """Delete the objects at ``paths``, in as few requests as the storage allows.

    Absent paths are skipped silently, so the call is idempotent. A prefix left
    without objects must stop appearing in listings.

    :param paths: bucket-relative paths; ``if_match`` is only given with one.
    :param if_match: delete the path only if its current version is exactly this
        token, otherwise raise :class:`~sessionstore.ConflictError` (also when the
        object is absent).
    """


@hookspec(firstresult=True)
async def sessionstore_list(
    bucket: str, prefix: str, cursor: str | None, limit: int | None
) -> ListPage:
    """Return one page of the entries directly below ``prefix``, in ascending order.

    Works like an S3 listing with delimiter ``/``: ``prefix`` is split at its last
    ``/`` into a directory (``""`` for the bucket root) and a name prefix; the
    result holds every object in that directory whose name starts with the name
    prefix, as its full path, and every sub-directory that does, as its full path
    plus ``/``. Temporary or internal objects are never listed.

    Entries are ordered as strings, trailing ``/`` included, as S3, GCS and Azure
    order keys: ``a-b/`` comes before ``a/``, which comes before ``a0/``.
    A missing directory lists as empty. Idempotent.

    :param cursor: ``None`` for the first page, else the cursor of the previous
        page; the page starts strictly after where that one ended, so entries
        that exist for the whole listing appear exactly once.
    :param limit: the most entries to return (``None``: no limit). A page may be
        shorter; only ``cursor is None`` marks the end.
    :return: a :class:`~sessionstore.ListPage`; its ``cursor`` is ``None`` on the
        last page, and never ``""`` nor the cursor it was given, with which paging
        would not end.
    """


@hookspec(firstresult=True)
async def sessionstore_close() -> None:
    """Release clients, connections and threads the backend holds. Optional.

    Called when a store is closed (``await store.aclose()`` or the end of
    ``async with``). The store may be used again afterwards, which calls
    ``sessionstore_init`` first, so a backend must be able to reopen.
    Idempotent.
    """


@hookspec(firstresult=True)
async def sessionstore_sweep(bucket: str) -> int:
    """Remove what interrupted writes left in ``bucket`` and no live writer still
    owns (temporary files, half-built folders); return how many were removed, as
    an ``int`` (``0`` when there was nothing, never ``None``).
    Optional: backends whose writes leave nothing behind leave it out.

    Called by ``purge_expired`` (unless ``dry_run``), once per run, after the
    expired sessions. It may run while other processes write: it must never remove
    anything a writer still uses, nor any stored object, nor follow a symlink.
    """


@hookspec(firstresult=True)
async def sessionstore_describe(bucket: str) -> Mapping[str, str]:
    """Say where and how ``bucket`` is kept, for a person checking a setup
    (``sessionstore doctor``, an application's start-up log): short labels mapped
    to one-line values, such as ``{"folder": "/var/lib/app/sessions"}`` or
    ``{"location": "s3://bucket/prefix/", "endpoint": "https://s3.amazonaws.com"}``.
    Optional: without it, a store describes itself as ``{}``.

    Never a secret: no keys, tokens, passwords, SAS or signed URLs, nor connection
    strings (name the account, not its credential). Called after
    ``sessionstore_init``, so it may report what init learned (whether the volume
    ignores case, the endpoint a client resolved). Idempotent; it should not
    need a request to the storage.
    """
