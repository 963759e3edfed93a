"""The blocking delete: unlink objects under their directory's lock, then remove
the directories that leaves without objects.

A directory is removed only by a deleter holding its lock and, for the removal,
its parent's (see :mod:`sessionstore_file.publishing`), after it found no
visible entry in it; its stale temporary files are removed first (safe: a writer
holds the lock for as long as its temporary file exists). A writer that then gets
the lock of the removed directory sees it is gone and starts again. Emptied
ancestor directories are removed the same way, one level at a time, up to but not
including the bucket directory. A symlink where an object should be is refused,
not unlinked, so a planted link is noticed.

No lock is waited for in the thread (:mod:`sessionstore_file.locking`). A
directory's objects are unlinked only once every lock that removing it needs is
held: when they are the last visible entries, the parent's lock is taken first,
so a busy lock stops the delete before it changed anything there. A
:class:`Deletion` keeps what is done across the attempts, so the next one goes
on from there: directories already handled are not looked at again (an
``if_match`` is checked once), and ancestors still to prune are pruned.
"""

from __future__ import annotations

import errno
import os
import unicodedata
from collections.abc import Sequence
from contextlib import suppress

from sessionstore_file.atomic import TEMP_PREFIX
from sessionstore_file.dirs import DirChain, open_existing
from sessionstore_file.locking import BUSY, Busy, LockBusy, locked
from sessionstore_file.paths import split_path
from sessionstore_file.preconditions import check_precondition
from sessionstore_file.races import RACE_ATTEMPTS, gave_up


class Deletion:
    """The work a delete of ``paths`` has left, one entry per directory they are
    in; :func:`delete` takes it off as it goes."""

    __slots__ = ("groups", "if_match", "pruning")

    def __init__(self, paths: Sequence[str], if_match: str | None) -> None:
        if isinstance(paths, str):
            raise TypeError("paths must be a sequence of paths, not one string")
        if if_match is not None and len(paths) != 1:
            raise ValueError(f"if_match needs exactly one path, got {len(paths)}")
        groups: dict[tuple[str, ...], list[str]] = {}
        for path in paths:
            parents, name = split_path(path)
            groups.setdefault(tuple(parents), []).append(name)
        self.groups = [(list(parents), names) for parents, names in groups.items()]
        """Per directory still to handle: its names below the bucket, and the
        objects in it to delete."""
        self.if_match = if_match
        self.pruning: tuple[list[str], int] | None = None
        """The directory whose ancestors are being pruned, and the depth of the
        next one to look at, while a busy lock interrupted that."""


def delete(root: str, bucket: str, deletion: Deletion, folds: bool) -> Busy | None:
    """Delete what ``deletion`` has left (absent objects skipped), one lock per
    directory they are in (``folds``: the volume folds names, see
    :mod:`sessionstore_file.folding`); :data:`~sessionstore_file.locking.BUSY` if a
    lock was held, with ``deletion`` saying what is left."""
    try:
        if deletion.pruning is not None:
            _prune_ancestors(root, bucket, deletion, folds)
        while deletion.groups:
            parents, names = deletion.groups[0]
            emptied = _delete_in(root, bucket, parents, names, deletion.if_match, folds)
            del deletion.groups[0]
            if emptied and len(parents) > 1:
                deletion.pruning = (parents, len(parents) - 1)
                _prune_ancestors(root, bucket, deletion, folds)
    except LockBusy:
        return BUSY
    return None


def _delete_in(
    root: str,
    bucket: str,
    parents: list[str],
    names: list[str],
    if_match: str | None,
    folds: bool,
) -> bool:
    """Delete ``names`` in the directory ``parents``; whether that removed it."""
    depth = len(parents)
    first = "/".join([*parents, names[0]])  # the one path an if_match can name
    for _ in range(RACE_ATTEMPTS):
        chain = open_existing(root, bucket, parents, folds=folds)
        if chain is None:
            check_precondition(None, if_match, False, bucket, first, "delete")
            return False
        with chain:
            with locked(chain.fd):
                if not chain.linked(depth):
                    continue  # another deleter removed it; a writer may have made a new one
                if if_match is not None:
                    current = chain.object_status(names[0])
                    check_precondition(current, if_match, False, bucket, first, "delete")
                temporary = _left_only_temporary(chain.fd, folds, names) if depth else None
                if temporary is None:
                    removed = [_unlink_object(chain, name) for name in names]
                    if any(removed):
                        os.fsync(chain.fd)
                    return False
                with locked(chain.fds[depth - 1]):  # taken before anything is unlinked
                    for name in names:
                        _unlink_object(chain, name)
                    emptied = _remove_empty(chain, depth, temporary)
                if not emptied:
                    os.fsync(chain.fd)
            if emptied:
                os.fsync(chain.fds[depth - 1])
            return emptied
    raise gave_up(os.path.join(root, bucket, *parents))


def _left_only_temporary(dir_fd: int, folds: bool, names: list[str]) -> list[str] | None:
    """The temporary files in the open directory ``dir_fd`` if deleting ``names``
    may leave no visible entry in it (to be removed with it), else ``None``.

    On a volume that folds names, entries are compared in one Unicode normalization:
    an object is unlinked there only when stored under its name in some
    normalization (``DirChain.object_status``), so every entry it may unlink counts.
    """
    wanted = {unicodedata.normalize("NFC", name) for name in names} if folds else set(names)
    temporary = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                if entry.name.startswith(TEMP_PREFIX):
                    temporary.append(entry.name)
                continue
            name = entry.name
            if folds:
                name = unicodedata.normalize("NFC", name)
            if name not in wanted:
                return None
    return temporary


def _unlink_object(chain: DirChain, name: str) -> bool:
    """Unlink the object ``name`` in the deepest directory; ``False`` if absent."""
    if chain.object_status(name) is None:
        return False
    os.unlink(name, dir_fd=chain.fd)
    return True


def _prune_ancestors(root: str, bucket: str, deletion: Deletion, folds: bool) -> None:
    """Remove each ancestor of ``deletion.pruning``'s directory that is left
    without entries, from the deepest up, stopping below the bucket; on a busy
    lock, ``deletion.pruning`` says where to go on."""
    assert deletion.pruning is not None
    parents, level = deletion.pruning
    chain = open_existing(root, bucket, parents[:level], folds=folds)
    if chain is None:
        deletion.pruning = None
        return  # removed meanwhile by another deleter
    with chain:
        while level > 0:
            deletion.pruning = (parents, level)
            with locked(chain.fds[level]):
                if not chain.linked(level):
                    break
                temporary = _left_only_temporary(chain.fds[level], folds, [])
                if temporary is None:
                    break
                with locked(chain.fds[level - 1]):
                    emptied = _remove_empty(chain, level, temporary)
            if not emptied:
                break
            os.fsync(chain.fds[level - 1])
            level -= 1
    deletion.pruning = None


def _remove_empty(chain: DirChain, depth: int, temporary: list[str]) -> bool:
    """Remove the directory ``chain.fds[depth]``, clearing its stale ``temporary``
    files first; the caller holds its lock and its parent's, and found no visible
    entry in it but objects it has unlinked since. ``False`` if an entry not ours
    is there after all."""
    fd = chain.fds[depth]
    for name in temporary:
        with suppress(OSError):
            os.unlink(name, dir_fd=fd)
    parent = chain.fds[depth - 1]
    try:
        os.rmdir(chain.names[depth - 1], dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False  # a hidden entry that is not ours, or a new sub-directory
        raise
    return True
