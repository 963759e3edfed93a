"""Names are validated before any I/O and can never leave their bucket."""

from __future__ import annotations

import posixpath
import re
import sys
import tracemalloc
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionstore import InvalidSessionIdError, names
from sessionstore.names import (
    _PLAIN_DIRECTORIES,
    _check_name,
    _is_valid,
    key_prefix,
    session_path,
    valid_directory_names,
    validate_bucket,
    validate_name,
    validate_prefix,
)


@pytest.mark.parametrize(
    "name",
    ["abc123", "a", "x" * 255, "é" * 127, "chat 42", "a.b", "a..b", "session-1_2", "🙂", "%2e%2e"],
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        (".", "start with '.'"),
        ("..", "start with '.'"),
        (".hidden", "start with '.'"),
        ("a/b", "'/'"),
        ("a\\b", "'/'"),
        ("../etc", "start with '.'"),
        ("a\x00b", "U+0000"),
        ("a\nb", "U+000A"),
        ("a\x7f", "U+007F"),
        ("a\u2028b", "U+2028"),
        ("\ud800", "surrogate"),
        ("a\ufffeb", "noncharacter U+FFFE"),
        ("a\uffff", "noncharacter U+FFFF"),
        (" padded", "whitespace"),
        ("trailing.", "end with '.'"),
        ("x" * 256, "256 bytes"),
        ("é" * 128, "256 bytes"),
        ("CON", "reserved"),
        ("nul.txt", "reserved"),
        ("Com1", "reserved"),
        ("CONIN$", "reserved"),
        ("conout$.log", "reserved"),
        (42, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_invalid_names_say_why(name: object, why: str) -> None:
    with pytest.raises(InvalidSessionIdError, match=re.escape(why)) as caught:
        validate_name(name)
    assert isinstance(caught.value, ValueError)


@given(st.text(max_size=300), st.text(max_size=300))
def test_no_accepted_pair_leaves_its_session_folder(session_id: str, filename: str) -> None:
    try:
        path = session_path(session_id, filename)
    except InvalidSessionIdError:
        return
    normal = posixpath.normpath(posixpath.join("/bucket", path))
    assert normal == f"/bucket/{session_id}/{filename}"
    assert path.count("/") == 1


def test_prefixes() -> None:
    assert validate_prefix("") == ""
    assert validate_prefix("ab") == "ab"
    for bad in ["a/", "\\", "\x00", "x" * 256]:
        with pytest.raises(InvalidSessionIdError):
            validate_prefix(bad)


@pytest.mark.parametrize("bucket", ["sessions", "my-bucket.v2", "a_b", "abc"])
def test_valid_buckets(bucket: str) -> None:
    assert validate_bucket(bucket) == bucket


@pytest.mark.parametrize(
    "bucket", ["", "ab", "..", "a..b", "Upper", "a/b", "-abc", "x" * 64, None, "abc\n", "abc\n\n"]
)
def test_invalid_buckets(bucket: object) -> None:
    with pytest.raises(InvalidSessionIdError, match="bucket"):
        validate_bucket(bucket)


@given(
    st.text(alphabet=st.sampled_from("abcCONnulLPTcom19._- /\\\x00é¹"), max_size=8)
    | st.from_regex(r"[A-Za-z0-9._-]{250,258}", fullmatch=True)
)
def test_the_fast_path_decides_as_the_full_checks(name: str) -> None:
    """validate_name answers plain ASCII names with one regular expression; it must
    accept and refuse exactly what the full checks do."""
    try:
        _check_name(name, "session id")
    except InvalidSessionIdError:
        with pytest.raises(InvalidSessionIdError):
            validate_name(name)
    else:
        assert validate_name(name) == name


@pytest.fixture(params=["whole page", "per entry"])
def page_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each way valid_directory_names checks a page: one expression over the whole
    page (Python 3.11+), or one test per entry (Python 3.10, no possessive repeat)."""
    if request.param == "whole page" and names._PLAIN_DIRECTORIES is None:
        pytest.skip("Python 3.10 has no possessive repeat: the page is checked per entry")
    with mock.patch.object(
        names,
        "_PLAIN_DIRECTORIES",
        None if request.param == "per entry" else names._PLAIN_DIRECTORIES,
    ):
        yield


_entry_parts = st.text(alphabet=st.sampled_from("abCON19._-/\n\x00é"), max_size=6)


@given(st.lists(_entry_parts | _entry_parts.map(lambda name: f"{name}/"), max_size=8))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # page_check: a patch
def test_directory_names_of_a_page_are_the_valid_names_of_its_directories(
    page_check: None, entries: list[str]
) -> None:
    """The whole-page check must give exactly what testing entry by entry gives,
    whatever a backend returns: files, invalid names, entries holding newlines
    or several slashes (which could fake the page's layout)."""
    expected = [entry[:-1] for entry in entries if entry.endswith("/") and _is_valid(entry[:-1])]
    assert valid_directory_names(entries) == expected


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ((), []),
        (("a/", "b/"), ["a", "b"]),
        (("a/", "file", "b/"), ["a", "b"]),
        (("a/b/",), []),
        (("a/\nb/",), []),
        (("a/", "con/", ".x/", "x./", "b/"), ["a", "b"]),
        (("x" * 255 + "/", "x" * 256 + "/"), ["x" * 255]),
        (("chat 42/", "é/"), ["chat 42", "é"]),
    ],
)
def test_directory_names_of_a_page(
    page_check: None, entries: tuple[str, ...], expected: list[str]
) -> None:
    assert valid_directory_names(entries) == expected


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10 has no possessive repeat: it tests each entry"
)
def test_the_page_check_holds_no_memory_per_entry() -> None:
    """Regression: the page's expression kept a backtracking record per entry, ~30 MB
    at 100,000 ids, more than the listing itself."""
    joined = "".join(f"session-{index:07d}/\n" for index in range(100_000))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        assert _PLAIN_DIRECTORIES is not None
        assert _PLAIN_DIRECTORIES.fullmatch(joined)
        assert tracemalloc.get_traced_memory()[1] - before < 100_000
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", ""), ("/", ""), ("/apps/sessions/", "apps/sessions"), ("é" * 256, "é" * 256)],
)
def test_key_prefix_strips_slashes(value: str, expected: str) -> None:
    assert key_prefix(value, service="S3") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a//b", "empty, '.' or '..' segment"),
        ("a/../b", "empty, '.' or '..' segment"),
        ("./a", "empty, '.' or '..' segment"),
        # 1024 - 2 * (255 + 1) = 512 bytes leave room for the longest id and name.
        ("é" * 256 + "x", "prefix is 513 bytes long in UTF-8; at most 512 leave room under S3's"),
    ],
)
def test_key_prefix_refuses_what_could_escape_or_overflow(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        key_prefix(value, service="S3")
