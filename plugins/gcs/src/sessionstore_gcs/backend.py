"""The hook implementations of the gcs backend.

Each hook makes one thread hop (``run_blocking``); in that thread, one blocking
call runs the whole operation as a coroutine on fsspec's event-loop thread, where
gcsfs keeps its aiohttp session (see :mod:`sessionstore_gcs.transport`). The
application's own loop, asyncio or trio, never touches that session.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import attrs

from sessionstore.clients import SharedClient
from sessionstore.errors import ConflictError
from sessionstore.hookspecs import hookimpl
from sessionstore.names import key_prefix
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.settings import check_http_url, redact_url
from sessionstore.threads import run_blocking
from sessionstore_gcs import api
from sessionstore_gcs.transport import Transport, import_gcsfs

T = TypeVar("T")

TOKEN_METHODS = ("anon", "google_default", "cloud")
"""``token`` values naming a gcsfs authentication method rather than a key file."""

_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$"
)


def _normalize_prefix(value: str) -> str:
    return key_prefix(value, service="Cloud Storage")


def _strip_url(value: str | None) -> str | None:
    return None if value is None else str(value).rstrip("/")


def _endpoint(_instance: object, _attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        check_http_url(value, option="endpoint_url", example="http://127.0.0.1:4443")


SERVICE_ACCOUNT_FIELDS = ("client_email", "token_uri", "private_key")
"""The fields of a service-account key that google-auth needs."""

AUTHORIZED_USER_FIELDS = ("refresh_token", "client_id", "client_secret")
"""The fields of authorized-user credentials that gcsfs reads."""


def _key_problem(key: Mapping[str, Any]) -> str | None:
    """What is wrong with a key (a dict, or a JSON key file's content) as gcsfs
    reads it, naming fields but never their values; ``None`` if nothing.

    gcsfs reads a key that is not a valid service-account key as authorized-user
    credentials without saying why, so a bad ``private_key`` surfaced at the first
    operation as ``KeyError: 'refresh_token'``.
    """
    kind = key.get("type")
    shown = repr(kind) if isinstance(kind, str) and len(kind) <= 40 else "another type"
    if kind == "service_account" or (kind is None and "private_key" in key):
        missing = [field for field in SERVICE_ACCOUNT_FIELDS if not key.get(field)]
        if missing:
            return f"a service-account key lacks {', '.join(missing)}"
        wrong = [field for field in SERVICE_ACCOUNT_FIELDS if not isinstance(key[field], str)]
        if wrong:
            return f"in a service-account key, {', '.join(wrong)} must be strings"
        from google.auth import crypt

        try:
            crypt.RSASigner.from_service_account_info(key)  # type: ignore[no-untyped-call]
        except Exception as error:  # the value may be in the message: never shown
            return (
                "the service-account key's private_key is not a PEM-encoded RSA private "
                f"key ({type(error).__name__})"
            )
        from google.oauth2 import service_account

        try:
            service_account.Credentials.from_service_account_info(dict(key))  # type: ignore[no-untyped-call]
        except Exception as error:
            return f"the service-account key is not valid ({type(error).__name__})"
        return None
    if kind in (None, "authorized_user"):
        missing = [field for field in AUTHORIZED_USER_FIELDS if not key.get(field)]
        if missing:
            what = "authorized-user credentials lack" if kind else "a key dict without a type lacks"
            return f"{what} {', '.join(missing)}"
        return None
    return (
        f"gcsfs reads keys of type 'service_account' or 'authorized_user', not {shown}: "
        "load it with google.auth.load_credentials_from_dict (or _from_file) and pass "
        "the credentials as token"
    )


def _check_token(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    # Never echo the value: a mistaken raw token would end up in logs.
    if value is None or hasattr(value, "before_request"):
        return
    if isinstance(value, Mapping):
        problem = _key_problem(value)
        if problem:
            raise ValueError(f"token: {problem}")
        return
    if isinstance(value, str) and value in TOKEN_METHODS:
        return
    if isinstance(value, str) and os.path.isfile(value):
        try:
            with open(value, encoding="utf-8") as file:
                key = json.load(file)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"token: the key file {value!r} cannot be read as JSON ({type(error).__name__})"
            ) from None
        problem = _key_problem(key) if isinstance(key, dict) else "it is not a JSON object"
        if problem:
            raise ValueError(f"token: in the key file {value!r}, {problem}")
        return
    raise ValueError(
        "token must be unset (the default credential chain), one of "
        f"{', '.join(TOKEN_METHODS)}, the path of an existing JSON key file, a dict "
        "holding such a key, or a google.auth Credentials object (value not shown: "
        "it may be a secret)"
    )


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _timestamp(text: str) -> datetime:
    """An aware datetime from an RFC 3339 time as GCS writes it (any fraction length)."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz
    )


def _info(path: str, resource: Mapping[str, Any]) -> ObjectInfo:
    """The info of an object resource, its times cut to whole seconds: a download
    knows only the ``Last-Modified`` header (whole seconds), and a load and a stat
    of the same generation must report the same times."""
    modified = _timestamp(resource["updated"]).replace(microsecond=0)
    created = _timestamp(resource.get("timeCreated") or resource["updated"]).replace(microsecond=0)
    return ObjectInfo(
        path=path,
        size=int(resource["size"]),
        modified=modified,
        created=min(created, modified),
        version=str(resource["generation"]),
    )


def _generation(token: str) -> int | None:
    """The generation a version token names, or ``None`` if it cannot be one."""
    return int(token) if token.isascii() and token.isdigit() and len(token) <= 19 else None


def _hidden(entry: str) -> bool:
    return entry.rstrip("/").rpartition("/")[2].startswith(".")


def _close_transport(transport: Transport) -> None:
    """Close the transport's HTTP session and its connections (blocking)."""
    transport.run(transport.close, cancellable=False)


@attrs.define(eq=False)
class GCSBackend:
    """Stores each object as ``gs://<bucket>/<prefix>/<path>``, through gcsfs.

    :param prefix: key prefix inside the bucket (the path part of a ``gs://`` URL).
    :param project: the Google Cloud project; needed only to create the bucket.
        Default: the project of the default credentials, or ``GCSFS_DEFAULT_PROJECT``.
    :param token: credentials. Unset: the default chain (``GOOGLE_APPLICATION_CREDENTIALS``,
        gcloud's application-default login, the metadata server on Google Cloud).
        ``"anon"`` for emulators and public buckets, ``"google_default"``, ``"cloud"``
        (metadata server), the path of a service-account (or authorized-user) JSON key
        file, that key as a dict, or a ``google.auth`` Credentials object. Never shown
        in ``repr``.
    :param endpoint_url: another endpoint, e.g. ``http://127.0.0.1:4443`` for
        fake-gcs-server. Default: ``STORAGE_EMULATOR_HOST``, else Google's.
    :param create_bucket: let ``sessionstore_init`` create a missing bucket (in
        ``location``); otherwise a missing bucket is an error saying so.
    :param location: where a created bucket lives (e.g. ``EU``, ``us-central1``);
        default: the service's (``US``).
    :param connect_timeout: seconds to wait for a TCP connection.
    :param read_timeout: seconds to wait for each read from the server.
    :param retries: further attempts after a connection error, a timeout, 408, 429
        or 5xx, with jittered exponential back-off (0.1 s, 0.2 s, ... at most 4 s).

    The version token is the object's generation. Conditional writes send
    ``ifGenerationMatch`` with the single-request (multipart) upload itself.
    """

    prefix: str = attrs.field(default="", converter=_normalize_prefix)
    project: str | None = None
    token: Any = attrs.field(default=None, repr=False, validator=_check_token)
    endpoint_url: str | None = attrs.field(default=None, converter=_strip_url, validator=_endpoint)
    create_bucket: bool = False
    location: str | None = None
    connect_timeout: float = attrs.field(default=5.0, validator=_positive)
    read_timeout: float = attrs.field(default=60.0, validator=_positive)
    retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    _transport: SharedClient[Transport] = attrs.field(init=False, repr=False)
    """Built again in a forked child: the parent's filesystem refuses to run there
    ("not fork-safe"), and its pooled sockets are the parent's."""

    def __attrs_post_init__(self) -> None:
        self._transport = SharedClient(self._connect, _close_transport)

    # -- plumbing ------------------------------------------------------------------

    def _name(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _connect(self) -> Transport:
        """A new transport (in a worker thread: building gcsfs credentials may read
        files or ask the metadata server)."""
        gcsfs = import_gcsfs()
        options: dict[str, Any] = {
            "token": dict(self.token) if isinstance(self.token, Mapping) else self.token,
            "endpoint_url": self.endpoint_url,
            "skip_instance_cache": True,
        }
        if self.project is not None:
            options["project"] = self.project
        from sessionstore_gcs import __version__

        return Transport(
            gcsfs.core.GCSFileSystem(**options),
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries=self.retries,
            user_agent=f"sessionstore-gcs/{__version__} gcsfs/{gcsfs.__version__}",
        )

    async def _run(self, operation: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``operation(transport, *args)`` on fsspec's loop, from one worker thread."""

        def blocking() -> T:
            with self._transport.using() as transport:
                return transport.run(operation, transport, *args)

        return await run_blocking(blocking)

    # -- hooks ---------------------------------------------------------------------

    @hookimpl
    async def sessionstore_close(self) -> None:
        """Drop the transport, so that the next operation builds a new one, and
        close its HTTP session once no operation uses it."""
        await run_blocking(self._transport.close)

    @hookimpl
    async def sessionstore_describe(self, bucket: str) -> Mapping[str, str]:
        """The bucket and prefix as a ``gs://`` URL, and the endpoint gcsfs resolved
        (no request)."""

        def endpoint() -> str:
            with self._transport.using() as transport:
                return transport.base.removesuffix("storage/v1/").rstrip("/")

        if self.endpoint_url:
            whose = "endpoint_url"
        elif os.environ.get("STORAGE_EMULATOR_HOST") not in (None, "", "default"):
            whose = "STORAGE_EMULATOR_HOST"
        else:
            whose = "Google's"
        return {
            "location": f"gs://{bucket}/{self._name('')}",
            "endpoint": f"{redact_url(await run_blocking(endpoint))} ({whose})",
        }

    @hookimpl
    async def sessionstore_init(self, bucket: str) -> None:
        """Check that the bucket exists (one listing request); create it if
        ``create_bucket`` allows, else raise an error saying how to fix it."""
        await self._run(self._init, bucket)

    async def _init(self, transport: Transport, bucket: str) -> None:
        if await api.bucket_exists(transport, bucket):
            return
        if not self.create_bucket:
            where = f" at {self.endpoint_url}" if self.endpoint_url else ""
            raise api.BucketNotFoundError(
                f"GCS bucket {bucket!r} does not exist{where}. Create it "
                f"(gcloud storage buckets create gs://{bucket}), or pass create_bucket=True "
                f"(URL: gs://{bucket}?create_bucket=true) to let sessionstore create it"
            )
        await api.create_bucket(
            transport, bucket, self.project or transport.fs.project, self.location
        )

    @hookimpl
    async def sessionstore_upload(
        self, bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
    ) -> ObjectInfo:
        """One multipart upload; ``create_only`` sends ``ifGenerationMatch=0`` and
        ``if_match`` sends ``ifGenerationMatch=<generation>``."""
        if create_only and if_match is not None:
            raise ValueError("if_match and create_only exclude each other")
        condition = 0 if create_only else None
        if if_match is not None:
            condition = _generation(if_match)
            if condition is None or condition == 0:
                raise ConflictError(
                    f"cannot write {path!r} in bucket {bucket!r}: {if_match!r} is not a "
                    "generation of any object"
                )
        try:
            resource = await self._run(api.insert, bucket, self._name(path), data, condition)
        except api.PreconditionFailed:
            if create_only:
                raise ConflictError(
                    f"cannot create {path!r} in bucket {bucket!r}: an object already exists there"
                ) from None
            raise ConflictError(
                f"cannot write {path!r} in bucket {bucket!r}: its generation is not "
                f"{if_match!r} (changed or deleted)"
            ) from None
        return _info(path, resource)

    @hookimpl
    async def sessionstore_download(self, bucket: str, path: str) -> StoredObject:
        """One media download; generation and time come from its response headers
        (``x-goog-generation``, ``Last-Modified``: whole seconds)."""
        response = await self._run(api.get_media, bucket, self._name(path))
        generation = response.headers.get("x-goog-generation")
        if not generation:
            raise OSError(f"downloading {path!r}: the response has no x-goog-generation")
        last_modified = response.headers.get("Last-Modified")
        modified = (
            parsedate_to_datetime(last_modified) if last_modified else datetime.now(timezone.utc)
        )
        info = ObjectInfo(
            path=path,
            size=len(response.body),
            modified=modified,
            created=modified,
            version=generation,
        )
        return StoredObject(data=response.body, info=info)

    @hookimpl
    async def sessionstore_exists(self, bucket: str, path: str) -> bool:
        """One metadata request; 404 means absent."""
        return await self._run(api.get_metadata, bucket, self._name(path)) is not None

    @hookimpl
    async def sessionstore_stat(self, bucket: str, path: str) -> ObjectInfo:
        """One metadata request: size, ``updated``, ``timeCreated``, generation."""
        resource = await self._run(api.get_metadata, bucket, self._name(path))
        if resource is None:
            raise FileNotFoundError(f"no object {path!r} in GCS bucket {bucket!r}")
        return _info(path, resource)

    @hookimpl
    async def sessionstore_delete(
        self, bucket: str, paths: Sequence[str], if_match: str | None
    ) -> None:
        """One DELETE for one path, batch requests of up to 100 calls for more;
        ``if_match``: see :meth:`_delete_if_match`."""
        if isinstance(paths, str):
            raise TypeError("paths must be a sequence of paths, not one string")
        if if_match is not None:
            if len(paths) != 1:
                raise ValueError(f"if_match needs exactly one path, got {len(paths)}")
            await self._run(self._delete_if_match, bucket, paths[0], if_match)
        elif paths:
            await self._run(api.delete_many, bucket, [self._name(path) for path in paths])

    async def _delete_if_match(
        self, transport: Transport, bucket: str, path: str, if_match: str
    ) -> None:
        """Read the generation, then DELETE with ``ifGenerationMatch`` (two requests).

        On Cloud Storage the DELETE's precondition alone makes this atomic. The read
        first lets a server that ignores preconditions on DELETE (fake-gcs-server
        1.5x) still refuse a stale or absent token, except in a race with a writer.
        """
        where = f"{path!r} in bucket {bucket!r}"
        generation = _generation(if_match)
        current = await api.get_metadata(transport, bucket, self._name(path))
        if current is None:
            raise ConflictError(
                f"cannot delete {where}: expected version {if_match!r}, but there is no object"
            )
        if generation is None or str(current["generation"]) != str(generation):
            raise ConflictError(
                f"cannot delete {where}: expected version {if_match!r}, "
                f"found {str(current['generation'])!r}"
            )
        try:
            await api.delete(transport, bucket, self._name(path), generation)
        except api.PreconditionFailed:
            raise ConflictError(
                f"cannot delete {where}: its generation is no longer {if_match!r}"
            ) from None

    @hookimpl
    async def sessionstore_list(
        self, bucket: str, prefix: str, cursor: str | None, limit: int | None
    ) -> ListPage:
        """One ``objects.list`` request with delimiter ``/``.

        The cursor is the last entry of the page, full path; the next page asks
        for names from just after it (``startOffset``), so it resumes strictly after
        that entry even when it has been deleted since. Entries whose last segment
        starts with ``.`` are never returned.
        """
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number or None, got {limit!r}")
        directory = prefix[: prefix.rfind("/") + 1]
        if cursor is not None and not cursor.startswith(directory):
            raise ValueError(f"cursor {cursor!r} does not belong to a listing of {prefix!r}")
        return await self._run(self._list, bucket, prefix, cursor, limit)

    async def _list(
        self, transport: Transport, bucket: str, prefix: str, cursor: str | None, limit: int | None
    ) -> ListPage:
        base = self._name("")
        skip = None
        start = None
        if cursor is not None:
            if cursor.endswith("/"):
                # Past every name below the sub-directory: '0' follows '/' in byte order.
                start = base + cursor[:-1] + "0"
            else:
                # Object names have no successor to name, so start at the cursor
                # itself and drop it.
                start = skip = base + cursor
        params: dict[str, object | None] = {
            "prefix": base + prefix or None,
            "delimiter": "/",
            "startOffset": start,
            "maxResults": None if limit is None else limit + (skip is not None),
            "fields": "items(name),prefixes,nextPageToken",
        }
        while True:
            page = await api.list_objects(transport, bucket, params)
            # Names ending in "/" are folder markers other tools create: not objects.
            names = {item["name"] for item in page.get("items", ()) if item["name"][-1:] != "/"}
            names.update(page.get("prefixes", ()))
            names.discard(skip)
            token = page.get("nextPageToken")
            if names or not token:
                break
            params["pageToken"] = token  # an empty page that is not the last: go on
        raw = sorted(name[len(base) :] for name in names)
        more = token is not None
        if limit is not None and len(raw) > limit:
            # Some servers (fake-gcs-server) ignore maxResults when a delimiter is given.
            raw, more = raw[:limit], True
        entries = tuple(entry for entry in raw if not _hidden(entry))
        return ListPage(entries=entries, cursor=raw[-1] if more and raw else None)
