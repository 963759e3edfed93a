"""A storage client that a backend's operations share, closed only once none uses it.

A backend that calls a storage SDK from worker threads keeps one client (and its
connection pool) for all its operations. Kept as a bare attribute, it goes wrong
twice. Closing the store closed the client under the operations other tasks had in
flight: S3 downloads came back empty, which read as "no such session", and Azure's
failed. A forked child used the parent's pooled connections, so two processes read
each other's answers. :class:`SharedClient` does neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from sessionstore.forksafe import ForkSafeLock

__all__ = ["SharedClient"]

C = TypeVar("C")


class SharedClient(Generic[C]):
    """One client, made by ``make()`` on first use, for the operations of all threads.

    :meth:`close` drops it, so the next operation makes a new one, and it is closed
    by ``close_client(client)`` once the operations using it have ended. In a
    forked child the parent's client is dropped without being closed (its
    connections are still the parent's) and a new one is made. Both callables are
    blocking: call :meth:`using` and :meth:`close` from worker threads.
    """

    def __init__(self, make: Callable[[], C], close_client: Callable[[C], object]) -> None:
        self._make = make
        self._close_client = close_client
        self._lock = ForkSafeLock()
        self._pid = os.getpid()
        self._client: C | None = None
        self._users = 0
        self._closing: dict[int, list[Any]] = {}
        """Clients dropped while in use, by ``id``: ``[client, operations using it]``."""

    @contextmanager
    def using(self) -> Iterator[C]:
        """The client, for the length of one operation."""
        client = self._enter()
        try:
            yield client
        finally:
            if self._leave(client):
                self._close_client(client)

    def close(self) -> None:
        """Drop the client: closed now if no operation uses it, else by the last
        one to end. Closing again, or before any use, does nothing."""
        with self._lock:
            self._forget_if_forked()
            client, self._client = self._client, None
            if client is None:
                return
            if self._users:
                self._closing[id(client)] = [client, self._users]
                self._users = 0
                return
        self._close_client(client)

    def _enter(self) -> C:
        with self._lock:
            self._forget_if_forked()
            if self._client is None:
                self._client = self._make()
            self._users += 1
            return self._client

    def _leave(self, client: C) -> bool:
        """Whether ``client`` was dropped and this was its last operation."""
        with self._lock:
            if client is self._client:
                self._users -= 1
                return False
            closing = self._closing.get(id(client))
            if closing is None:  # the parent's, in a forked child
                return False
            closing[1] -= 1
            if closing[1]:
                return False
            del self._closing[id(client)]
            return True

    def _forget_if_forked(self) -> None:
        """In a forked child: forget the parent's clients, without closing them."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._client, self._users = None, 0
            self._closing.clear()
