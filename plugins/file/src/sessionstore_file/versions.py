"""Version tokens and :class:`ObjectInfo` from a file's status.

The token is ``<inode>-<mtime ns>-<size>`` in hex. Every write is a new inode (so
the token differs from the version it replaces), and writers stamp each new file
with an mtime later than the one it replaces (see :mod:`sessionstore_file.atomic`),
so a path's tokens never repeat even when inode numbers are reused.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from sessionstore.objects import ObjectInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def version_token(status: os.stat_result) -> str:
    """The opaque version token of the file version ``status`` describes."""
    return f"{status.st_ino:x}-{status.st_mtime_ns:x}-{status.st_size:x}"


def object_info(path: str, status: os.stat_result) -> ObjectInfo:
    """The info of one object version.

    ``created`` equals ``modified``: every write makes a new file, so the file
    system keeps no earlier creation time.
    """
    modified = _EPOCH + timedelta(microseconds=status.st_mtime_ns // 1000)
    return ObjectInfo(
        path=path,
        size=status.st_size,
        modified=modified,
        created=modified,
        version=version_token(status),
    )
