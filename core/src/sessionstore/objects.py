"""Frozen value types that cross the backend contract and the public API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import attrs


def _aware(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


@attrs.frozen
class ObjectInfo:
    """What a backend knows about one stored object, without its bytes.

    ``version`` is an opaque token that changes on every write of the object
    (an etag, a generation number, ...); pass it back as ``if_match``.
    ``created`` is when the object was first created where the storage records
    that, otherwise when this version was written.
    """

    path: str
    size: int
    modified: datetime = attrs.field(validator=_aware)
    created: datetime = attrs.field(validator=_aware)
    version: str


@attrs.frozen
class StoredObject:
    """An object's bytes together with the info of exactly that version."""

    data: bytes
    info: ObjectInfo


@attrs.frozen
class ListPage:
    """One page of a listing.

    ``entries`` are bucket-relative paths in ascending order; an entry ending in
    ``/`` is a prefix ("directory") holding objects. ``cursor`` resumes the listing
    after the last entry; ``None`` means the listing is complete.
    """

    entries: tuple[str, ...]
    cursor: str | None = None


@attrs.frozen
class SessionPage:
    """One page of session ids and the cursor to fetch the next (``None`` at the end)."""

    session_ids: tuple[str, ...]
    cursor: str | None = None


@attrs.frozen
class SessionMetadata:
    """Metadata of one stored session file.

    ``stored_at``, ``format_version`` and ``expires_at`` come from the stored
    envelope and are ``None`` when only the storage's own metadata was read
    (``get_session_metadata`` reads no content); ``expires_at`` is also ``None``
    for a file stored without a TTL, which never expires. Every time is
    timezone-aware: the store builds this from an :class:`ObjectInfo` and an
    envelope, both checked when they were made. It reads as the seed's dict did:
    ``meta["size"]``, ``meta.get(...)``, ``"size" in meta``, iteration over the
    field names, ``items()`` and ``dict(meta)``.
    """

    session_id: str
    filename: str
    size: int
    modified: datetime
    created: datetime
    backend: str
    version: str
    stored_at: datetime | None = None
    format_version: int | None = None
    expires_at: datetime | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in attrs.fields_dict(SessionMetadata):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Return a field by name, or ``default`` — the seed's dict-style access."""
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> Iterator[str]:
        """Field names, so ``dict(meta)`` gives the seed's dictionary."""
        return iter(attrs.fields_dict(SessionMetadata))

    # The rest of a read-only dict's protocol. Without __iter__ and __contains__,
    # Python falls back to calling __getitem__ with 0, 1, ...: ``"size" in meta``
    # and ``for key in meta`` raised KeyError(0).
    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in attrs.fields_dict(SessionMetadata)

    def __len__(self) -> int:
        return len(attrs.fields(SessionMetadata))

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(field name, value)`` pairs, as the seed's dictionary gave."""
        return ((key, getattr(self, key)) for key in self.keys())

    def values(self) -> Iterator[Any]:
        """Field values, in the order of :meth:`keys`."""
        return (getattr(self, key) for key in self.keys())
