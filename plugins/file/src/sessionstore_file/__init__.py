"""The ``file`` backend for sessionstore: each object is a file on the local disk.

Layout: ``<root>/<bucket>/<session_id>/<filename>``. Writes are atomic and durable
(temporary file, fsync, rename, fsync of the directory); conditional writes are
serialised across threads and processes of one host by ``flock`` on the object's
directory; nothing below the bucket directory is ever reached through a symlink.

POSIX only (it relies on ``dir_fd`` system calls, ``O_NOFOLLOW`` and ``flock``), and
for local file systems: ``flock`` on NFS and similar is not relied upon.
"""

from __future__ import annotations

from sessionstore_file.backend import FileBackend

__all__ = ["FileBackend"]
