"""Which backend, bucket and options a store gets: arguments > environment > defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from sessionstore import BackendNotFoundError, ConfigurationError, SessionStore, StoreSettings
from sessionstore.backend_options import build_backend
from sessionstore.settings import (
    check_http_url,
    converter,
    parse_url,
    reaches_beyond_last_time,
    resolve_settings,
    to_path,
    ttl_seconds,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "file:///var/lib/app/sessions",
            StoreSettings("file", "sessions", {"root": "/var/lib/app/sessions"}),
        ),
        ("file:///srv/x?bucket=chats", StoreSettings("file", "chats", {"root": "/srv/x"})),
        ("file:///with%20space", StoreSettings("file", "sessions", {"root": "/with space"})),
        ("memory://", StoreSettings("memory", "sessions", {})),
        ("memory://?bucket=tmp", StoreSettings("memory", "tmp", {})),
        (
            "s3://bkt/some/prefix?endpoint_url=http://127.0.0.1:9000",
            StoreSettings(
                "s3", "bkt", {"prefix": "some/prefix", "endpoint_url": "http://127.0.0.1:9000"}
            ),
        ),
        ("gs://bkt", StoreSettings("gcs", "bkt", {})),
        ("az://container/p", StoreSettings("azure", "container", {"prefix": "p"})),
    ],
)
def test_parse_url(url: str, expected: StoreSettings) -> None:
    assert parse_url(url) == expected


def test_url_query_values_are_percent_decoded_and_keep_their_plus_signs() -> None:
    """An S3 secret or an Azure key (base64) holds "+": form decoding turned it into
    a space, and the credentials failed at the first request."""
    url = "s3://bkt?secret=wJal/K7MD+bPx%2BR%3D&token=&flag&a%20b=c%26d"
    assert parse_url(url).options == {
        "secret": "wJal/K7MD+bPx+R=",
        "token": "",
        "flag": "",
        "a b": "c&d",
    }


def test_url_without_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="needs a scheme"):
        parse_url("/var/lib/app")


@pytest.mark.parametrize("url", [None, b"memory://", 5])
def test_a_url_that_is_not_a_string_is_a_type_error_saying_so(url: object) -> None:
    with pytest.raises(TypeError, match="a store URL must be a string, got"):
        parse_url(url)  # type: ignore[arg-type]


def test_defaults() -> None:
    assert resolve_settings(environ={}) == StoreSettings("file", "sessions", {})


def test_environment_backend_and_bucket() -> None:
    env = {"SESSIONSTORE_BACKEND": "memory", "SESSIONSTORE_BUCKET": "chats"}
    assert resolve_settings(environ=env) == StoreSettings("memory", "chats", {})


def test_environment_url_wins_over_environment_backend() -> None:
    env = {"SESSIONSTORE_URL": "file:///data?bucket=b1", "SESSIONSTORE_BACKEND": "memory"}
    assert resolve_settings(environ=env) == StoreSettings("file", "b1", {"root": "/data"})


def test_explicit_arguments_win() -> None:
    env = {"SESSIONSTORE_URL": "file:///data?bucket=b1"}
    # Same backend: the URL's options are defaults under the explicit ones.
    assert resolve_settings("file", None, {"root": "/other"}, environ=env) == StoreSettings(
        "file", "b1", {"root": "/other"}
    )
    # Another backend: the URL is not about it and is ignored.
    assert resolve_settings("memory", "b2", environ=env) == StoreSettings("memory", "b2", {})


def test_converter_reads_booleans_from_url_strings() -> None:
    assert converter.structure("false", bool) is False
    assert converter.structure("Yes", bool) is True
    with pytest.raises(ValueError, match="expected a boolean"):
        converter.structure("maybe", bool)


def test_default_ttl_is_not_a_backend_option() -> None:
    assert parse_url("memory://?default_ttl=60&x=1") == StoreSettings(
        "memory", "sessions", {"x": "1"}, default_ttl=60
    )
    env = {"SESSIONSTORE_URL": "memory://?default_ttl=60", "SESSIONSTORE_DEFAULT_TTL": "5"}
    assert resolve_settings(environ=env).default_ttl == 60
    assert resolve_settings("file", environ=env).default_ttl == 5
    assert resolve_settings("file", default_ttl=1.5, environ=env).default_ttl == 1.5
    assert resolve_settings(environ={}).default_ttl is None


def test_settings_repr_shows_option_names_not_values() -> None:
    """Options may hold credentials; repr(store.settings) showed them (found by the
    reliability campaign)."""
    settings = parse_url("s3://bucket?key=AKIAEXAMPLE&secret=TOP-SECRET-VALUE")
    assert repr(settings) == (
        "StoreSettings(backend='s3', bucket='bucket', "
        "options={'key': ..., 'secret': ...}, default_ttl=None)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "s3://bucket?secret=TOP-SECRET-VALUE&default_ttl=soon",
        "az://container?sas_token=TOP-SECRET-VALUE&default_ttl=-1",
        "http://[broken?secret=TOP-SECRET-VALUE",
        "s3://user:TOP-SECRET-VALUE@[broken/",
        "s3://user:TOP-SECRET-VALUE@bucket/prefix",  # its "bucket" was quoted whole
    ],
)
def test_url_errors_mask_query_values_and_passwords(url: str) -> None:
    """A store URL may carry credentials: messages quote it with values masked."""
    with pytest.raises(ConfigurationError) as caught:
        parse_url(url)
    assert "TOP-SECRET-VALUE" not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_url_with_a_user_or_account_part_says_where_it_goes() -> None:
    """``abfs://container@account.dfs.core.windows.net`` (adlfs's form) was read as
    the bucket ``container@account...`` and refused as an invalid bucket name."""
    with pytest.raises(ConfigurationError) as caught:
        parse_url("abfs://container@myaccount.dfs.core.windows.net/apps")
    assert "write abfs://container/apps?account_name=myaccount (" in str(caught.value)


def test_a_user_part_on_another_backend_gets_no_azure_advice() -> None:
    """Every ``user@`` URL was told the abfs-to-azure rewrite, s3 ones included."""
    with pytest.raises(ConfigurationError) as caught:
        parse_url("s3://user:pw@bucket/prefix")
    message = str(caught.value)
    assert "host part is the bucket alone" in message
    assert "s3://bucket/prefix?option=value" in message
    assert "azure" not in message
    assert "account" not in message


@pytest.mark.parametrize(
    ("url", "quoted"),
    [
        ("s3://TOKEN-AS-USER@bucket/prefix", "'s3://***@bucket/prefix'"),
        ("s3://user:TOP-SECRET@bucket/prefix", "'s3://user:***@bucket/prefix'"),
    ],
)
def test_a_user_part_alone_is_masked_whole_not_given_a_password(url: str, quoted: str) -> None:
    """A lone user part was quoted as ``TOKEN-AS-USER:***``: shown, and with a
    password it never had."""
    with pytest.raises(ConfigurationError) as caught:
        parse_url(url)
    assert quoted in str(caught.value)


def test_abfss_is_an_alias_of_azure() -> None:
    """adlfs and Spark write the TLS form ``abfss://``; it named no backend."""
    assert parse_url("abfss://container/apps?account_name=a").backend == "azure"


@pytest.mark.parametrize(
    "value",
    ["localhost:9000", "ftp://localhost:9000", "http://:9000", "https:///path", "http://user:pw@"],
)
def test_check_http_url_refuses_what_is_no_http_url_with_a_host(value: str) -> None:
    """A backend's endpoint option is checked when the store is built, without
    quoting it (it may carry credentials)."""
    with pytest.raises(ValueError, match="endpoint_url must be an http://") as caught:
        check_http_url(value, option="endpoint_url", example="http://127.0.0.1:9000")
    assert value not in str(caught.value)
    assert "http://127.0.0.1:9000" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("http://minio:hunter2@127.0.0.1:9000", "without a user or password"),
        ("http://token@127.0.0.1:9000/", "without a user or password"),
        ("https://acct.blob.core.windows.net/?sv=2024&sig=hunter2", "without a query"),
        ("http://127.0.0.1:9000/?", "without a query"),
        ("http://127.0.0.1:4443/#hunter2", "without a fragment"),
        ("http://u:hunter2@127.0.0.1:9000/?sig=x", "without a user or password or a query"),
    ],
)
def test_check_http_url_refuses_credentials_queries_and_fragments(value: str, named: str) -> None:
    """Credentials are options of their own; a query or fragment would break every
    request (botocore refuses a query only at the first one)."""
    with pytest.raises(ValueError, match="must be a plain endpoint") as caught:
        check_http_url(value, option="endpoint_url", example="http://127.0.0.1:9000")
    assert named in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "value", ["http://127.0.0.1:9000", "https://storage.example.com/base/", "http://[::1]:10000/a"]
)
def test_check_http_url_accepts_http_urls(value: str) -> None:
    check_http_url(value, option="endpoint_url", example="http://127.0.0.1:9000")


@attrs.define
class _PathOptions:
    path: Path
    maybe: Path | None = None


def test_path_options_are_typed_and_checked_by_the_shared_converter() -> None:
    """Every backend's ``Path`` option, not only the file backend's root: empty
    (``Path("")`` is the working directory) or with a NUL byte, it is refused when
    the store is built instead of failing at the first operation."""
    built = converter.structure({"path": "/var/lib/app.db", "maybe": "rel"}, _PathOptions)
    assert built == _PathOptions(Path("/var/lib/app.db"), Path("rel"))
    for bad, message in [("", "the path is empty"), ("a\0b", "the path holds a NUL byte")]:
        with pytest.raises(ValueError, match=message):
            to_path(bad)
        for options in ({"path": bad}, {"path": "ok", "maybe": bad}):
            with pytest.raises(ConfigurationError, match=f"backend 'x': {message}"):
                build_backend(_PathOptions, "x", options)
    with pytest.raises(TypeError, match="got bytes"):
        to_path(b"/tmp")  # type: ignore[arg-type]


def test_an_explicit_backend_does_not_read_a_url_naming_another() -> None:
    """The docs say such a URL is ignored, but it was parsed first: a flaw in it (an
    s3 URL for another program, its default_ttl bad) refused the explicit store."""
    environ = {"SESSIONSTORE_URL": "s3://bkt?default_ttl=abc"}
    assert resolve_settings(backend="memory", environ=environ).backend == "memory"
    for backend in ("s3", None):  # the URL's own backend, or none chosen: it is read
        with pytest.raises(ConfigurationError, match="default_ttl"):
            resolve_settings(backend=backend, environ=environ)
    with pytest.raises(ConfigurationError, match="needs a scheme"):  # names no backend
        resolve_settings(backend="memory", environ={"SESSIONSTORE_URL": "bkt/prefix"})
    gcs = resolve_settings(backend="gcs", environ={"SESSIONSTORE_URL": "gs://ok/p?default_ttl=5"})
    assert (gcs.bucket, gcs.default_ttl) == ("ok", 5.0)


@pytest.mark.parametrize(
    ("backend", "url"),
    [("MEMORY", "memory://?bucket=chats"), ("S3", "s3://chats"), ("GCS", "GS://chats")],
)
def test_an_explicit_backend_in_another_case_uses_the_url_naming_it(backend: str, url: str) -> None:
    """Backend names are read in any case, but ``backend="MEMORY"`` was compared with
    the URL's ``memory`` as given: the URL's bucket, options and TTL were dropped."""
    environ = {"SESSIONSTORE_URL": f"{url}{'&' if '?' in url else '?'}default_ttl=5&x=1"}
    settings = resolve_settings(backend=backend, environ=environ)
    assert (settings.bucket, settings.options, settings.default_ttl) == ("chats", {"x": "1"}, 5.0)


def test_a_backend_that_is_no_string_is_refused_as_such_with_a_url_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SESSIONSTORE_URL", "memory://?bucket=chats")
    with pytest.raises(TypeError, match="backend must be a str"):  # not an AttributeError
        SessionStore(backend=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["nosuch://x", "nosuch://"])
def test_an_unknown_backend_is_named_before_its_bucket(url: str) -> None:
    """``nosuch://x`` said the bucket 'x' was too short: true, but not the problem."""
    with pytest.raises(BackendNotFoundError, match="no sessionstore backend named 'nosuch'"):
        SessionStore.from_url(url)


def test_a_url_without_scheme_gives_an_example_whose_path_is_the_root() -> None:
    """Not file:///var/lib/app/sessions, whose files land in .../sessions/sessions/
    (that path is the root; the bucket, "sessions" by default, is a folder in it)."""
    with pytest.raises(ConfigurationError) as caught:
        parse_url("/var/lib/app")
    assert "e.g. file:///var/lib/app or memory://" in str(caught.value)


@pytest.mark.parametrize(
    ("ttl", "shown"),
    [
        (timedelta(days=3_000_000), "3000000 days"),
        (timedelta(days=3_000_000, seconds=1), "259200000001 seconds"),
        (10**12, "1000000000000 seconds"),
        (1e300, "1e+300 seconds"),
    ],
)
def test_a_ttl_past_the_year_9999_is_shown_in_plain_units(ttl: Any, shown: str) -> None:
    """Not "a ttl of datetime.timedelta(days=3000000)", and a plain ValueError: the
    private _BeyondLastTime showed in users' tracebacks."""
    with pytest.raises(ValueError, match="beyond the year 9999") as caught:
        ttl_seconds(ttl)
    assert str(caught.value) == f"a ttl of {shown} reaches beyond the year 9999"
    assert type(caught.value) is ValueError


@pytest.mark.parametrize(
    ("ttl", "shown"),
    [(timedelta(seconds=-1), "-1 seconds"), (timedelta(0), "0 seconds"), ("5", "'5'")],
)
def test_a_ttl_too_short_is_shown_in_plain_units(ttl: Any, shown: str) -> None:
    with pytest.raises(ValueError, match=f"microsecond, got {shown}$"):
        ttl_seconds(ttl)


def test_reaches_beyond_last_time_tells_the_one_refusal_of_a_positive_ttl() -> None:
    assert reaches_beyond_last_time(1e300)
    assert reaches_beyond_last_time(timedelta(days=3_000_000).total_seconds())
    assert not reaches_beyond_last_time(86400 * 365 * 100)
    assert ttl_seconds(86400 * 365 * 100) == 86400 * 365 * 100
