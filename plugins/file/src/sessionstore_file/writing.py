"""The blocking upload: check the precondition and replace the file under one lock.

Every upload, conditional or not, holds the ``flock`` of the object's directory
from the precondition check until the new file is renamed into place, so
conditional writes are linearizable with respect to all writes and deletes on
this host; if a deleter removes the directory before the lock is taken, the
upload starts again. A lock held by someone else is not waited for here: the
upload returns :data:`~sessionstore_file.locking.BUSY` having changed nothing,
and the hook tries again from the event loop (:mod:`sessionstore_file.locking`).
Missing directories are published together with the object
(:mod:`sessionstore_file.publishing`), so no directory is ever visible empty.
"""

from __future__ import annotations

import os
from functools import partial

from sessionstore.errors import InvalidSessionIdError
from sessionstore_file.atomic import replace_file
from sessionstore_file.dirs import open_deepest
from sessionstore_file.entries import lstat_object
from sessionstore_file.folding import FoldedName
from sessionstore_file.locking import BUSY, Busy, LockBusy, locked
from sessionstore_file.paths import split_path
from sessionstore_file.preconditions import check_precondition
from sessionstore_file.publishing import Publication, publish, resume
from sessionstore_file.races import RACE_ATTEMPTS, Raced, gave_up


def upload(
    root: str,
    bucket: str,
    path: str,
    data: bytes,
    if_match: str | None,
    create_only: bool,
    folds: bool,
    publication: Publication | None = None,
) -> os.stat_result | Busy:
    """Write ``data`` at ``path`` if the precondition holds; return the new file's
    status (the caller builds its info on the event loop, see :mod:`.backend`), or
    :data:`~sessionstore_file.locking.BUSY`, having written nothing, if a lock it
    needs is held.

    On a volume that folds names (``folds``), a name stored under another spelling
    is refused with :class:`InvalidSessionIdError`: writing would replace that one.
    A new directory built while its parent's lock was busy is kept in
    ``publication`` (if given) for the next call to publish rather than build again.
    """
    parents, name = split_path(path)
    try:
        if publication is not None and publication.waiting is not None:
            status = resume(publication)
            if status is not None:
                return status
            # the directory appeared meanwhile: write into it instead, as below
        for _ in range(RACE_ATTEMPTS):
            chain, missing = open_deepest(root, bucket, parents, folds=folds)
            if missing:
                with chain:
                    check_precondition(None, if_match, create_only, bucket, path, "write")
                    try:
                        status = publish(chain.fd, missing, name, data, publication)
                    except Raced:
                        continue
                if status is None:
                    continue  # the directory appeared meanwhile: write into it instead
                return status
            with chain, locked(chain.fd):
                # A deleter may have removed the directory before we got its lock. That
                # is not checked first (two system calls on every write): a removed
                # directory is empty and nothing can be created in it, so replace_file
                # raises Raced and we start again. A version expected there was deleted
                # with it, so the ConflictError an if_match gets there is right too.
                current = lstat_object(chain.fd, name, partial(chain.where, name))
                if current is not None and folds:
                    stored = chain.spelling(name, current.st_ino)
                    if stored is None:
                        continue  # replaced meanwhile by someone ignoring our lock: look again
                    if stored != name:
                        raise FoldedName(name, stored)
                check_precondition(current, if_match, create_only, bucket, path, "write")
                previous_mtime = None if current is None else current.st_mtime_ns
                try:
                    return replace_file(chain.fd, name, data, previous_mtime)
                except Raced:
                    continue
    except FoldedName as folded:
        raise InvalidSessionIdError(
            f"cannot write {path!r} in bucket {bucket!r}: {folded.stored!r} is stored there,"
            f" and this volume does not tell it from {folded.name!r} (it ignores case, as"
            " macOS and Windows volumes do by default), so writing would replace it"
        ) from None
    except LockBusy:
        return BUSY
    raise gave_up(os.path.join(root, bucket, path))
