"""The exceptions sessionstore raises, all rooted at :class:`SessionStoreError`.

Several also derive from a builtin (``ValueError``, ``OSError``, ``PermissionError``)
so code written against the seed's ``SessionStorageAdapter``, which promised those
builtins, keeps catching them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


class SessionStoreError(Exception):
    """Base class of every error sessionstore raises on purpose."""


def _reduce(error: BaseException, **keywords: object) -> tuple[Any, ...]:
    """What ``__reduce__`` returns for an error whose ``__init__`` takes keyword-only
    arguments: the default (the class called with ``args``) would miss them, so
    pickling one (a worker process's error going back to its parent) or
    ``copy.copy`` failed with a TypeError instead of giving the error back."""
    return (partial(type(error), **keywords), error.args, error.__dict__)


class ConfigurationError(SessionStoreError, ValueError):
    """A store was configured wrongly: bad URL, unknown or mistyped backend option."""


class BackendNotFoundError(SessionStoreError, ValueError):
    """No installed (and enabled) backend has the requested name."""


class BackendLoadError(SessionStoreError):
    """A backend is installed but its plugin failed to import or to validate.

    ``distribution`` names the installed distribution to fix or uninstall.
    """

    def __init__(self, message: str, *, backend: str, distribution: str) -> None:
        super().__init__(message)
        self.backend = backend
        self.distribution = distribution

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduce(self, backend=self.backend, distribution=self.distribution)


class InvalidSessionIdError(SessionStoreError, ValueError):
    """A session id, filename or bucket name is not safe to use as a storage path."""


class SerializationError(SessionStoreError, ValueError):
    """A state cannot be stored as JSON; nothing was written."""


class CorruptSessionError(SessionStoreError, ValueError):
    """Stored bytes are not a valid session document; ``path`` says which object."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduce(self, path=self.path)


class ConflictError(SessionStoreError):
    """A conditional write failed: the object changed (``if_match``) or exists
    (``create_only``) — or an ``update_session`` ran out of attempts."""


class StorageUnavailableError(SessionStoreError, OSError):
    """The backend failed for a reason other than a missing object or a conflict.

    Carries ``backend``, ``bucket`` and ``path``; the original error is chained as
    ``__cause__``. Never contains credentials.
    """

    def __init__(self, message: str, *, backend: str, bucket: str, path: str | None = None) -> None:
        super().__init__(message)
        self.backend = backend
        self.bucket = bucket
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduce(self, backend=self.backend, bucket=self.bucket, path=self.path)

    def __str__(self) -> str:
        return str(self.args[0])


class StoragePermissionError(StorageUnavailableError, PermissionError):
    """The backend refused access (bad or missing credentials, no permission)."""


@contextmanager
def first_failure() -> Iterator[None]:
    """Around a task group: re-raise the first error inside the exception group it
    raises when a task fails, as a sequential operation would have raised it.

    A cancellation in the group is passed over for a real error beside it: when a
    deadline cancels the other tasks while one fails, raising the cancellation
    would let the scope that cancelled swallow the error unseen. A
    ``KeyboardInterrupt`` or ``SystemExit`` comes before any ordinary error: Ctrl-C
    must not turn into a storage error."""
    try:
        yield
    except BaseExceptionGroup as group:
        import anyio  # here, not above: listing backends imports this module, not anyio

        cancelled = anyio.get_cancelled_exc_class()
        leaves = list(_leaves(group))
        errors = [leaf for leaf in leaves if not isinstance(leaf, cancelled)] or leaves
        error = next((leaf for leaf in errors if not isinstance(leaf, Exception)), errors[0])
        # Raising here makes the group the error's context; keep the one it had
        # (say, the storage error an ``on_error`` callback raised from).
        context = error.__context__
        try:
            raise error
        finally:
            error.__context__ = context


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    """The exceptions inside ``group`` and its nested groups, in order."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error
