"""The hook implementations of the file backend.

Each hook hands all of its blocking work to one thread hop (``run_blocking``):
a thread hop costs far more than a cached read, so an operation never makes two
unless it has to wait. The one wait is for a directory's lock that someone else
holds: the thread tries it for a few milliseconds only
(:data:`~sessionstore_file.locking.SPIN`), then returns ``BUSY``, and the hook
sleeps on the event loop, backing off from 1 ms to :data:`MAX_LOCK_WAIT`, then
hops again. So a writer stuck holding a lock in another process (stopped, paused,
in a debugger) costs the waiting callers no thread, and a deadline or a
cancellation ends their wait within that spin.

The blocking routines live in :mod:`~sessionstore_file.reading`,
:mod:`~sessionstore_file.writing`, :mod:`~sessionstore_file.deleting`,
:mod:`~sessionstore_file.listing` and :mod:`~sessionstore_file.sweeping`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import anyio.lowlevel
import attrs

from sessionstore.hookspecs import hookimpl
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.settings import to_path
from sessionstore.threads import run_blocking
from sessionstore_file import deleting, listing, reading, sweeping, writing
from sessionstore_file.dirs import init_bucket
from sessionstore_file.locking import BUSY, Busy
from sessionstore_file.publishing import Publication
from sessionstore_file.root import resolve_root
from sessionstore_file.versions import object_info

T = TypeVar("T")

FIRST_LOCK_WAIT = 0.001
"""Seconds before the first new try at a busy lock (with jitter: half to all of it)."""
MAX_LOCK_WAIT = 0.02
"""The longest sleep between tries at a busy lock: how late, at most, a waiting
operation notices that the lock was let go."""

CASE_SENSITIVE = "case-sensitive"
FOLDED = (
    "case-insensitive: the volume ignores case, so names differing only in case "
    "cannot coexist (the other spelling reads as absent, storing it is refused), "
    "and each operation lists the folder"
)


@attrs.define(eq=False)
class FileBackend:
    """Stores each object as a file ``<root>/<bucket>/<path>``.

    :param root: the directory holding the buckets; default ``$SESSIONSTORE_FILE_ROOT``,
        else ``platformdirs.user_data_dir("sessionstore")``. Resolved to an absolute
        path when the backend is built (``root_dir``).

    Version tokens are ``<inode>-<mtime ns>-<size>`` (hex); ``created`` equals
    ``modified`` because every write makes a new file. Files get mode 0600 and
    directories 0700. On a volume that ignores case, names are checked against the
    spelling stored (:mod:`sessionstore_file.folding`).
    """

    root: Path | None = attrs.field(default=None, converter=attrs.converters.optional(to_path))
    root_dir: Path = attrs.field(init=False)
    _base: str = attrs.field(init=False, repr=False)
    _folds: dict[str, bool] = attrs.field(init=False, repr=False, factory=dict)
    """Per bucket, whether its volume folds names; a bucket not yet initialised is
    taken to fold (its names are checked: slower, never wrong)."""

    def __attrs_post_init__(self) -> None:
        self.root_dir = resolve_root(self.root)
        self._base = os.fspath(self.root_dir)

    @hookimpl
    async def sessionstore_init(self, bucket: str) -> None:
        """Create the root and bucket directories (mode 0700) if missing, and learn
        whether the bucket's volume folds names."""
        self._folds[bucket] = await _locking_hop(init_bucket, self._base, bucket)

    @hookimpl
    async def sessionstore_upload(
        self, bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
    ) -> ObjectInfo:
        """Replace the file atomically and durably, checking the precondition under
        the directory's lock.

        The worker thread returns the bare ``stat`` result and the info is built
        here: with many writes in flight, every bit of Python a worker runs makes
        the others wait for the GIL as they return from their system calls.
        """
        folds = self._folds.get(bucket, True)
        publication = Publication()  # a new session's folder, built while its parent was busy
        status = await _locking_hop(
            writing.upload,
            self._base,
            bucket,
            path,
            data,
            if_match,
            create_only,
            folds,
            publication,
            abandon=publication.discard,
        )
        return object_info(path, status)

    @hookimpl
    async def sessionstore_download(self, bucket: str, path: str) -> StoredObject:
        """Read the file and ``fstat`` the same descriptor."""
        folds = self._folds.get(bucket, True)
        return await run_blocking(reading.download, self._base, bucket, path, folds)

    @hookimpl
    async def sessionstore_exists(self, bucket: str, path: str) -> bool:
        """Whether a regular file (not a directory) is at ``path``."""
        folds = self._folds.get(bucket, True)
        return await run_blocking(reading.exists, self._base, bucket, path, folds)

    @hookimpl
    async def sessionstore_stat(self, bucket: str, path: str) -> ObjectInfo:
        """The file's info, without reading it."""
        folds = self._folds.get(bucket, True)
        return await run_blocking(reading.stat_object, self._base, bucket, path, folds)

    @hookimpl
    async def sessionstore_delete(
        self, bucket: str, paths: Sequence[str], if_match: str | None
    ) -> None:
        """Unlink the files, then remove the directories left without objects."""
        folds = self._folds.get(bucket, True)
        deletion = deleting.Deletion(paths, if_match)
        await _locking_hop(deleting.delete, self._base, bucket, deletion, folds)

    @hookimpl
    async def sessionstore_list(
        self, bucket: str, prefix: str, cursor: str | None, limit: int | None
    ) -> ListPage:
        """One page of the directory ``prefix`` names, by ``os.scandir``."""
        folds = self._folds.get(bucket, True)
        return await run_blocking(
            listing.list_page, self._base, bucket, prefix, cursor, limit, folds
        )

    @hookimpl
    async def sessionstore_sweep(self, bucket: str) -> int:
        """Remove the temporary files and folders killed writers left in the
        bucket directory."""
        return await _locking_hop(sweeping.sweep, self._base, bucket)

    @hookimpl
    async def sessionstore_describe(self, bucket: str) -> Mapping[str, str]:
        """The bucket's folder, and whether its volume tells names apart by case
        (as init found; a bucket not yet initialised counts as folding)."""
        await anyio.lowlevel.checkpoint()
        folds = self._folds.get(bucket, True)
        return {
            "folder": str(self.root_dir / bucket),
            "names": FOLDED if folds else CASE_SENSITIVE,
        }


async def _locking_hop(
    func: Callable[..., T | Busy], *args: object, abandon: Callable[[], None] | None = None
) -> T:
    """``func(*args)`` in one thread hop, as :func:`run_blocking` runs it; while it
    returns ``BUSY`` (a lock it needs is held), sleep on the event loop and hop
    again. The sleeps are where a cancellation or deadline ends the wait; then
    ``abandon`` undoes what the attempts kept for the next one."""
    try:
        result = await run_blocking(func, *args)
        if result is BUSY:
            return await _when_free(func, args)
    except BaseException:
        if abandon is not None:
            # On the event loop: no hop can be relied on here (a native asyncio
            # cancellation calls off one not yet begun), and it is a few unlinks
            # and closes, on the rare path of a wait cut short.
            abandon()
        raise
    return result


async def _when_free(func: Callable[..., T | Busy], args: tuple[object, ...]) -> T:
    """Hop again, after a growing, jittered sleep, until ``func`` finds its locks free.

    Jitter keeps the writers of one session, woken together, from colliding again
    together; the cap keeps one that has waited long from losing every race to
    newcomers that try more often.
    """
    wait = FIRST_LOCK_WAIT
    while True:
        await anyio.sleep(random.uniform(wait / 2, wait))
        result = await run_blocking(func, *args)
        if result is not BUSY:
            return result
        wait = min(wait * 2, MAX_LOCK_WAIT)
