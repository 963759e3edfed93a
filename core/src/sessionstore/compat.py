"""Drop-in names for code written against the seed's ``SessionStorageAdapter``:
change the import line, keep the rest."""

from __future__ import annotations

from sessionstore.settings import DEFAULT_SESSION_BUCKET
from sessionstore.store import SessionStore

SessionStorageAdapter = SessionStore
"""The seed's class name for :class:`SessionStore`."""


def get_default_storage_adapter() -> SessionStore:
    """A store on the default backend and bucket (``SESSIONSTORE_URL`` /
    ``SESSIONSTORE_BACKEND`` / ``SESSIONSTORE_BUCKET``, else ``file`` and
    ``sessions``)."""
    return SessionStore()


__all__ = ["DEFAULT_SESSION_BUCKET", "SessionStorageAdapter", "get_default_storage_adapter"]
