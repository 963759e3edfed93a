"""Which backend, bucket and options a store uses, resolved from arguments,
environment and URLs, and the one cattrs converter that types them.

Precedence: explicit arguments > ``SESSIONSTORE_URL`` (or ``SESSIONSTORE_BACKEND``,
``SESSIONSTORE_BUCKET``) > the ``file`` backend and the ``sessions`` bucket.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs
import cattrs

from sessionstore.errors import ConfigurationError

DEFAULT_BACKEND = "file"
DEFAULT_SESSION_BUCKET = "sessions"

ENV_URL = "SESSIONSTORE_URL"
ENV_BACKEND = "SESSIONSTORE_BACKEND"
ENV_BUCKET = "SESSIONSTORE_BUCKET"

URL_SCHEME_ALIASES = {"gs": "gcs", "az": "azure", "abfs": "azure"}
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


converter = cattrs.Converter(forbid_extra_keys=True)
"""Structures settings and backend options, converting URL strings to typed fields."""
converter.register_structure_hook(bool, _structure_bool)


@attrs.frozen
class StoreSettings:
    """Everything needed to open a store: backend name, bucket and backend options."""

    backend: str = DEFAULT_BACKEND
    bucket: str = DEFAULT_SESSION_BUCKET
    options: Mapping[str, Any] = attrs.field(factory=dict)


def parse_url(url: str) -> StoreSettings:
    """Read a store URL: ``<backend>://[bucket][/path][?option=value&...]``.

    The scheme names the backend (``gs`` and ``az`` are aliases of ``gcs`` and
    ``azure``). With a host part, it is the bucket and the path becomes the
    ``prefix`` option (``s3://bucket/prefix``); without one, the path becomes the
    ``root`` option (``file:///var/lib/app/sessions``). Query parameters are
    backend options; ``bucket`` among them sets the bucket.
    """
    backend, bucket, options = _read_url(url)
    return StoreSettings(backend=backend, bucket=bucket or DEFAULT_SESSION_BUCKET, options=options)


def _read_url(url: str) -> tuple[str, str | None, dict[str, Any]]:
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ConfigurationError(f"invalid store URL {url!r}: {error}") from error
    if not parts.scheme:
        raise ConfigurationError(
            f"invalid store URL {url!r}: it needs a scheme naming the backend, "
            "e.g. file:///var/lib/app/sessions or memory://"
        )
    options: dict[str, Any] = {}
    bucket = unquote(parts.netloc) or None
    path = unquote(parts.path)
    if bucket is not None:
        if path.strip("/"):
            options["prefix"] = path.strip("/")
    elif path:
        options["root"] = path
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "bucket":
            bucket = value
        else:
            options[key] = value
    return URL_SCHEME_ALIASES.get(parts.scheme, parts.scheme), bucket, options


def resolve_settings(
    backend: str | None = None,
    bucket: str | None = None,
    options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> StoreSettings:
    """Combine explicit arguments with the environment.

    An explicit ``backend`` ignores ``SESSIONSTORE_URL`` unless the URL names the
    same backend, in which case the URL's bucket and options are the defaults.
    """
    env = os.environ if environ is None else environ
    url = _read_url(env[ENV_URL]) if env.get(ENV_URL) else None
    if backend is None:
        backend = url[0] if url else env.get(ENV_BACKEND) or DEFAULT_BACKEND
    url_bucket, url_options = (url[1], url[2]) if url and url[0] == backend else (None, {})
    return StoreSettings(
        backend=backend,
        bucket=bucket
        if bucket is not None
        else url_bucket or env.get(ENV_BUCKET) or DEFAULT_SESSION_BUCKET,
        options={**url_options, **(options or {})},
    )
