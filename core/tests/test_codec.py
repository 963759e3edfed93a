"""The stored form: exact round trips, clear refusals, seed files, corrupt bytes."""

from __future__ import annotations

import collections
import enum
import json
import math
import struct
import sys
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionstore import CorruptSessionError, SerializationError
from sessionstore.codec import (
    FORMAT_VERSION,
    MAX_DEPTH,
    Document,
    Envelope,
    decode,
    decode_envelope,
    encode,
)

ENVELOPE = Envelope(
    format=FORMAT_VERSION,
    session_id="s1",
    filename="state.json",
    stored_at=datetime(2026, 11, 25, 6, 5, tzinfo=timezone.utc),
    backend="memory",
)


def round_trip(state: dict[str, Any]) -> dict[str, Any]:
    return decode(encode(state, ENVELOPE), "s1/state.json").state


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(st.dictionaries(st.text(), json_values))
def test_whatever_stdlib_json_round_trips_loads_back_equal(state: dict[str, Any]) -> None:
    assert json.loads(json.dumps(state)) == state
    assert round_trip(state) == state


@pytest.mark.parametrize(
    "state",
    [
        {"big": 2**70, "negative": -(2**100), "u64": 2**64 - 1},
        {"surrogate": "\ud800 alone", "emoji": "🙂", "nul": "a\x00b"},
        {"_metadata": {"mine": True}, "sessionstore": 1, "state": 2},
        {},
        {"deep": [[[[{"x": [1.5, -0.0, 1e300]}]]]]},
    ],
)
def test_edge_values_round_trip(state: dict[str, Any]) -> None:
    assert round_trip(state) == state


def test_envelope_is_stored_beside_the_state_not_inside_it() -> None:
    stored = json.loads(encode({"a": 1}, ENVELOPE))
    assert stored == {
        "sessionstore": {
            "format": FORMAT_VERSION,
            "session_id": "s1",
            "filename": "state.json",
            "stored_at": "2026-11-25T06:05:00Z",
            "backend": "memory",
        },
        "state": {"a": 1},
    }
    document = decode(encode({"a": 1}, ENVELOPE), "p")
    assert document.envelope == ENVELOPE


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(bad: float) -> None:
    with pytest.raises(SerializationError, match="NaN or an infinity"):
        encode({"x": [1, {"y": bad}], "n": None}, ENVELOPE)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_in_tuples_are_refused(bad: float) -> None:
    # A tuple comes back from JSON as a list: the quick comparison cannot tell,
    # the walk must.
    with pytest.raises(SerializationError, match="NaN or an infinity"):
        encode({"x": (1, None, (bad,))}, ENVELOPE)


def _nan_with_payload(bits: int) -> float:
    return struct.unpack(">d", bits.to_bytes(8, "big"))[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "bad",
    [
        -math.nan,
        _nan_with_payload(0x7FF0_0000_0000_0001),  # signalling NaN
        _nan_with_payload(0xFFFF_FFFF_FFFF_FFFF),
        _nan_with_payload(0x7FF4_1234_5678_9ABC),
    ],
)
def test_every_nan_bit_pattern_is_refused(bad: float) -> None:
    assert math.isnan(bad)
    with pytest.raises(SerializationError, match="NaN or an infinity"):
        encode({"n": None, "x": [bad]}, ENVELOPE)


@pytest.mark.parametrize("big", [1.7976931348623157e308, -1e308, 5e306])
def test_huge_finite_floats_beside_nulls_encode(big: float) -> None:
    # Their bytes look like a non-finite float's at first sight: the walk decides.
    assert round_trip({"n": None, "x": big, "i": 0x7FF8_0000_0000_0000}) == {
        "n": None,
        "x": big,
        "i": 0x7FF8_0000_0000_0000,
    }


def test_tuples_and_nulls_without_non_finite_floats_encode() -> None:
    assert round_trip({"x": (1, None, (2.5, None))}) == {"x": [1, None, [2.5, None]]}


def test_a_state_full_of_nulls_is_not_walked_in_python() -> None:
    """Regression (#8): any null in the output made encode walk the whole state in
    Python to look for NaN, 10-30x the encoding itself for a 1 MB state. Counted,
    not timed: the Python-level calls made while encoding such a state."""
    state = {"turns": [{"text": "hi", "reply_to": None, "score": 0.5} for _ in range(5000)]}
    calls = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(count)
    try:
        encode(state, ENVELOPE)
    finally:
        sys.setprofile(None)
    assert calls < 100, f"encode made {calls} calls: it walks the state item by item"


def cyclic() -> dict[str, Any]:
    state: dict[str, Any] = {}
    state["self"] = state
    return state


def deep(levels: int) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for _ in range(levels):
        state = {"x": state}
    return state


@pytest.mark.parametrize(
    "state",
    [
        {"s": {1, 2}},
        {"b": b"bytes"},
        {"o": object()},
        cyclic(),
        deep(100_000),
        {"d": datetime.now(timezone.utc)},
    ],
)
def test_unserialisable_states_raise_serialization_error(state: dict[str, Any]) -> None:
    with pytest.raises(SerializationError) as caught:
        encode(state, ENVELOPE)
    assert isinstance(caught.value, ValueError)


class _Colour(enum.Enum):
    RED = "red"
    DEPTH = 8


def test_uuids_and_enum_members_are_written_as_their_json_values() -> None:
    """As documented (using-sessions.md): orjson converts these itself, and refusing
    them would mean walking every state in Python. What loads back is the value."""
    state = {"id": uuid.UUID(int=1), "colour": _Colour.RED, "depth": [_Colour.DEPTH]}
    loaded = decode(encode(state, ENVELOPE), "p").state
    assert loaded == {
        "id": "00000000-0000-0000-0000-000000000001",
        "colour": "red",
        "depth": [8],
    }


class _Turns(list):  # type: ignore[type-arg]
    """A list subclass, as application models often hold."""


@pytest.mark.parametrize(
    "wrap",
    [
        lambda value: {"big": 2**70, "value": value},  # beyond orjson's integers
        lambda value: {"surrogate": "\ud800", "value": value},  # beyond its strings
        lambda value: collections.OrderedDict(value=value),
        lambda value: collections.defaultdict(list, value=value),
        lambda value: {"turns": _Turns([value])},
    ],
    ids=["big-int", "lone-surrogate", "OrderedDict", "defaultdict", "list-subclass"],
)
def test_uuids_enums_and_fragments_are_written_beside_what_needs_the_fallback(
    wrap: Callable[[Any], dict[str, Any]],
) -> None:
    """A state orjson hands over to the standard library (a big integer elsewhere in
    it, a dict or list subclass) wrote the same UUIDs, enum members and fragments,
    not a SerializationError that depended on what else the state held."""
    for value, written in [
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (_Colour.RED, "red"),
        (orjson.Fragment(b'{"a":[1,2]}'), {"a": [1, 2]}),
    ]:
        assert round_trip(wrap(value)) == json.loads(json.dumps(wrap(written)))


class _NotANumber(enum.Enum):
    VALUE = math.nan


def test_an_enum_member_whose_value_is_nan_is_refused() -> None:
    """orjson writes a member's NaN value as null: it would load back as None."""
    with pytest.raises(SerializationError, match="NaN"):
        encode({"x": _NotANumber.VALUE}, ENVELOPE)


@pytest.mark.parametrize(
    "state",
    [{1: "a"}, {"a": {None: 1}}, {"x": [{1.5: 2}]}, {True: 1}, {"a": 2**70, 3: 3}],
)
def test_non_string_keys_are_refused_not_turned_into_strings(state: dict[Any, Any]) -> None:
    """The standard library writes ``{1: "a"}`` as ``{"1": "a"}``, which would load
    back unequal: refused instead (a reliability campaign found it)."""
    with pytest.raises(SerializationError, match="key is not a string"):
        encode(state, ENVELOPE)


def nested_lists(levels: int) -> dict[str, Any]:
    """Like :func:`deep`, ``levels`` containers around the innermost, in lists."""
    inner: list[Any] = []
    for _ in range(levels - 1):
        inner = [inner]
    return {"x": inner}


@pytest.mark.parametrize("build", [deep, nested_lists], ids=["dicts", "lists"])
def test_a_state_loads_back_however_deep_it_was_accepted(
    build: Callable[[int], dict[str, Any]],
) -> None:
    """A state 950 levels deep was written (from a shallow stack) and then failed to
    load 900 frames down, as "not valid JSON". States deeper than MAX_DEPTH are
    refused; those accepted load with hundreds of frames to spare."""
    deepest = build(MAX_DEPTH - 1)  # MAX_DEPTH containers, the state included
    data = encode(deepest, ENVELOPE)

    def decode_under(frames: int) -> dict[str, Any]:
        return decode_under(frames - 1) if frames else decode(data, "p").state

    assert decode_under(400) == deepest
    too_deep = build(MAX_DEPTH)
    with pytest.raises(SerializationError, match=f"nested more than {MAX_DEPTH} levels"):
        encode(too_deep, ENVELOPE)


def test_json_too_deep_to_decode_is_not_called_invalid() -> None:
    # Python 3.13 decodes 5,000 levels (its limit is the C stack's), 3.12 and before ~1,000.
    data = b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with pytest.raises(CorruptSessionError, match="nested too deeply to decode") as caught:
        decode(data, "p")
    assert "not valid JSON" not in str(caught.value)


@pytest.mark.parametrize("state", [[1, 2], "text", 3, None])
def test_state_must_be_a_mapping(state: Any) -> None:
    with pytest.raises(SerializationError, match="must be a dict"):
        encode(state, ENVELOPE)


def test_seed_format_loads_without_the_seed_key() -> None:
    seed = {
        "status": "active",
        "_metadata": {"session_id": "s1", "stored_at": "2025-01-01T00:00:00", "backend": "file"},
    }
    document = decode(json.dumps(seed, indent=2).encode(), "s1/state.json")
    assert document.state == {"status": "active"}
    assert document.envelope is None


def test_seed_file_with_nan_written_by_stdlib_still_loads() -> None:
    seed = json.dumps({"score": math.inf, "_metadata": {}}).encode()
    assert decode(seed, "p").state == {"score": math.inf}


def test_plain_json_object_loads_as_is() -> None:
    assert decode(b'{"a": [1, 2]}', "p").state == {"a": [1, 2]}


def test_utf8_with_a_byte_order_mark_still_loads() -> None:
    assert decode(b'\xef\xbb\xbf{"a": "\xc3\xa9"}', "p").state == {"a": "\u00e9"}


CORRUPT = [
    (b'{"a": 1', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    # Invalid UTF-8 inside a string: msgspec raises UnicodeDecodeError there.
    (b'{"a": "\xe9"}', "not valid JSON"),
    (b'{"a": "\xff\xfe"}', "not valid JSON"),
    # Valid JSON, but UTF-16 / UTF-32, which the format (UTF-8) excludes.
    ('{"a": 1}'.encode("utf-16"), "not valid JSON"),
    ('{"a": 1}'.encode("utf-16-le"), "not valid JSON"),
    ('{"a": 1}'.encode("utf-32"), "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[1, 2]", "must hold a JSON object, found list"),
    (b'{"sessionstore": {"format": 99}, "state": {}}', "envelope format 99"),
    (b'{"sessionstore": {"format": 1}, "state": {}}', "envelope is malformed"),
    # Python's True == 1 == 1.0: the format must be the integer itself.
    (encode({}, ENVELOPE).replace(b'"format":1', b'"format":true'), "envelope format True"),
    (encode({}, ENVELOPE).replace(b'"format":1', b'"format":1.0'), "envelope format 1.0"),
    (encode({}, ENVELOPE).replace(b'"backend":"', b'"backend":5,"x":"'), "malformed"),
    (b'{"sessionstore": {"format": 1}, "state": []}', "stored state must be a JSON object"),
    (encode({}, ENVELOPE)[:-3] + b"[]}", "stored state must be a JSON object, found list"),
    (encode({}, ENVELOPE)[:-3] + b'"{}"}', "stored state must be a JSON object, found str"),
]
"""Stored bytes that are not a session document, and what the error says."""


@pytest.mark.parametrize(("data", "reason"), CORRUPT)
def test_corrupt_bytes_raise_a_precise_error(data: bytes, reason: str) -> None:
    with pytest.raises(CorruptSessionError, match=reason) as caught:
        decode(data, "sid/state.json")
    assert caught.value.path == "sid/state.json"
    assert "sid/state.json" in str(caught.value)


def test_expiry_round_trips_and_is_optional() -> None:
    expires_at = datetime(2026, 11, 25, 7, 5, tzinfo=timezone.utc)
    dated = decode(
        encode({}, msgspec.structs.replace(ENVELOPE, expires_at=expires_at)), "p"
    ).envelope
    assert dated is not None
    assert dated.expires_at == expires_at
    assert dated.is_expired(expires_at)
    assert not dated.is_expired(expires_at - timedelta(microseconds=1))
    # Format 1 without the key (every file written before expiry existed) never expires.
    assert b"expires_at" not in encode({}, ENVELOPE)
    plain = decode(encode({}, ENVELOPE), "p").envelope
    assert plain is not None
    assert plain.expires_at is None
    assert not plain.is_expired(datetime.max.replace(tzinfo=timezone.utc))


@pytest.mark.parametrize("state", [{"a": 1}, {"lone": "\ud800"}], ids=["typed", "generic"])
@pytest.mark.parametrize("stamp", ["2026-11-25T06:05:00Z", "2026-11-25T06:05:00+00:00"])
def test_utc_reads_the_same_written_as_z_or_as_an_offset(state: dict[str, Any], stamp: str) -> None:
    # Earlier builds wrote "+00:00"; a lone surrogate sends decoding down the
    # standard library's path, which parses times itself.
    document = json.loads(encode(state, ENVELOPE))
    document["sessionstore"]["stored_at"] = stamp
    document["sessionstore"]["expires_at"] = stamp.replace("06:05", "07:05")
    loaded = decode(json.dumps(document).encode(), "p")
    assert loaded.state == state
    assert loaded.envelope == msgspec.structs.replace(
        ENVELOPE, expires_at=datetime(2026, 11, 25, 7, 5, tzinfo=timezone.utc)
    )


def test_naive_envelope_times_are_taken_as_utc() -> None:
    document = json.loads(encode({}, ENVELOPE))
    document["sessionstore"]["stored_at"] = "2026-11-25T06:05:00"
    document["sessionstore"]["expires_at"] = "2026-11-25 07:05:00"
    envelope = decode(json.dumps(document).encode(), "p").envelope
    assert envelope is not None
    assert envelope.stored_at == datetime(2026, 11, 25, 6, 5, tzinfo=timezone.utc)
    assert envelope.expires_at == datetime(2026, 11, 25, 7, 5, tzinfo=timezone.utc)


def test_unknown_envelope_keys_are_ignored_but_unknown_document_keys_are_state() -> None:
    document = json.loads(encode({"a": 1}, ENVELOPE))
    document["sessionstore"]["written_by"] = "a newer sessionstore"
    assert decode(json.dumps(document).encode(), "p").envelope == ENVELOPE
    document["extra"] = True
    # Not exactly {"sessionstore", "state"}: a plain JSON object, loaded whole.
    plain = decode(json.dumps(document).encode(), "p")
    assert plain.envelope is None
    assert plain.state["extra"] is True


def test_malformed_expiry_is_corrupt() -> None:
    document = json.loads(encode({}, ENVELOPE))
    document["sessionstore"]["expires_at"] = "tomorrow"
    with pytest.raises(CorruptSessionError, match="malformed"):
        decode(json.dumps(document).encode(), "s1/state.json")


def _edited(**envelope: Any) -> bytes:
    """A current document whose envelope keys are set (or, given ``None``, removed)."""
    document = json.loads(encode({"a": 1}, ENVELOPE))
    for key, value in envelope.items():
        if value is None:
            del document["sessionstore"][key]
        else:
            document["sessionstore"][key] = value
    return json.dumps(document).encode()


READABLE = [
    encode({"a": [1, {"b": None}]}, ENVELOPE),
    encode({}, msgspec.structs.replace(ENVELOPE, expires_at=ENVELOPE.stored_at)),
    encode({"lone": "\ud800"}, ENVELOPE),
    json.dumps(json.loads(encode({"a": 1}, ENVELOPE)), indent=2).encode(),
    encode({"a": 1}, ENVELOPE).replace(b'"a":1', b'"a":1e999'),
    _edited(stored_at="2026-11-25T06:05:00+00:00", expires_at="2026-11-25T07:05:00Z"),
    _edited(stored_at="2026-11-25T06:05:00"),
    _edited(written_by="a newer sessionstore"),
    json.dumps({"status": "active", "_metadata": {"session_id": "s1"}}).encode(),
    json.dumps({"score": math.inf, "_metadata": {}}).encode(),
    b'{"a": [1, 2]}',
    b'\xef\xbb\xbf{"a": "\xc3\xa9"}',
]
"""Stored session files of every supported shape."""


def _outcome(read: Callable[[bytes, str], object], data: bytes) -> object:
    """What ``read`` returns for ``data``, or the error it raises, as text."""
    try:
        return read(data, "sid/state.json")
    except CorruptSessionError as error:
        return f"CorruptSessionError: {error}"


@pytest.mark.parametrize("data", [*READABLE, *(data for data, _ in CORRUPT)])
def test_decode_envelope_reads_the_envelope_decode_reads(data: bytes) -> None:
    document = _outcome(decode, data)
    expected = document.envelope if isinstance(document, Document) else document
    assert _outcome(decode_envelope, data) == expected


@given(st.dictionaries(st.text(), json_values))
def test_decode_envelope_reads_the_envelope_beside_any_state(state: dict[str, Any]) -> None:
    assert decode_envelope(encode(state, ENVELOPE), "p") == ENVELOPE


def test_decode_envelope_leaves_the_state_strings_unchecked() -> None:
    # Well-formed JSON whose state holds invalid UTF-8: the envelope is still read.
    data = encode({"a": "x"}, ENVELOPE).replace(b'"x"', b'"\xff"')
    with pytest.raises(CorruptSessionError):
        decode(data, "p")
    assert decode_envelope(data, "p") == ENVELOPE


def _peak(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_decode_envelope_does_not_build_the_state() -> None:
    state = {"turns": [{"n": index, "text": "lorem ipsum"} for index in range(20_000)]}
    data = encode(state, ENVELOPE)
    assert _peak(lambda: decode(data, "p")) > len(data)
    assert _peak(lambda: decode_envelope(data, "p")) < len(data) / 20
