"""The memory backend: every bucket is a small tree of directory nodes in this process.

A node maps names to its objects and to its sub-directories, and keeps one sorted
list of its entry names (``"name"`` for an object, ``"name/"`` for a sub-directory).
Sorting those names sorts the entries' full paths, so a listing page is two bisects
and a slice: O(log N + page) however many sessions a bucket holds.

Each operation first passes one checkpoint (:func:`anyio.lowlevel.checkpoint`), as
a storage round trip would: there it can be cancelled, having done nothing, and
other tasks get to run, so a loop of operations neither starves them nor ignores a
deadline. The step after it never yields, so each operation is atomic with respect
to other tasks; it also holds a lock, so it is atomic with respect to other threads
too. Nothing hops to a worker thread: an operation costs microseconds, far less than
the hop would. The lock is a :class:`~sessionstore.forksafe.ForkSafeLock`: a child
forked while another thread is inside an operation keeps a copy of the data and a
lock of its own, not the parent's held forever.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from itertools import takewhile

import anyio.lowlevel
import attrs

from sessionstore.errors import ConflictError
from sessionstore.forksafe import ForkSafeLock
from sessionstore.hookspecs import hookimpl
from sessionstore.objects import ListPage, ObjectInfo, StoredObject


@attrs.define(eq=False)
class _Dir:
    """One directory: its objects, its sub-directories and all their entry names, sorted."""

    objects: dict[str, StoredObject] = attrs.field(factory=dict)
    dirs: dict[str, _Dir] = attrs.field(factory=dict)
    names: list[str] = attrs.field(factory=list)

    def add_name(self, entry: str) -> None:
        bisect.insort(self.names, entry)

    def remove_name(self, entry: str) -> None:
        del self.names[bisect.bisect_left(self.names, entry)]


def _walk(node: _Dir | None, segments: Iterable[str]) -> _Dir | None:
    """The directory below ``node`` at ``segments``, or ``None`` if any part is missing."""
    for segment in segments:
        if node is None:
            return None
        node = node.dirs.get(segment)
    return node


def _where(bucket: str, path: str) -> str:
    return f"{path!r} in bucket {bucket!r}"


def _check_version(current: StoredObject | None, if_match: str, action: str, where: str) -> None:
    """Raise :class:`ConflictError` unless ``current`` exists with version ``if_match``."""
    if current is None:
        raise ConflictError(
            f"cannot {action} {where}: expected version {if_match!r}, but there is no object"
        )
    if current.info.version != if_match:
        raise ConflictError(
            f"cannot {action} {where}: expected version {if_match!r}, "
            f"found {current.info.version!r}"
        )


@attrs.define(eq=False)
class MemoryBackend:
    """Keeps objects in this instance's own dicts: fast, and gone when the process ends.

    Takes no options. Two instances never share data; share the instance (the
    store) to share the data. Version tokens are a per-instance counter.
    """

    _buckets: dict[str, _Dir] = attrs.field(factory=dict, init=False, repr=False)
    _lock: ForkSafeLock = attrs.field(factory=ForkSafeLock, init=False, repr=False)
    _last_version: int = attrs.field(default=0, init=False, repr=False)

    def _lookup(self, bucket: str, path: str) -> StoredObject | None:
        *parents, name = path.split("/")
        node = _walk(self._buckets.get(bucket), parents)
        return None if node is None else node.objects.get(name)

    def _make_dirs(self, bucket: str, segments: Iterable[str]) -> _Dir:
        """The directory at ``segments``, created with any missing parents."""
        node = self._buckets.setdefault(bucket, _Dir())
        for segment in segments:
            child = node.dirs.get(segment)
            if child is None:
                child = node.dirs[segment] = _Dir()
                node.add_name(segment + "/")
            node = child
        return node

    def _remove(self, root: _Dir, path: str) -> None:
        """Delete the object at ``path`` if any, then every directory it leaves empty."""
        *parents, name = path.split("/")
        chain = [root]
        for segment in parents:
            child = chain[-1].dirs.get(segment)
            if child is None:
                return
            chain.append(child)
        node = chain[-1]
        if node.objects.pop(name, None) is None:
            return
        node.remove_name(name)
        for depth in range(len(parents), 0, -1):
            if chain[depth].names:
                break
            parent, segment = chain[depth - 1], parents[depth - 1]
            del parent.dirs[segment]
            parent.remove_name(segment + "/")

    @hookimpl
    async def sessionstore_describe(self, bucket: str) -> Mapping[str, str]:
        """Where the bucket lives: in this process, for as long as it runs."""
        await anyio.lowlevel.checkpoint()
        return {
            "location": f"the memory of this process (pid {os.getpid()})",
            "lifetime": (
                "gone when the process exits (a pickled or spawned copy of the store starts empty)"
            ),
        }

    @hookimpl
    async def sessionstore_init(self, bucket: str) -> None:
        """Create ``bucket`` if it does not exist yet."""
        await anyio.lowlevel.checkpoint()
        with self._lock:
            self._buckets.setdefault(bucket, _Dir())

    @hookimpl
    async def sessionstore_upload(
        self, bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
    ) -> ObjectInfo:
        """Store a copy of ``data`` at ``path``, checking the precondition in the same step."""
        *parents, name = segments = path.split("/")
        if "" in segments:
            raise ValueError(f"cannot write {path!r}: the path has an empty segment")
        data = bytes(data)  # before the checkpoint: the caller's buffer as it was passed
        await anyio.lowlevel.checkpoint()
        with self._lock:
            node = _walk(self._buckets.get(bucket), parents)
            current = None if node is None else node.objects.get(name)
            if if_match is not None:
                _check_version(current, if_match, "write", _where(bucket, path))
            if create_only and current is not None:
                raise ConflictError(
                    f"cannot create {_where(bucket, path)}: an object already exists there"
                )
            if node is None:
                node = self._make_dirs(bucket, parents)
            self._last_version += 1
            now = datetime.now(timezone.utc)
            info = ObjectInfo(
                path=path,
                size=len(data),
                modified=now,
                created=now if current is None else current.info.created,
                version=str(self._last_version),
            )
            if current is None:
                node.add_name(name)
            node.objects[name] = StoredObject(data=data, info=info)
        return info

    @hookimpl
    async def sessionstore_download(self, bucket: str, path: str) -> StoredObject:
        """The bytes and info of the current version of ``path``."""
        await anyio.lowlevel.checkpoint()
        with self._lock:
            stored = self._lookup(bucket, path)
        if stored is None:
            raise FileNotFoundError(f"no object {path!r} in bucket {bucket!r}")
        return stored

    @hookimpl
    async def sessionstore_exists(self, bucket: str, path: str) -> bool:
        """Whether an object (not merely a directory) is at ``path``."""
        await anyio.lowlevel.checkpoint()
        with self._lock:
            return self._lookup(bucket, path) is not None

    @hookimpl
    async def sessionstore_stat(self, bucket: str, path: str) -> ObjectInfo:
        """The info of the current version of ``path``."""
        return (await self.sessionstore_download(bucket=bucket, path=path)).info

    @hookimpl
    async def sessionstore_delete(
        self, bucket: str, paths: Sequence[str], if_match: str | None
    ) -> None:
        """Delete ``paths`` in one atomic step; absent ones are skipped."""
        await anyio.lowlevel.checkpoint()
        if isinstance(paths, str):
            raise TypeError("paths must be a sequence of paths, not one string")
        if if_match is not None and len(paths) != 1:
            raise ValueError(f"if_match needs exactly one path, got {len(paths)}")
        with self._lock:
            if if_match is not None:
                current = self._lookup(bucket, paths[0])
                _check_version(current, if_match, "delete", _where(bucket, paths[0]))
            root = self._buckets.get(bucket)
            if root is not None:
                for path in paths:
                    self._remove(root, path)

    @hookimpl
    async def sessionstore_list(
        self, bucket: str, prefix: str, cursor: str | None, limit: int | None
    ) -> ListPage:
        """One page of the entries directly below ``prefix``, S3-style.

        The cursor is the full path of the page's last entry, so the next page
        starts strictly after it even if that entry has been deleted since.
        """
        await anyio.lowlevel.checkpoint()
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number or None, got {limit!r}")
        cut = prefix.rfind("/") + 1
        directory, name_prefix = prefix[:cut], prefix[cut:]
        if cursor is not None and not cursor.startswith(directory):
            raise ValueError(f"cursor {cursor!r} does not belong to a listing of {prefix!r}")
        with self._lock:
            node = _walk(self._buckets.get(bucket), directory.split("/")[:-1])
            if node is None:
                return ListPage(entries=())
            names = node.names
            start = bisect.bisect_left(names, name_prefix)
            if cursor is not None:
                start = max(start, bisect.bisect_right(names, cursor[len(directory) :]))
            stop = len(names) if limit is None else min(len(names), start + limit)
            # Matching names are contiguous from ``start``; the slice may run past them.
            page = list(takewhile(lambda name: name.startswith(name_prefix), names[start:stop]))
            more = (
                len(page) == stop - start
                and stop < len(names)
                and names[stop].startswith(name_prefix)
            )
        entries = tuple(directory + name for name in page)
        return ListPage(entries=entries, cursor=entries[-1] if more else None)
