"""Losing a race with a concurrent delete, and starting again.

Deleters remove a directory they emptied while holding its lock (see
:mod:`sessionstore_file.deleting`), so a writer may find a directory gone under
it: :class:`Raced` tells it to start its operation again, at most
:data:`RACE_ATTEMPTS` times.
"""

from __future__ import annotations

import errno

RACE_ATTEMPTS = 1000
"""How often an operation starts again after a concurrent delete removed its directory."""


class Raced(Exception):
    """A directory on the way was removed concurrently; start the operation again."""


def gave_up(where: str) -> OSError:
    """The error after :data:`RACE_ATTEMPTS` lost races (a directory kept vanishing)."""
    return OSError(
        errno.EAGAIN, f"directory kept being removed concurrently ({RACE_ATTEMPTS} attempts)", where
    )
