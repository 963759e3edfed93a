"""sessionstore: session state in any storage, through one small async API.

    from sessionstore import SessionStore

    async with SessionStore() as store:          # the file backend, by default
        await store.store_session("abc123", {"status": "active"})
        state = await store.load_session("abc123")

Backends are separate distributions found through the ``sessionstore.backends``
entry points; :func:`available_backends` lists them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use (PEP 562), so ``import sessionstore`` and
# ``available_backends()`` stay cheap: they load neither the codec, nor cattrs,
# nor any backend. Type checkers and IDEs read the imports below.
if TYPE_CHECKING:
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
    from sessionstore.objects import (
        ListPage,
        ObjectInfo,
        SessionMetadata,
        SessionPage,
        StoredObject,
    )
    from sessionstore.registry import BackendInfo, available_backends
    from sessionstore.settings import DEFAULT_SESSION_BUCKET, StoreSettings
    from sessionstore.store import SessionStore

_HOMES = {
    "SessionStorageAdapter": "compat",
    "get_default_storage_adapter": "compat",
    "CopyReport": "copying",
    "copy_sessions": "copying",
    "BackendLoadError": "errors",
    "BackendNotFoundError": "errors",
    "ConfigurationError": "errors",
    "ConflictError": "errors",
    "CorruptSessionError": "errors",
    "InvalidSessionIdError": "errors",
    "SerializationError": "errors",
    "SessionStoreError": "errors",
    "StoragePermissionError": "errors",
    "StorageUnavailableError": "errors",
    "hookimpl": "hookspecs",
    "ListPage": "objects",
    "ObjectInfo": "objects",
    "SessionMetadata": "objects",
    "SessionPage": "objects",
    "StoredObject": "objects",
    "BackendInfo": "registry",
    "available_backends": "registry",
    "DEFAULT_SESSION_BUCKET": "settings",
    "StoreSettings": "settings",
    "SessionStore": "store",
}
"""The module each public name lives in."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sessionstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sessionstore.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


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
