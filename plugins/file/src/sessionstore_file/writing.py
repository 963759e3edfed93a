"""The blocking upload: check the precondition and replace the file under one lock.

Every upload, conditional or not, holds the ``flock`` of the object's directory
from the precondition check until the new file is renamed into place, so
conditional writes are linearizable with respect to all writes and deletes on
this host. Missing directories on the way are created first; if a deleter
removes one before the lock is taken, the upload starts again.
"""

from __future__ import annotations

import os

from sessionstore.objects import ObjectInfo
from sessionstore_file.atomic import replace_file
from sessionstore_file.dirs import RACE_ATTEMPTS, Raced, gave_up, open_chain
from sessionstore_file.entries import lstat_object
from sessionstore_file.locking import locked
from sessionstore_file.paths import split_path
from sessionstore_file.preconditions import check_precondition
from sessionstore_file.versions import object_info


def upload(
    root: str, bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
) -> ObjectInfo:
    """Write ``data`` at ``path`` if the precondition holds; return the new version's info."""
    parents, name = split_path(path)
    for _ in range(RACE_ATTEMPTS):
        try:
            chain = open_chain(root, bucket, parents, create=True)
        except Raced:
            continue
        with chain, locked(chain.fd):
            if not chain.linked(len(parents)):
                continue  # a deleter removed the directory before we got its lock
            current = lstat_object(chain.fd, name, chain.where(name))
            check_precondition(current, if_match, create_only, chain.where(name), "write")
            previous_mtime = None if current is None else current.st_mtime_ns
            status = replace_file(chain.fd, name, data, previous_mtime)
            return object_info(path, status)
    raise gave_up(os.path.join(root, bucket, path))
