"""sessionstore: session state in any storage, through one small async API.

    from sessionstore import SessionStore

    async with SessionStore() as store:          # the file backend, by default
        await store.store_session("abc123", {"status": "active"})
        state = await store.load_session("abc123")

Backends are separate distributions found through the ``sessionstore.backends``
entry points; :func:`available_backends` lists them.
"""

from __future__ import annotations

from sessionstore.compat import SessionStorageAdapter, get_default_storage_adapter
from sessionstore.copying import CopyReport, copy_sessions
from sessionstore.errors import (
    BackendLoadError,
    BackendNotFoundError,
    ConfigurationError,
    ConflictError,
    CorruptSessionError,
    InvalidSessionIdError,
    SerializationError,
    SessionStoreError,
    StoragePermissionError,
    StorageUnavailableError,
)
from sessionstore.hookspecs import hookimpl
from sessionstore.objects import ListPage, ObjectInfo, SessionMetadata, SessionPage, StoredObject
from sessionstore.registry import BackendInfo, available_backends
from sessionstore.settings import DEFAULT_SESSION_BUCKET, StoreSettings
from sessionstore.store import SessionStore

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SESSION_BUCKET",
    "BackendInfo",
    "BackendLoadError",
    "BackendNotFoundError",
    "ConfigurationError",
    "ConflictError",
    "CopyReport",
    "CorruptSessionError",
    "InvalidSessionIdError",
    "ListPage",
    "ObjectInfo",
    "SerializationError",
    "SessionMetadata",
    "SessionPage",
    "SessionStorageAdapter",
    "SessionStore",
    "SessionStoreError",
    "StoragePermissionError",
    "StorageUnavailableError",
    "StoreSettings",
    "StoredObject",
    "available_backends",
    "copy_sessions",
    "get_default_storage_adapter",
    "hookimpl",
]
