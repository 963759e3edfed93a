"""The stored form of a session: a JSON envelope around the user's state.

Format version 1 is a JSON object with exactly two keys::

    {"sessionstore": {"format": 1, "session_id": "...", "filename": "...",
                      "stored_at": "2026-11-25T06:05:00.123456Z", "backend": "file",
                      "expires_at": "2026-11-25T07:05:00.123456Z"},
     "state": {...the user's state, untouched...}}

``expires_at`` is optional: written only for a file stored with a TTL; a file
without it never expires. Times are RFC 3339, written in UTC as ``...Z``; an
offset such as ``+00:00`` reads the same.

The user's state is never mixed with our metadata, so any key (``_metadata``
included) round-trips. Documents written by the seed's adapter (the state with a
``_metadata`` key merged in) and plain JSON objects still load.

Encoding is fast (orjson; msgspec decodes, as it keeps integers beyond 64 bits
exact, straight into :class:`Document` so the envelope costs nothing to parse) but
never narrower than the standard library: whatever ``json`` round-trips loads back
equal, falling back to ``json`` where the fast codecs cannot. NaN and infinities
are rejected, since JSON has no way to write them. What needs only the envelope
(expiry, metadata) reads it with :func:`decode_envelope`, leaving the state unbuilt.
"""

from __future__ import annotations

import enum
import json
import math
import re
import sys
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import msgspec
import orjson

from sessionstore.errors import CorruptSessionError, SerializationError

FORMAT_VERSION = 1
ENVELOPE_KEY = "sessionstore"
SEED_METADATA_KEY = "_metadata"

_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_decode_fast = msgspec.json.Decoder().decode
_NOT_DECODED = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What msgspec raises for bytes it does not decode (invalid UTF-8 inside a string
is a UnicodeDecodeError): each caller then falls back or refuses precisely."""
MAX_DEPTH = 500
"""The deepest nesting of dicts and lists a state may have. Before Python 3.13
both decoders spend a level of Python's recursion limit (1,000) per level, on top
of the caller's stack: a state of 950 levels written from a shallow stack failed
to load 900 frames deep, as "not valid JSON". 500 leaves a caller ~480 frames.
(From 3.13 the limit is the C stack's, tens of thousands of levels.)"""
_encode_msgpack = msgspec.msgpack.Encoder().encode
_NON_FINITE_MSGPACK = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")
"""A MessagePack float 64 whose exponent bits are all set: NaN or an infinity. It
may also match inside other data (strings cannot hold these bytes, integers can):
a match only means "look closer"."""


class Envelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What is stored beside the state. ``format`` has no default, so a stored
    envelope without one is refused rather than taken as the current format;
    ``expires_at`` is written only when set."""

    format: int
    session_id: str
    filename: str
    stored_at: datetime
    backend: str
    expires_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        """Whether the file's expiry time has been reached at ``now``."""
        return self.expires_at is not None and self.expires_at <= now


class Document(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A decoded session file: the state and, unless it predates the envelope, its
    envelope (stored under the key ``sessionstore``)."""

    state: dict[str, Any]
    envelope: Envelope | None = msgspec.field(name=ENVELOPE_KEY)


class _Header(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A current document whose state is checked to be well-formed JSON but not built."""

    state: msgspec.Raw
    envelope: Envelope | None = msgspec.field(name=ENVELOPE_KEY)


_decode_document = msgspec.json.Decoder(Document).decode
_decode_header = msgspec.json.Decoder(_Header).decode
_encode_envelope = msgspec.json.Encoder().encode
_DOCUMENT_OPEN = b'{"' + ENVELOPE_KEY.encode() + b'":'
_STATE_OPEN = b',"state":'


def encode(state: Mapping[str, Any], envelope: Envelope) -> bytes:
    """Serialise ``state`` inside ``envelope``; raise :class:`SerializationError`
    (and write nothing) if it is not a JSON object of JSON values."""
    if type(state) is not dict and not isinstance(state, Mapping):
        raise SerializationError(
            f"session state must be a dict (a JSON object), got {type(state).__name__}"
        )
    # The envelope is a Struct: msgspec writes it (times included) a few times faster
    # than building a dict of isoformat strings for orjson, and the state's JSON is
    # spliced in as it is.
    body = dumps(state if isinstance(state, dict) else dict(state))
    return b"".join((_DOCUMENT_OPEN, _encode_envelope(envelope), _STATE_OPEN, body, b"}"))


def dumps(value: Any) -> bytes:
    """JSON bytes of ``value``, rejecting what JSON cannot represent exactly."""
    try:
        data = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        # Beyond orjson: integers over 64 bits, lone surrogates. The standard
        # library decides what is serialisable, except that it would turn keys
        # such as 1, 1.5, True or None into strings: those would load back unequal.
        key = _non_str_key(value)
        if key is not None:
            raise SerializationError(
                f"session state is not JSON-serialisable: a key is not a string ({key})"
            ) from None
        try:
            data = json.dumps(
                value, allow_nan=False, separators=(",", ":"), default=_as_orjson_writes
            ).encode()
        except (TypeError, ValueError, RecursionError) as error:
            raise SerializationError(f"session state is not JSON-serialisable: {error}") from error
        if _deeper_than(value, MAX_DEPTH):
            raise SerializationError(
                f"session state is nested more than {MAX_DEPTH} levels deep: decoding it "
                "takes a level of Python's recursion limit each, so it would not load back "
                "everywhere"
            ) from None
        return data
    # orjson writes NaN and infinities as null; look closer only when null appears.
    # MessagePack keeps floats as they are, and encoding to it runs in C at about
    # orjson's speed, where walking a large value in Python costs ten times the
    # encoding: only when its bytes may hold a non-finite float is the value walked.
    if b"null" in data and _may_hold_non_finite(value) and _has_non_finite(value):
        raise SerializationError(
            "session state contains NaN or an infinity, which JSON cannot represent"
        )
    return data


def _as_orjson_writes(value: Any) -> Any:
    """For the standard library's encoder: what orjson writes for the objects it
    converts itself, so that a state is not refused for what would have been
    written had nothing else in it (a dict subclass, a big integer) needed the
    fallback."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, orjson.Fragment):
        try:
            return json.loads(orjson.dumps(value))
        except ValueError as error:
            raise TypeError(f"an orjson.Fragment does not hold valid JSON ({error})") from None
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _may_hold_non_finite(value: Any) -> bool:
    try:
        packed = _encode_msgpack(value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return True  # something orjson took and MessagePack does not: walk it
    return _NON_FINITE_MSGPACK.search(packed) is not None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` (known to hold no cycle) nests more than ``limit`` dicts and
    lists, itself included. Only the fallback asks: orjson refuses anything deeper
    than 254 levels itself."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _non_str_key(value: Any) -> str | None:
    """A description of the first dict key that is not a ``str``, if any.

    Iterative and visiting each container once, so cycles and deep nesting are left
    for the encoder to refuse."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:
                continue
            seen.add(id(item))
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    return f"{type(key).__name__} {key!r}"[:100]
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return None


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, enum.Enum):  # written as its value, which orjson checks not
            stack.append(item.value)
    return False


def loads(data: bytes, path: str) -> Any:
    """Parse JSON bytes, raising :class:`CorruptSessionError` naming ``path``."""
    try:
        return _decode_fast(data)
    except _NOT_DECODED:
        pass
    # Valid JSON the fast decoder refuses (lone surrogate escapes, NaN tokens from
    # the seed's writer) still loads; anything else is corrupt. The bytes are decoded
    # here, as UTF-8 (a leading BOM tolerated): given bytes, ``json.loads`` would
    # also read UTF-16 and UTF-32, which the format excludes.
    try:
        return json.loads(data.decode("utf-8-sig"))
    except RecursionError as error:
        raise CorruptSessionError(
            f"{path}: the stored JSON is nested too deeply to decode this deep in the "
            f"call stack (Python's recursion limit is {sys.getrecursionlimit()}; from "
            "Python 3.13, the C stack's)",
            path=path,
        ) from error
    except ValueError as error:
        raise CorruptSessionError(
            f"{path}: stored bytes are not valid JSON ({error})", path=path
        ) from error


def decode(data: bytes, path: str) -> Document:
    """Parse a stored session file of any supported format."""
    try:
        document = _decode_document(data)
    except _NOT_DECODED:
        pass  # not a current document: decoded generically below, or refused precisely
    else:
        if _is_current(document.envelope):
            return document
    value = loads(data, path)
    if not isinstance(value, dict):
        raise CorruptSessionError(
            f"{path}: a session file must hold a JSON object, found {type(value).__name__}",
            path=path,
        )
    if value.keys() == {ENVELOPE_KEY, "state"} and isinstance(value[ENVELOPE_KEY], dict):
        return Document(
            state=_state(value["state"], path), envelope=_envelope(value[ENVELOPE_KEY], path)
        )
    if isinstance(value.get(SEED_METADATA_KEY), dict):
        # Written by the seed's adapter: its metadata was merged into the state.
        del value[SEED_METADATA_KEY]
    return Document(state=value, envelope=None)


def decode_envelope(data: bytes, path: str) -> Envelope | None:
    """The envelope of a stored session file (``None`` if it predates the envelope),
    for what needs only that: expiry and metadata.

    The state of a current document is checked to be a well-formed JSON object but
    not built, which takes a fifth of :func:`decode`'s time and none of its memory for
    a large state (its strings are not checked to be valid UTF-8). Anything else is
    decoded as :func:`decode` does, raising the same :class:`CorruptSessionError`.
    """
    try:
        header = _decode_header(data)
    except _NOT_DECODED:
        pass  # not a current document
    else:
        if _is_current(header.envelope) and memoryview(header.state)[:1].tobytes() == b"{":
            return header.envelope
    return decode(data, path).envelope


def _is_current(envelope: Envelope | None) -> bool:
    """Whether a typed decode read an envelope of this format, its times aware (a
    stored time without an offset is read again, as UTC, by :func:`_envelope`)."""
    return (
        envelope is not None
        and envelope.format == FORMAT_VERSION
        and envelope.stored_at.tzinfo is not None
        and (envelope.expires_at is None or envelope.expires_at.tzinfo is not None)
    )


def _state(state: Any, path: str) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise CorruptSessionError(
            f"{path}: the stored state must be a JSON object, found {type(state).__name__}",
            path=path,
        )
    return state


def _envelope(raw: dict[str, Any], path: str) -> Envelope:
    version = raw.get("format")
    if type(version) is not int or version != FORMAT_VERSION:  # true and 1.0 equal 1
        raise CorruptSessionError(
            f"{path}: envelope format {version!r} is not supported (this sessionstore reads "
            f"format {FORMAT_VERSION}; a newer sessionstore may have written it)",
            path=path,
        )
    try:
        expires_at = raw.get("expires_at")
        envelope = Envelope(
            format=FORMAT_VERSION,
            session_id=_text(raw["session_id"]),
            filename=_text(raw["filename"]),
            stored_at=_utc(raw["stored_at"]),
            backend=_text(raw["backend"]),
            expires_at=None if expires_at is None else _utc(expires_at),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptSessionError(
            f"{path}: the envelope is malformed ({error!r})", path=path
        ) from error
    return envelope


def _text(value: object) -> str:
    """``value`` if it is a string: the typed decoder's rule, kept by the fallback."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, found {type(value).__name__}")
    return value


def _utc(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime; naive times are taken as UTC."""
    # Before Python 3.11 fromisoformat does not read the "Z" msgspec writes for UTC.
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
