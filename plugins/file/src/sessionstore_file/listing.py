"""The blocking listing: one page of a directory, S3-style with delimiter ``/``.

One ``os.scandir`` of the listed directory, no ``stat`` per entry (the entry type
comes with the directory read). Hidden names (temporary files) are skipped. A
symlink in the bucket directory is skipped (it is no session), but one inside a
session's directory, where an object would be, is refused with
:class:`PermissionError`: skipped, it would keep the session listed after every
file of it was deleted. Entries compare as their names, plus ``/`` for directories, which orders
them exactly as their full paths. A whole listing sorts every name and cuts out
what it must skip, each a contiguous run of the sorted names; a limited page keeps
only the smallest names past the cursor (a heap), so paging a large bucket never
holds all of it.

Every listed directory holds an object: writers publish a new directory together
with its first object (:mod:`sessionstore_file.publishing`) and deleters remove a
directory they empty, so no session lists without files.
"""

from __future__ import annotations

import bisect
import heapq
import os
from collections.abc import Iterator

from sessionstore.objects import ListPage
from sessionstore_file.dirs import DirChain, open_existing
from sessionstore_file.entries import special_file_refused, symlink_refused
from sessionstore_file.paths import split_prefix


def list_page(
    root: str, bucket: str, prefix: str, cursor: str | None, limit: int | None, folds: bool
) -> ListPage:
    """The entries directly below ``prefix`` after ``cursor``, at most ``limit``
    (``folds``: the volume folds names, see :mod:`sessionstore_file.folding`)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number or None, got {limit!r}")
    directory, segments, name_prefix = split_prefix(prefix)
    if cursor is not None and not cursor.startswith(directory):
        raise ValueError(f"cursor {cursor!r} does not belong to a listing of {prefix!r}")
    after = None if cursor is None else cursor[len(directory) :]
    chain = open_existing(root, bucket, segments, folds=folds)
    if chain is None:
        return ListPage(entries=())
    with chain, os.scandir(chain.fd) as scan:
        found = _refusing_non_objects(scan, chain) if segments else scan
        if limit is None:
            page, more = _all_keys(found, name_prefix, after), False
        else:
            page = heapq.nsmallest(limit + 1, _keys(found, name_prefix, after))
            page, more = page[:limit], len(page) > limit
    entries = tuple(directory + key for key in page) if directory else tuple(page)
    return ListPage(entries=entries, cursor=entries[-1] if more else None)


def _refusing_non_objects(
    scan: Iterator[os.DirEntry[str]], chain: DirChain
) -> Iterator[os.DirEntry[str]]:
    """The entries of a directory below the bucket's, raising at a symlink or
    special file that is not hidden (hidden names are the backend's own)."""
    for entry in scan:
        if entry.name[:1] != "." and not (
            entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False)
        ):
            if entry.is_symlink():
                raise symlink_refused(chain.where(entry.name))
            raise special_file_refused(chain.where(entry.name))
        yield entry


def _key(entry: os.DirEntry[str]) -> str:
    """``name/`` for a directory, ``name`` for a file, ``""`` for anything else
    (a symlink or special file: never listed)."""
    if entry.is_dir(follow_symlinks=False):
        return f"{entry.name}/"
    return entry.name if entry.is_file(follow_symlinks=False) else ""


def _keys(scan: Iterator[os.DirEntry[str]], name_prefix: str, after: str | None) -> Iterator[str]:
    """Listable entries as ``name`` or ``name/``, those matching ``name_prefix``
    and sorting after ``after``, one at a time."""
    for entry in scan:
        if entry.name[:1] == "." or not entry.name.startswith(name_prefix):
            continue
        key = _key(entry)
        if key and (after is None or key > after):
            yield key


def _all_keys(scan: Iterator[os.DirEntry[str]], name_prefix: str, after: str | None) -> list[str]:
    """What :func:`_keys` yields, sorted; the names are filtered once sorted, by
    bisection, which costs nothing next to testing each entry in Python."""
    keys = [
        f"{entry.name}/"
        if entry.is_dir(follow_symlinks=False)
        else entry.name
        if entry.is_file(follow_symlinks=False)
        else ""
        for entry in scan
    ]
    keys.sort()
    # Every name starting with "." sorts in [".", "/"); "" (not listed) before all.
    hidden = bisect.bisect_left(keys, "."), bisect.bisect_left(keys, "/")
    del keys[hidden[0] : hidden[1]]
    low = bisect.bisect_right(keys, "")
    if name_prefix:
        low = max(low, bisect.bisect_left(keys, name_prefix))
    if after is not None:
        low = max(low, bisect.bisect_right(keys, after))
    high = len(keys)
    if name_prefix and (above := _successor(name_prefix)) is not None:
        high = bisect.bisect_left(keys, above, lo=low)
    return keys[low:high]


def _successor(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (``None``
    if there is none: the prefix is all U+10FFFF)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)
