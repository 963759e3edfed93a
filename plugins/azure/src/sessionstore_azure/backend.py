"""The Azure Blob Storage backend: one container per bucket, one blob per object.

Every hook runs its whole operation — normally a single REST request — in one
``run_blocking`` thread hop on the synchronous ``azure-storage-blob`` client,
so it works on asyncio and trio alike. Versions are blob ETags; conditional
writes and deletes send them as ``If-Match`` (``If-None-Match: *`` for
create-only), which Azure checks atomically, also when a large upload is
committed as a block list.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import attrs
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.storage.blob import BlobPrefix, BlobProperties, BlobServiceClient, ContainerClient

from sessionstore.clients import SharedClient
from sessionstore.errors import ConfigurationError, ConflictError
from sessionstore.hookspecs import hookimpl
from sessionstore.names import key_prefix
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.settings import redact_url
from sessionstore.threads import run_blocking
from sessionstore_azure.client import build_service_client, check_account_options
from sessionstore_azure.errors import (
    Scrubber,
    call,
    error_code,
    is_missing_blob,
    is_precondition_failure,
    is_refusal,
    missing_container,
)

T = TypeVar("T")

BATCH_LIMIT = 256
"""Most sub-requests Azure accepts in one blob batch."""
LIST_LIMIT = 5000
"""Most entries Azure returns in one List Blobs page."""
CONCURRENCY = 4
"""Parallel block uploads / range downloads for blobs above the SDK's single-request
sizes (64 MiB up, 32 MiB down)."""
CONTAINER_NAME = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
"""Azure's container names: 3-63 lowercase letters, digits and single hyphens."""
DOWNLOAD_ATTEMPTS = 3
"""A blob rewritten while a multi-range download reads it is read again from the start."""
WRITE_ID = "sessionstore_write_id"
"""The blob metadata naming the upload that wrote it (a C# identifier, as Azure
requires of metadata names: no hyphen)."""


@attrs.define
class _Clients:
    """The service client and, sharing its connections, a client per container."""

    service: BlobServiceClient
    containers: dict[str, ContainerClient] = attrs.Factory(dict)

    def container(self, name: str) -> ContainerClient:
        container = self.containers.get(name)
        if container is None:
            container = self.containers[name] = self.service.get_container_client(name)
        return container


def _close_clients(clients: _Clients) -> None:
    clients.service.close()


def _required(path: str, header: str, value: T | None) -> T:
    """``value``, read from the response's ``header``, which must be there.

    The SDK's HTTP stack (http.client under requests) takes a response whose
    header section was cut off as complete: a write whose answer lost its ETag
    would otherwise report the version ``"None"``. What the server did is unknown,
    as with a lost answer: a connection error.
    """
    if value is None or value == "":
        raise ConnectionError(
            f"incomplete response for {path!r}: no {header} header (connection cut?)"
        )
    return value


def _clean_prefix(value: str) -> str:
    return key_prefix(value, service="Azure")


_ENTITY_TAG = re.compile(r'"[\x21\x23-\x7e]+"')
"""A strong HTTP entity tag, as Azure writes every ETag: quoted, no spaces inside."""


def _check_version(token: str, path: str) -> None:
    """Raise :class:`ConflictError` for an ``if_match`` that cannot be an ETag.

    Sent as they are, ``*`` (and Azurite's ``"*"``) matches any blob, which made the
    write or delete unconditional; an empty one is no condition either, and one
    with whitespace or a newline broke the request.
    """
    if not _ENTITY_TAG.fullmatch(token) or token == '"*"':
        raise ConflictError(f"cannot write or delete {path!r}: {token!r} is no version (ETag)")


@attrs.define(eq=False)
class AzureBackend:
    """Stores each object as a block blob ``<prefix>/<path>`` in the container named
    by the store's bucket.

    Credentials, at most one of: ``connection_string``, ``account_key``,
    ``sas_token``; with none, ``azure.identity.DefaultAzureCredential`` (environment,
    workload or managed identity, Azure CLI login...). ``endpoint_url`` is the
    account URL (for Azurite: ``http://127.0.0.1:10000/devstoreaccount1``); without
    it, ``https://<account_name>.blob.core.windows.net``. Secrets never appear in
    ``repr`` or in error messages.
    """

    account_name: str | None = None
    account_key: str | None = attrs.field(default=None, repr=False)
    connection_string: str | None = attrs.field(default=None, repr=False)
    sas_token: str | None = attrs.field(default=None, repr=False)
    endpoint_url: str | None = None
    prefix: str = attrs.field(default="", converter=_clean_prefix)
    create_bucket: bool = False
    connect_timeout: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    read_timeout: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))

    _clients: SharedClient[_Clients] = attrs.field(init=False, repr=False)
    """Made again in a forked child: two processes sharing the parent's pooled
    connections read each other's answers (one session's state for another's)."""
    _scrubber: Scrubber = attrs.field(init=False, repr=False)
    _base: str = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        check_account_options(
            account_name=self.account_name,
            account_key=self.account_key,
            connection_string=self.connection_string,
            sas_token=self.sas_token,
            endpoint_url=self.endpoint_url,
        )
        secrets = [self.account_key, self.sas_token, self.connection_string]
        for part in (self.connection_string or "").split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() in {"accountkey", "sharedaccesssignature"}:
                secrets.append(value)
        self._scrubber = Scrubber(secrets)
        self._base = f"{self.prefix}/" if self.prefix else ""
        self._clients = SharedClient(self._new_clients, _close_clients)

    # -- plumbing ------------------------------------------------------------------

    def _new_clients(self) -> _Clients:
        return _Clients(
            build_service_client(
                account_name=self.account_name,
                account_key=self.account_key,
                connection_string=self.connection_string,
                sas_token=self.sas_token,
                endpoint_url=self.endpoint_url,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                retries=self.retries,
            )
        )

    def _on_container(self, bucket: str, operation: Callable[[ContainerClient], T]) -> T:
        """``operation`` on the container's client (blocking)."""
        with self._clients.using() as clients:
            return operation(clients.container(bucket))

    async def _run(
        self,
        operation: Callable[[ContainerClient], T],
        bucket: str,
        path: str | None = None,
        *,
        conflict: bool = False,
    ) -> T:
        """Run ``operation`` on the container's client in one worker-thread hop,
        with SDK errors translated (see :func:`sessionstore_azure.errors.call`)."""

        def blocking() -> T:
            return call(
                partial(self._on_container, bucket, operation),
                self._scrubber,
                container=bucket,
                path=path,
                conflict=conflict,
            )

        return await run_blocking(blocking)

    def _info(self, path: str, properties: BlobProperties, size: int) -> ObjectInfo:
        modified: datetime = _required(path, "Last-Modified", properties.last_modified)
        created: datetime | None = properties.creation_time
        return ObjectInfo(
            path=path,
            size=size,
            modified=modified,
            created=created or modified,
            version=str(_required(path, "ETag", properties.etag)),
        )

    # -- hooks ---------------------------------------------------------------------

    @hookimpl
    async def sessionstore_describe(self, bucket: str) -> Mapping[str, str]:
        """The container and prefix as an ``az://`` URL, and the account and blob
        endpoint the client resolved, from a connection string too (no request;
        never a key, SAS or the connection string itself)."""

        def resolved() -> tuple[str | None, str]:
            with self._clients.using() as clients:
                service = clients.service
                # The hostname and path: BlobServiceClient.url carries the SAS.
                return service.account_name, f"{service.scheme}://{service.primary_hostname}"

        account, endpoint = await run_blocking(resolved)
        if self.endpoint_url:
            whose = "endpoint_url"
        elif self.connection_string:
            whose = "from the connection string"
        else:
            whose = "Azure's for the account"
        description = {
            "location": f"az://{bucket}/{self._base}",
            "endpoint": self._scrubber.clean(f"{redact_url(endpoint)} ({whose})"),
        }
        if account:
            description["account"] = self._scrubber.clean(account)
        return description

    @hookimpl
    async def sessionstore_init(self, bucket: str) -> None:
        """Create the container (``create_bucket``) or check that it exists: one request.

        The check lists one blob rather than reading the container's properties,
        which a container-scoped SAS may not do. When creating is refused (such a
        SAS again), an existing container is accepted.
        """
        if not CONTAINER_NAME.fullmatch(bucket):
            raise ConfigurationError(
                f"{bucket!r} is not a valid Azure container name: use 3-63 lowercase "
                "letters, digits and single hyphens, starting and ending with a letter or digit"
            )

        def check(container: ContainerClient) -> None:
            next(container.list_blobs(results_per_page=1).by_page(), None)

        def init(container: ContainerClient) -> None:
            if not self.create_bucket:
                check(container)
                return
            try:
                container.create_container()
            except ResourceExistsError as error:
                if error_code(error) != "ContainerAlreadyExists":
                    raise
            except Exception as error:
                if not is_refusal(error):
                    raise
                try:
                    check(container)
                except Exception:
                    raise error from None

        await self._run(init, bucket)

    @hookimpl
    async def sessionstore_upload(
        self, bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
    ) -> ObjectInfo:
        """Put the blob with its condition in the same request (or, above 64 MiB, in the
        Put Block List that commits it); the info comes from the write's response.

        The blob carries a fresh write id in its metadata. A retried conditional
        upload refused with 412 / 409 may be meeting its own earlier attempt, whose
        answer was lost: one HEAD then returns that blob's info if the id is ours."""
        conditions: dict[str, Any] = {}
        if if_match is not None:
            _check_version(if_match, path)
            conditions = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}

        def upload(container: ContainerClient) -> ObjectInfo:
            blob = container.get_blob_client(self._base + path)
            write_id = uuid.uuid4().hex
            retried = False

            def on_retry(**_: object) -> None:
                nonlocal retried
                retried = True

            try:
                response = blob.upload_blob(
                    data,
                    overwrite=not create_only,
                    max_concurrency=CONCURRENCY,
                    metadata={WRITE_ID: write_id},
                    retry_hook=on_retry,
                    **conditions,
                )
            except Exception as error:
                if not (retried and is_precondition_failure(error)):
                    raise
                # An earlier attempt may have written the blob before its answer was
                # lost: then this 412 / 409 is our own write, not a conflict.
                properties = blob.get_blob_properties()
                if (properties.metadata or {}).get(WRITE_ID) != write_id:
                    raise
                return self._info(path, properties, int(properties.size))
            modified: datetime = _required(path, "Last-Modified", response.get("last_modified"))
            # Put Blob does not report the creation time; a stat does.
            return ObjectInfo(
                path=path,
                size=len(data),
                modified=modified,
                created=modified,
                version=str(_required(path, "ETag", response.get("etag"))),
            )

        conditional = if_match is not None or create_only
        return await self._run(upload, bucket, path, conflict=conditional)

    @hookimpl
    async def sessionstore_download(self, bucket: str, path: str) -> StoredObject:
        """One GET returns the bytes with their ETag (blobs above 32 MiB are read in
        further ranges, each conditional on that ETag)."""

        def download(container: ContainerClient) -> StoredObject:
            blob = container.get_blob_client(self._base + path)
            for attempt in range(DOWNLOAD_ATTEMPTS):
                try:
                    downloader = blob.download_blob(max_concurrency=CONCURRENCY)
                    data = downloader.readall()
                except ResourceModifiedError:
                    # Rewritten between two ranges of a large blob: start again.
                    if attempt + 1 == DOWNLOAD_ATTEMPTS:
                        raise
                    continue
                return StoredObject(
                    data=data, info=self._info(path, downloader.properties, len(data))
                )
            raise AssertionError("unreachable")  # pragma: no cover

        return await self._run(download, bucket, path)

    @hookimpl
    async def sessionstore_exists(self, bucket: str, path: str) -> bool:
        """One HEAD request (Get Blob Properties)."""

        def exists(container: ContainerClient) -> bool:
            try:
                container.get_blob_client(self._base + path).get_blob_properties()
            except Exception as error:
                if is_missing_blob(error):
                    return False
                raise
            return True

        return await self._run(exists, bucket, path)

    @hookimpl
    async def sessionstore_stat(self, bucket: str, path: str) -> ObjectInfo:
        """One HEAD request (Get Blob Properties)."""

        def stat(container: ContainerClient) -> ObjectInfo:
            properties = container.get_blob_client(self._base + path).get_blob_properties()
            return self._info(path, properties, int(properties.size))

        return await self._run(stat, bucket, path)

    @hookimpl
    async def sessionstore_delete(
        self, bucket: str, paths: Sequence[str], if_match: str | None
    ) -> None:
        """One Delete Blob for a single path (conditional with ``if_match``), else one
        blob batch per 256 paths. Snapshots of a deleted blob go with it."""
        if isinstance(paths, str):
            raise TypeError("paths must be a sequence of paths, not one string")
        names = [self._base + path for path in dict.fromkeys(paths)]
        if if_match is not None:
            if len(names) != 1:
                raise ValueError(f"if_match needs exactly one path, got {len(names)}")
            _check_version(if_match, paths[0])

            def delete_if_match(container: ContainerClient) -> None:
                container.get_blob_client(names[0]).delete_blob(
                    delete_snapshots="include",
                    etag=if_match,
                    match_condition=MatchConditions.IfNotModified,
                )

            await self._run(delete_if_match, bucket, paths[0], conflict=True)
        elif len(names) == 1:

            def delete_one(container: ContainerClient) -> None:
                try:
                    container.get_blob_client(names[0]).delete_blob(delete_snapshots="include")
                except Exception as error:
                    if not is_missing_blob(error):
                        raise

            await self._run(delete_one, bucket, paths[0])
        elif names:
            await self._run(partial(self._delete_batches, names, bucket), bucket)

    def _delete_batches(self, names: list[str], bucket: str, container: ContainerClient) -> None:
        failures: list[str] = []
        refused = False
        for start in range(0, len(names), BATCH_LIMIT):
            chunk = names[start : start + BATCH_LIMIT]
            responses = container.delete_blobs(
                *chunk, delete_snapshots="include", raise_on_any_failure=False
            )
            for name, response in zip(chunk, responses, strict=True):
                code = response.headers.get("x-ms-error-code") or ""
                if response.status_code < 300 or (
                    response.status_code == 404 and code != "ContainerNotFound"
                ):
                    continue
                if code == "ContainerNotFound":
                    raise missing_container(bucket)
                refused = refused or response.status_code in {401, 403}
                failures.append(f"{name[len(self._base) :]!r}: {response.status_code} {code}")
        if failures:
            message = f"could not delete {len(failures)} blob(s): {', '.join(failures[:10])}"
            raise PermissionError(message) if refused else RuntimeError(message)

    @hookimpl
    async def sessionstore_list(
        self, bucket: str, prefix: str, cursor: str | None, limit: int | None
    ) -> ListPage:
        """One List Blobs request with delimiter ``/``, its blobs and sub-folders
        sorted together; the cursor is Azure's continuation marker."""
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number or None, got {limit!r}")
        start = self._base + prefix

        def list_page(container: ContainerClient) -> ListPage:
            pages = container.walk_blobs(
                name_starts_with=start or None,
                delimiter="/",
                results_per_page=min(limit, LIST_LIMIT) if limit is not None else None,
            ).by_page(continuation_token=cursor)
            entries: list[str] = []
            for item in next(pages):
                name: str = item.name
                is_dir = isinstance(item, BlobPrefix)
                if not name.startswith(self._base) or (not is_dir and name.endswith("/")):
                    continue  # outside our prefix, or a directory-marker blob
                entry = name[len(self._base) :]
                if entry.rstrip("/").rpartition("/")[2].startswith("."):
                    continue  # bookkeeping names are never listed
                entries.append(entry)
            # The SDK's page iterator carries the marker; its annotation does not say so.
            token: str | None = getattr(pages, "continuation_token", None)
            # The SDK yields a page's sub-folders (BlobPrefix) first, then its blobs.
            # The page itself is one contiguous range of keys (the server cuts it at
            # ``limit`` and resumes after it), so sorting it orders the whole listing.
            return ListPage(entries=tuple(sorted(entries)), cursor=token or None)

        return await self._run(list_page, bucket)

    @hookimpl
    async def sessionstore_close(self) -> None:
        """Drop the client, so that the next operation builds a new one, and close
        its connection pool once no operation uses it."""
        await run_blocking(self._clients.close)
