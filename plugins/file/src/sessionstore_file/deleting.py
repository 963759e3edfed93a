"""The blocking delete: unlink objects under their directory's lock, then remove
the directories that leaves without objects.

A directory is removed only by a deleter holding its lock (and, for the removal,
its parent's: see :mod:`sessionstore_file.publishing`), after it found no
visible entry in it; its stale temporary files are removed first (safe: a writer
holds the lock for as long as its temporary file exists). A writer that then gets
the lock of the removed directory sees it is gone and starts again. Emptied
ancestor directories are removed the same way, one lock at a time, up to but not
including the bucket directory. A symlink where an object should be is refused,
not unlinked, so a planted link is noticed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from contextlib import suppress

from sessionstore_file.atomic import TEMP_PREFIX
from sessionstore_file.dirs import DirChain, open_existing
from sessionstore_file.locking import locked
from sessionstore_file.paths import split_path
from sessionstore_file.preconditions import check_precondition
from sessionstore_file.races import RACE_ATTEMPTS, gave_up


def delete(root: str, bucket: str, paths: Sequence[str], if_match: str | None, folds: bool) -> None:
    """Delete ``paths`` (absent ones skipped), one lock per directory they are in
    (``folds``: the volume folds names, see :mod:`sessionstore_file.folding`)."""
    if isinstance(paths, str):
        raise TypeError("paths must be a sequence of paths, not one string")
    if if_match is not None and len(paths) != 1:
        raise ValueError(f"if_match needs exactly one path, got {len(paths)}")
    groups: dict[tuple[str, ...], list[str]] = {}
    for path in paths:
        parents, name = split_path(path)
        groups.setdefault(tuple(parents), []).append(name)
    for directory, names in groups.items():
        _delete_in(root, bucket, list(directory), names, if_match, folds)


def _delete_in(
    root: str,
    bucket: str,
    parents: list[str],
    names: list[str],
    if_match: str | None,
    folds: bool,
) -> None:
    depth = len(parents)
    first = "/".join([*parents, names[0]])  # the one path an if_match can name
    for _ in range(RACE_ATTEMPTS):
        chain = open_existing(root, bucket, parents, folds=folds)
        if chain is None:
            check_precondition(None, if_match, False, bucket, first, "delete")
            return
        with chain:
            with locked(chain.fd):
                if not chain.linked(depth):
                    continue  # another deleter removed it; a writer may have made a new one
                if if_match is not None:
                    current = chain.object_status(names[0])
                    check_precondition(current, if_match, False, bucket, first, "delete")
                removed = [_unlink_object(chain, name) for name in names]
                emptied = depth > 0 and _remove_if_empty(chain, depth)
                if any(removed) and not emptied:
                    os.fsync(chain.fd)
            if emptied:
                _remove_emptied_ancestors(chain, depth)
            return
    raise gave_up(os.path.join(root, bucket, *parents))


def _unlink_object(chain: DirChain, name: str) -> bool:
    """Unlink the object ``name`` in the deepest directory; ``False`` if absent."""
    if chain.object_status(name) is None:
        return False
    os.unlink(name, dir_fd=chain.fd)
    return True


def _remove_emptied_ancestors(chain: DirChain, depth: int) -> None:
    """After removing ``chain.fds[depth]``, remove each ancestor it left without
    entries, one lock at a time (never two at once), stopping below the bucket."""
    for level in range(depth - 1, 0, -1):
        with locked(chain.fds[level]):
            if not (chain.linked(level) and _remove_if_empty(chain, level)):
                return


def _remove_if_empty(chain: DirChain, depth: int) -> bool:
    """Remove the directory ``chain.fds[depth]`` (whose lock the caller holds) if no
    visible entry is left in it, clearing its stale temporary files first."""
    fd = chain.fds[depth]
    temporary = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if not entry.name.startswith("."):
                return False
            if entry.name.startswith(TEMP_PREFIX):
                temporary.append(entry.name)
    for name in temporary:
        with suppress(OSError):
            os.unlink(name, dir_fd=fd)
    parent = chain.fds[depth - 1]
    with locked(parent):  # writers publish new directories under this lock
        try:
            os.rmdir(chain.names[depth - 1], dir_fd=parent)
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False  # a hidden entry that is not ours, or a new sub-directory
            raise
    os.fsync(parent)
    return True
