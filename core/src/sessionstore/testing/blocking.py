"""Catch file-system work done on the event loop's thread, where it blocks every
other task: Python's audit events (``open``, ``os.rename``, ``sqlite3.connect``...)
say when it happens, and in which thread.

Sockets are left out: an async client's are non-blocking, and used on the loop
thread by design. Imports are left out too: a module imported on first use opens
its file on whichever thread asked, and that is Python's way, not a backend's.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import attrs

FILE_EVENTS = frozenset(
    {
        *("open", "os.listdir", "os.scandir", "os.rename", "os.remove", "os.rmdir"),
        *("os.mkdir", "os.chmod", "os.truncate", "os.utime", "os.link", "os.symlink"),
        *("shutil.copyfile", "shutil.rmtree", "shutil.move", "sqlite3.connect"),
    }
)
"""Audit events that mean file-system work (every file operation begins with one)."""
WHERE_FRAMES = 8
"""Frames kept of where each was seen."""


@attrs.define
class Blocked:
    """One audit event seen on a watched thread: its name, arguments, and where."""

    event: str
    args: tuple[Any, ...]
    where: traceback.StackSummary
    """The innermost frames, outermost first; their source lines are read only
    when shown (reading them is file work too)."""

    def __str__(self) -> str:
        return f"{self.event}{self.args!r} at\n" + "".join(self.where.format())


_watched: dict[int, list[Blocked]] = {}
"""The threads being watched, by ident, with what was seen on each."""
_installed = threading.Lock()
_hook_added = False


def _is_import(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    seen = _watched.get(threading.get_ident())
    if seen is None or event not in FILE_EVENTS:
        return
    frame = sys._getframe(1)
    if _is_import(frame):
        return
    where = traceback.StackSummary.extract(
        traceback.walk_stack(frame), limit=WHERE_FRAMES, lookup_lines=False
    )
    where.reverse()
    seen.append(Blocked(event, args, where))


@contextlib.contextmanager
def file_work_on_this_thread() -> Iterator[list[Blocked]]:
    """Within the block, collect the file-system work done on this thread (the
    event loop's, when entered in an async test) into the list it gives.

    The audit hook is added once per process and cannot be removed (Python's
    rule); outside these blocks it returns at once."""
    global _hook_added
    with _installed:
        if not _hook_added:
            sys.addaudithook(_audit)
            _hook_added = True
    seen: list[Blocked] = []
    ident = threading.get_ident()
    _watched[ident] = seen
    try:
        yield seen
    finally:
        del _watched[ident]
