"""The blocking listing: one page of a directory, S3-style with delimiter ``/``.

One ``os.scandir`` of the listed directory, no ``stat`` per entry (the entry type
comes with the directory read). Hidden names (temporary files) and symlinks are
skipped. Entries compare as their names, plus ``/`` for directories, which orders
them exactly as their full paths; a limited page keeps only the smallest names
past the cursor (a bounded heap), so paging a large bucket never sorts, nor holds,
all of it.

A directory is listed only if it holds an object (a visible regular file, at any
depth), as a cloud prefix exists only while an object has it: a writer killed
between creating a session's directory and renaming its first file into it
leaves an empty directory, which must not list as a session without files. The
check reads each listed directory until its first object, usually one entry.
"""

from __future__ import annotations

import errno
import heapq
import os
from collections.abc import Iterator

from sessionstore.objects import ListPage
from sessionstore_file.dirs import DIR_FLAGS, open_existing
from sessionstore_file.paths import split_prefix

_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
"""A directory removed, or replaced by a file or symlink, since it was listed."""


def list_page(
    root: str, bucket: str, prefix: str, cursor: str | None, limit: int | None
) -> ListPage:
    """The entries directly below ``prefix`` after ``cursor``, at most ``limit``."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number or None, got {limit!r}")
    directory, segments, name_prefix = split_prefix(prefix)
    if cursor is not None and not cursor.startswith(directory):
        raise ValueError(f"cursor {cursor!r} does not belong to a listing of {prefix!r}")
    after = None if cursor is None else cursor[len(directory) :]
    chain = open_existing(root, bucket, segments)
    if chain is None:
        return ListPage(entries=())
    with chain:
        if limit is None:
            with os.scandir(chain.fd) as scan:
                keys = sorted(_keys(scan, name_prefix, after))
            page, more = [key for key in keys if _holds_object(chain.fd, key)], False
        else:
            page = _smallest_listable(chain.fd, name_prefix, after, limit + 1)
            page, more = page[:limit], len(page) > limit
    entries = tuple(directory + key for key in page)
    return ListPage(entries=entries, cursor=entries[-1] if more else None)


def _keys(scan: Iterator[os.DirEntry[str]], name_prefix: str, after: str | None) -> Iterator[str]:
    """Listable entries as ``name`` or ``name/``, those matching ``name_prefix``
    and sorting after ``after``."""
    for entry in scan:
        name = entry.name
        if name.startswith(".") or not name.startswith(name_prefix):
            continue
        if entry.is_dir(follow_symlinks=False):
            key = name + "/"
        elif entry.is_file(follow_symlinks=False):
            key = name
        else:
            continue  # a symlink or special file: never listed
        if after is None or key > after:
            yield key


def _smallest_listable(dir_fd: int, name_prefix: str, after: str | None, count: int) -> list[str]:
    """The ``count`` smallest keys past ``after`` that hold an object, ascending.

    A scan keeps only the ``count`` smallest candidates, so memory stays flat however
    large the directory; candidates without an object (a crashed writer's empty
    directory: rare) are dropped and the next scan starts after the last of them.
    """
    found: list[str] = []
    while True:
        wanted = count - len(found)
        with os.scandir(dir_fd) as scan:
            candidates = heapq.nsmallest(wanted, _keys(scan, name_prefix, after))
        found += [key for key in candidates if _holds_object(dir_fd, key)]
        if len(found) == count or len(candidates) < wanted:
            return found
        after = candidates[-1]


def _holds_object(dir_fd: int, key: str) -> bool:
    """Whether the entry ``key`` of ``dir_fd`` is an object or a directory with an
    object somewhere below it (never following a symlink)."""
    if not key.endswith("/"):
        return True
    try:
        fd = os.open(key[:-1], DIR_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        # Unreadable: list it, so the operations on it report why.
        return error.errno not in _GONE
    try:
        with os.scandir(fd) as scan:
            return any(
                entry.is_file(follow_symlinks=False)
                or (entry.is_dir(follow_symlinks=False) and _holds_object(fd, entry.name + "/"))
                for entry in scan
                if not entry.name.startswith(".")
            )
    finally:
        os.close(fd)
