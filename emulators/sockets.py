"""This process's open TCP connections, read from ``/proc`` (Linux): for tests that
check a store releases its connections when it is closed."""

from __future__ import annotations

import os
import time
from pathlib import Path

_ESTABLISHED = "01"


def has_proc() -> bool:
    """Whether :func:`open_connections` can work here (Linux's ``/proc``)."""
    return Path("/proc/self/fd").is_dir() and Path("/proc/net/tcp").is_file()


def open_connections(port: int) -> int:
    """How many established TCP connections this process holds to ``port`` on
    any host: its sockets (``/proc/self/fd``) matched by inode against the kernel's
    tables (``/proc/net/tcp``, ``tcp6``), whose remote port is ``port``."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.is_file():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rpartition(":")[2], 16)
            if remote_port == port and fields[3] == _ESTABLISHED and fields[9] in inodes:
                count += 1
    return count


def connections_left(port: int, timeout: float = 2.0) -> int:
    """:func:`open_connections` to ``port`` once it reaches 0, or after ``timeout``
    seconds: a client may close its sockets a moment after its ``close`` returned
    (an event loop in another thread drops them on its next turn)."""
    deadline = time.monotonic() + timeout
    while (count := open_connections(port)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return count
