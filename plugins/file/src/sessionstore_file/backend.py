"""The hook implementations of the file backend.

Each hook hands all of its blocking work to one thread hop (``run_blocking``):
a thread hop costs far more than a cached read, so an operation never makes two.
The blocking routines live in :mod:`~sessionstore_file.reading`,
:mod:`~sessionstore_file.writing`, :mod:`~sessionstore_file.deleting`,
:mod:`~sessionstore_file.listing` and :mod:`~sessionstore_file.sweeping`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio.lowlevel
import attrs

from sessionstore.hookspecs import hookimpl
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.settings import to_path
from sessionstore.threads import run_blocking
from sessionstore_file import deleting, listing, reading, sweeping, writing
from sessionstore_file.dirs import init_bucket
from sessionstore_file.root import resolve_root
from sessionstore_file.versions import object_info

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
        self._folds[bucket] = await run_blocking(init_bucket, self._base, bucket)

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
        status = await run_blocking(
            writing.upload, self._base, bucket, path, data, if_match, create_only, folds
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
        await run_blocking(deleting.delete, self._base, bucket, paths, if_match, folds)

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
        return await run_blocking(sweeping.sweep, self._base, bucket)

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
