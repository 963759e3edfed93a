"""The blocking listing: one page of a directory, S3-style with delimiter ``/``.

One ``os.scandir`` of the listed directory, no ``stat`` per entry (the entry type
comes with the directory read). Hidden names (temporary files) and symlinks are
skipped. Entries compare as their names, plus ``/`` for directories, which orders
them exactly as their full paths; a limited page keeps only the smallest names
past the cursor (a heap), so paging a large bucket never sorts all of it.

Every listed directory holds an object: writers publish a new directory together
with its first object (:mod:`sessionstore_file.publishing`) and deleters remove a
directory they empty, so no session lists without files.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator

from sessionstore.objects import ListPage
from sessionstore_file.dirs import open_existing
from sessionstore_file.paths import split_prefix


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
    with chain, os.scandir(chain.fd) as scan:
        keys = _keys(scan, name_prefix, after)
        if limit is None:
            page, more = sorted(keys), False
        else:
            page = heapq.nsmallest(limit + 1, keys)
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
