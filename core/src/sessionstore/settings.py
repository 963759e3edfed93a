"""Which backend, bucket and options a store uses, resolved from arguments,
environment and URLs, and the one cattrs converter that types them.

Precedence: explicit arguments > ``SESSIONSTORE_URL`` (or ``SESSIONSTORE_BACKEND``,
``SESSIONSTORE_BUCKET``, ``SESSIONSTORE_DEFAULT_TTL``) > the ``file`` backend, the
``sessions`` bucket and no expiry.
"""

from __future__ import annotations

import math
import os
import re
import reprlib
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import attrs
import cattrs

from sessionstore import clock
from sessionstore.errors import ConfigurationError

DEFAULT_BACKEND = "file"
DEFAULT_SESSION_BUCKET = "sessions"

ENV_URL = "SESSIONSTORE_URL"
ENV_BACKEND = "SESSIONSTORE_BACKEND"
ENV_BUCKET = "SESSIONSTORE_BUCKET"
ENV_DEFAULT_TTL = "SESSIONSTORE_DEFAULT_TTL"
DEFAULT_TTL_OPTION = "default_ttl"
"""The URL query parameter that sets the store's default TTL; never a backend option."""

URL_SCHEME_ALIASES = {"gs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}
"""URL schemes that name a backend by another name, as their clouds' tools do."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _structure_bool(value: Any, _type: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"expected a boolean (true/false, yes/no, 1/0), got {value!r}")


def to_path(value: str | os.PathLike[str]) -> Path:
    """A path option as a :class:`~pathlib.Path`, refused with :class:`ValueError`
    when the store is built if it is empty or holds a NUL byte. ``Path("")`` is the
    working directory, which an empty setting (``root=``) hardly ever means; a NUL
    byte failed only at the first operation, as storage being unavailable."""
    text = os.fspath(value)
    if not isinstance(text, str):
        raise TypeError(f"expected a path as str or os.PathLike, got {type(value).__name__}")
    if not text:
        raise ValueError("the path is empty (for the working directory, give '.')")
    if "\0" in text:
        raise ValueError("the path holds a NUL byte, which no file system takes")
    return Path(text)


converter = cattrs.Converter(forbid_extra_keys=True)
"""Structures settings and backend options, converting URL strings to typed fields."""
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(Path, lambda value, _type: to_path(value))


MIN_TTL = 1e-6
"""The shortest TTL, in seconds: one microsecond, the resolution of stored times."""


def ttl_seconds(ttl: timedelta | float | int) -> float:
    """A time-to-live in seconds, from seconds or a :class:`~datetime.timedelta`.

    Raises :class:`ValueError` unless it is a finite number of at least one
    microsecond (the resolution of stored times): a shorter, zero or negative TTL
    would write a file that is already gone. So is one reaching past the year 9999,
    which no stored time can hold (:func:`reaches_beyond_last_time` tells which).
    """
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        try:
            seconds = float(seconds)
        except OverflowError:  # no float holds it (math.isfinite would raise this)
            if seconds > 0:
                raise _beyond_last_time(ttl) from None
            seconds = -math.inf  # refused below, as any ttl under a microsecond
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds < MIN_TTL
    ):
        raise ValueError(
            f"a ttl must be a finite number of seconds (or a timedelta) of at least one "
            f"microsecond, got {_shown(ttl)}"
        )
    # Refused here, not at every write: a default TTL would otherwise build a store
    # whose every write fails.
    if reaches_beyond_last_time(seconds):
        raise _beyond_last_time(ttl)
    return float(seconds)


_LAST_TIME = datetime.max.replace(tzinfo=timezone.utc)
"""The last time a file can be stamped with: no expiry can reach past it."""


def reaches_beyond_last_time(seconds: float) -> bool:
    """Whether a ttl of ``seconds`` from now ends after the year 9999, the last time
    a file can be stamped with: the one reason :func:`ttl_seconds` refuses a
    finite, positive ttl. For callers that word that refusal their own way (a
    command-line option, a setting), rather than recognising the error."""
    return seconds > (_LAST_TIME - clock.now()).total_seconds()


def _beyond_last_time(ttl: object) -> ValueError:
    # A plain ValueError: callers that must tell this case apart ask
    # reaches_beyond_last_time, so no private class shows in users' tracebacks.
    return ValueError(f"a ttl of {_shown(ttl)} reaches beyond the year 9999")


def _shown(ttl: object) -> str:
    """``ttl`` for a message, in the units it was given: ``3000000 days`` or
    ``90.5 seconds`` for a timedelta (not its repr), ``1e+300 seconds`` for a
    number (an integer of 400 digits cut short); anything else as its repr."""
    if isinstance(ttl, timedelta):
        if ttl.days > 0 and not ttl.seconds and not ttl.microseconds:
            return f"{ttl.days} day{'s' * (ttl.days != 1)}"
        total = ttl.total_seconds()
        return f"{int(total) if total.is_integer() else total} seconds"
    if isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        number = reprlib.repr(ttl) if isinstance(ttl, int) else repr(ttl)
        return f"{number} seconds"
    return repr(ttl)


def _option_names(options: Mapping[str, Any]) -> str:
    # Options may hold credentials (secret, account_key, sas_token...): names only.
    return "{" + ", ".join(f"{name!r}: ..." for name in options) + "}"


def check_http_url(value: str, *, option: str, example: str) -> None:
    """Raise :class:`ValueError` unless ``value`` is an ``http://`` or ``https://``
    URL with a host: for a backend's endpoint option, checked when the store is
    built. HTTP clients take anything else too and fail only at the first request,
    after every retry, as "storage unavailable" (or, given ``host:port``, add
    ``https://`` and speak TLS to a plain-HTTP emulator). A user, password, query
    or fragment is refused too: no backend authenticates with them (credentials
    are options of their own), botocore rejects a query only at the first request,
    and a fragment ends up inside every request path. The value is not quoted: a
    URL may carry credentials."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{option} must be an http:// or https:// URL with a host, such as {example} "
            "(value not shown: a URL may carry credentials)"
        )
    extras = [
        name
        for name, given in [
            ("a user or password", "@" in parts.netloc),
            ("a query", bool(parts.query) or value.rstrip().endswith("?")),
            ("a fragment", "#" in value),
        ]
        if given
    ]
    if extras:
        raise ValueError(
            f"{option} must be a plain endpoint such as {example}, without "
            f"{' or '.join(extras)}: give credentials in the backend's own options "
            "(value not shown: it may carry credentials)"
        )


def redact_url(url: str) -> str:
    """``url`` with its query values and any password masked, for messages: a
    store URL may carry credentials (``?secret=...``, ``?sas_token=...``)."""
    query = url.find("?")
    head, tail = (url, "") if query < 0 else (url[:query], url[query + 1 :])
    scheme, sep, rest = head.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        user, _, host = rest.rpartition("@")
        name, colon, _password = user.partition(":")
        # A user part alone may be a token: masked whole, never shown as user:***.
        head = f"{scheme}://{name}:***@{host}" if colon else f"{scheme}://***@{host}"
    if not tail:
        return head if query < 0 else head + "?"
    masked = "&".join(
        f"{part.partition('=')[0]}=***" if "=" in part else part for part in tail.split("&")
    )
    return f"{head}?{masked}"


@attrs.frozen
class StoreSettings:
    """Everything needed to open a store: backend name, bucket, backend options and
    the TTL in seconds of writes that give none (``None``: they never expire).
    ``repr`` shows the options' names, never their values."""

    backend: str = DEFAULT_BACKEND
    bucket: str = DEFAULT_SESSION_BUCKET
    options: Mapping[str, Any] = attrs.field(factory=dict, repr=_option_names)
    default_ttl: float | None = None


def configured_ttl(value: str, source: str) -> float:
    """A TTL read from text (environment, URL, a command-line option), in seconds;
    refused with a ConfigurationError naming ``source``."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan  # not a number: refused below as any other bad ttl
    try:
        return ttl_seconds(seconds)
    except ValueError:
        beyond = math.isfinite(seconds) and reaches_beyond_last_time(seconds)
        raise ConfigurationError(
            f"{source} must be a number of seconds > 0"
            f"{' ending before the year 10000' if beyond else ''}, got {value!r}"
        ) from None


def parse_url(url: str) -> StoreSettings:
    """Read a store URL: ``<backend>://[bucket][/path][?option=value&...]``.

    The scheme names the backend (``gs`` and ``az`` are aliases of ``gcs`` and
    ``azure``). With a host part, it is the bucket and the path becomes the
    ``prefix`` option (``s3://bucket/prefix``); without one, the path becomes the
    ``root`` option (``file:///var/lib/app/sessions``). Query parameters are
    backend options; ``bucket`` among them sets the bucket, ``default_ttl`` the
    store's default TTL in seconds.
    """
    backend, bucket, options, default_ttl = _read_url(url)
    return StoreSettings(
        backend=backend,
        bucket=bucket or DEFAULT_SESSION_BUCKET,
        options=options,
        default_ttl=default_ttl,
    )


def _url_backend(url: str) -> str | None:
    """The backend a URL names by its scheme (``None``: it names none, or does not parse)."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        return None
    return URL_SCHEME_ALIASES.get(scheme, scheme) or None


def _read_url(url: str) -> tuple[str, str | None, dict[str, Any], float | None]:
    if not isinstance(url, str):
        # urlsplit's own errors for these: None has no attribute 'find', and bytes
        # "a bytes-like object is required, not 'str'".
        raise TypeError(f"a store URL must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ConfigurationError(f"invalid store URL {redact_url(url)!r}: {error}") from error
    if not parts.scheme:
        raise ConfigurationError(
            f"invalid store URL {redact_url(url)!r}: it needs a scheme naming the backend, "
            "e.g. file:///var/lib/app or memory://"
        )
    if "@" in parts.netloc:
        # user:password@bucket, or abfs's container@account.dfs.core.windows.net:
        # taken as the bucket, the password ended up in the "invalid bucket" error.
        raise _user_part_error(url, parts)
    options: dict[str, Any] = {}
    bucket = unquote(parts.netloc) or None
    path = unquote(parts.path)
    if bucket is not None:
        if path.strip("/"):
            options["prefix"] = path.strip("/")
    elif path:
        options["root"] = path
    for key, value in _query(parts.query):
        if key == "bucket":
            bucket = value
        else:
            options[key] = value
    ttl = options.pop(DEFAULT_TTL_OPTION, None)
    default_ttl = (
        None if ttl is None else configured_ttl(ttl, f"{DEFAULT_TTL_OPTION} in {redact_url(url)!r}")
    )
    return URL_SCHEME_ALIASES.get(parts.scheme, parts.scheme), bucket, options, default_ttl


def _query(query: str) -> list[tuple[str, str]]:
    """The ``name=value`` pairs of a URL's query, percent-decoded. Not
    ``parse_qsl``: it decodes as an HTML form does, turning ``+`` into a space,
    which broke the S3 secrets and Azure keys (base64) that hold a ``+``."""
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


_AZURE_ACCOUNT_HOST = re.compile(r"([a-z0-9]{3,24})\.(?:dfs|blob)\.core\.windows\.net")
"""The public cloud's host of a storage account, by its Data Lake or Blob name."""


def _user_part_error(url: str, parts: SplitResult) -> ConfigurationError:
    """The error for a URL with ``user@`` before its host: the host part is the
    bucket alone. For adlfs's ``abfs[s]://container@account.dfs.core.windows.net/path``
    it gives the same store in sessionstore's form, from the URL's own parts."""
    problem = f"invalid store URL {redact_url(url)!r}"
    if URL_SCHEME_ALIASES.get(parts.scheme, parts.scheme) != "azure" or parts.password:
        return ConfigurationError(
            f"{problem}: the host part is the bucket alone; give credentials as options "
            f"(query parameters), e.g. {parts.scheme}://bucket/prefix?option=value"
        )
    host = parts.hostname or ""
    path = parts.path.rstrip("/")
    public = _AZURE_ACCOUNT_HOST.fullmatch(host)
    if public:
        account = f"account_name={public.group(1)}"
    elif ".dfs." in host or ".blob." in host:  # another cloud, or a private endpoint
        account = f"endpoint_url=https://{host.replace('.dfs.', '.blob.', 1)}"
    else:  # an emulator's path names the account: no guess at the prefix
        account, path = "endpoint_url=<the account's blob endpoint URL>", "/prefix"
    more = "&<your other options>" if parts.query else ""
    return ConfigurationError(
        f"{problem}: write {parts.scheme}://{unquote(parts.username or '')}{path}?{account}"
        f"{more} (the container@account form is not taken: the host part is the "
        "container alone, the account an option)"
    )


def resolve_settings(
    backend: str | None = None,
    bucket: str | None = None,
    options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    default_ttl: timedelta | float | None = None,
) -> StoreSettings:
    """Combine explicit arguments with the environment.

    An explicit ``backend`` ignores ``SESSIONSTORE_URL`` unless the URL names the
    same backend, in which case the URL's bucket, options and default TTL are the
    defaults.
    """
    env = os.environ if environ is None else environ
    raw_url = env.get(ENV_URL)
    # Not even read when it names another backend: a flaw in it is not this store's.
    # Names compare in any case, as backends are found (backend="S3" is s3://).
    url_backend = _url_backend(raw_url) if raw_url else None
    url = (
        _read_url(raw_url)
        if raw_url
        and (backend is None or url_backend is None or _same_backend(url_backend, backend))
        else None
    )
    if backend is None:
        backend = url[0] if url else env.get(ENV_BACKEND) or DEFAULT_BACKEND
    url_bucket, url_options, url_ttl = (
        (url[1], url[2], url[3]) if url and _same_backend(url[0], backend) else (None, {}, None)
    )
    return StoreSettings(
        backend=backend,
        bucket=bucket
        if bucket is not None
        else url_bucket or env.get(ENV_BUCKET) or DEFAULT_SESSION_BUCKET,
        options={**url_options, **(options or {})},
        default_ttl=ttl_seconds(default_ttl)
        if default_ttl is not None
        else url_ttl or _environment_ttl(env),
    )


def _same_backend(name: str, other: object) -> bool:
    """Whether two backend names name the same backend: they are read in any case.
    A ``backend`` that is no string names none, and is refused by the registry with
    a :class:`TypeError` saying so, not here with an ``AttributeError``."""
    return isinstance(other, str) and name.lower() == other.lower()


def _environment_ttl(env: Mapping[str, str]) -> float | None:
    value = env.get(ENV_DEFAULT_TTL)
    return configured_ttl(value, ENV_DEFAULT_TTL) if value else None
