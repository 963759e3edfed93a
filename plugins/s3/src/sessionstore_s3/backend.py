"""The s3 backend: one S3 object per session file, reached through s3fs's client.

s3fs builds and owns the client (credentials chain, endpoint, region, timeouts,
retries) and runs it on fsspec's IO-loop thread. Each hook makes exactly one hop
to a worker thread (``run_blocking``), which runs the whole operation
as one coroutine on that loop and waits for it; so the app's own event loop,
asyncio or trio, never touches the client.

The operations call the S3 API directly on that client, one request each, rather
than s3fs's file-system methods, for three reasons:

- botocore rejects a parameter it does not know (``ParamValidationError``) where
  s3fs's ``call_s3`` silently drops it: a condition (``IfMatch``,
  ``IfNoneMatch``) can never be lost on the way, so a conditional write is never
  silently unconditional;
- ``GetObject`` and ``PutObject`` return the ETag with the bytes, which
  ``cat_file``/``pipe_file`` discard;
- ``HeadObject`` is one request, where ``info``/``exists`` fall back to listing.

Retries are botocore's (the ``retries`` option, "standard" mode: connection
errors, timeouts, throttling and 5xx answers), except that botocore stops at an
answer's head: a ``GetObject`` body that fails to arrive is requested again here,
counted against the same ``retries``. s3fs's own retry loop wraps only its
file-system methods, which are not used, so retries never multiply.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs
import fsspec.asyn  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from sessionstore.clients import SharedClient
from sessionstore.errors import ConflictError
from sessionstore.hookspecs import hookimpl
from sessionstore.names import key_prefix
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.settings import check_http_url, redact_url
from sessionstore.threads import run_blocking
from sessionstore_s3.client import (
    BODY_ERRORS,
    BytesReader,
    backoff,
    new_filesystem,
    run_with_client,
)
from sessionstore_s3.errors import (
    PERMISSION_CODES,
    BucketNotFoundError,
    check_version,
    error_code,
    is_web_page,
    lacks_s3_code,
    not_s3,
    translate,
)

T = TypeVar("T")

MAX_PUT_BYTES = 5 * 1024**3
"""The largest object one ``PutObject`` request may carry (5 GiB)."""

MAX_KEYS = 1000
"""The most entries S3 returns in one ``ListObjectsV2`` page, and the most keys one
``DeleteObjects`` request may name."""

ADDRESSING_STYLES = ("auto", "path", "virtual")

AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn")
"""Where AWS's own S3 endpoints are (the China regions have their own domain)."""


def _clean_prefix(value: str) -> str:
    return key_prefix(value, service="S3")


def _endpoint(_instance: object, _attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        check_http_url(value, option="endpoint_url", example="http://127.0.0.1:9000")


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _addressing_style(_instance: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ADDRESSING_STYLES:
        raise ValueError(
            f"addressing_style must be one of {', '.join(ADDRESSING_STYLES)}, got {value!r} "
            "(path: https://host/bucket/key, as MinIO needs; virtual: https://bucket.host/key)"
        )


def _time(value: object) -> datetime | None:
    """An aware datetime from a botocore datetime or an HTTP date header."""
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return None


def _close_client(fs: Any) -> None:
    """Close ``fs``'s client and its connections, on fsspec's loop (blocking)."""

    async def close() -> None:
        client = await fs.set_session()  # the existing client: no new one is made
        await client.close()

    fsspec.asyn.sync(fs.loop, close)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _hidden(entry: str) -> bool:
    """Whether a listed name is internal: its last segment starts with '.'."""
    return entry.rstrip("/").rpartition("/")[2].startswith(".")


@attrs.define(eq=False)
class S3Backend:
    """Stores each object as an S3 object ``<prefix>/<path>`` in the store's bucket.

    Works with AWS S3 and S3-compatible services (MinIO, Cloudflare R2, Ceph...)
    through ``endpoint_url``. Credentials given as options are used as they are;
    otherwise botocore's standard chain applies (environment, ``profile``, shared
    config files, SSO, container and instance roles). The version token is the
    object's ETag; conditions are S3's ``If-Match`` / ``If-None-Match: *``.
    """

    prefix: str = attrs.field(default="", converter=_clean_prefix)
    endpoint_url: str | None = attrs.field(default=None, validator=_endpoint)
    region: str | None = None
    key: str | None = attrs.field(default=None, repr=False)
    secret: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    profile: str | None = None
    addressing_style: str = attrs.field(default="auto", validator=_addressing_style)
    create_bucket: bool = False
    connect_timeout: float = attrs.field(default=5.0, validator=_positive)
    read_timeout: float = attrs.field(default=30.0, validator=_positive)
    retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))

    _fs: SharedClient[Any] = attrs.field(init=False, repr=False)
    """This backend's own S3FileSystem, made again in a forked child, where
    fsspec's loop of the parent is gone."""

    def __attrs_post_init__(self) -> None:
        if (self.key is None) != (self.secret is None):
            raise ValueError("give both key and secret, or neither (to use the standard chain)")
        if self.token is not None and self.key is None:
            raise ValueError("token (a session token) needs key and secret too")
        self._fs = SharedClient(self._new_filesystem, _close_client)

    # -- plumbing ------------------------------------------------------------------

    def _new_filesystem(self) -> Any:
        return new_filesystem(
            endpoint_url=self.endpoint_url,
            # botocore reads only AWS_DEFAULT_REGION (and the profile); AWS_REGION,
            # which the AWS SDKs and Lambda set, went unread, and create_bucket put
            # the bucket in us-east-1.
            region=self.region or os.environ.get("AWS_REGION") or None,
            key=self.key,
            secret=self.secret,
            token=self.token,
            profile=self.profile,
            addressing_style=self.addressing_style,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries=self.retries,
        )

    def _run(self, operation: Callable[[Any], Awaitable[T]]) -> T:
        """In a worker thread: ``operation(client)`` on fsspec's loop."""
        with self._fs.using() as fs:
            return run_with_client(fs, operation)

    async def _call(self, operation: Callable[[Any], Awaitable[T]]) -> T:
        """One thread hop for one whole operation. A cancelled caller (anyio's,
        trio's or asyncio's own cancellation) has its request cut off within ~0.1 s
        (:func:`~sessionstore_s3.client.run_with_client`), and the core raises the
        cancellation rather than the resulting error."""
        return await run_blocking(self._run, operation)

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _where(self, bucket: str, path: str) -> str:
        return f"s3://{bucket}/{self._key(path)}"

    def _info(
        self, path: str, size: int | None, response: Mapping[str, Any], where: str
    ) -> ObjectInfo:
        """An ObjectInfo from a HeadObject/GetObject/PutObject response (``size``
        ``None``: its Content-Length).

        S3 keeps no creation time: ``created`` is when this version was written.
        PutObject answers with no Last-Modified on AWS, so its Date header stands in.
        """
        version = response.get("ETag")
        if size is None:
            size = response.get("ContentLength")
        # S3 always sends both; a web page may send them too.
        if version is None or size is None or is_web_page(response):
            raise not_s3(where, self.endpoint_url)
        headers: Mapping[str, str] = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        modified = (
            _time(response.get("LastModified"))
            or _time(headers.get("last-modified"))
            or _time(headers.get("date"))
            or datetime.now(timezone.utc)
        )
        return ObjectInfo(
            path=path, size=int(size), modified=modified, created=modified, version=version
        )

    def _failure(self, error: Exception, where: str, *, if_match: str | None = None) -> Exception:
        """:func:`translate`, except that a refusal with no S3 error code in its body
        (a web server's "405 Not Allowed" page) names the endpoint as not S3's.
        Not for HEAD requests, whose answers never have a body."""
        if lacks_s3_code(error):
            return not_s3(where, self.endpoint_url)
        return translate(error, where, if_match=if_match)

    # -- hooks ---------------------------------------------------------------------

    @hookimpl
    async def sessionstore_close(self) -> None:
        """Drop the file system, so that the next operation makes a new one, and
        close its client's connections once no operation uses them."""
        await run_blocking(self._fs.close)

    @hookimpl
    async def sessionstore_describe(self, bucket: str) -> Mapping[str, str]:
        """The bucket and prefix as an ``s3://`` URL, and the endpoint and region
        the client resolved (no request: botocore works them out from the options,
        the environment and the AWS config files)."""

        async def resolved(client: Any) -> tuple[str, str | None]:
            return str(client.meta.endpoint_url), client.meta.region_name

        endpoint, region = await self._call(resolved)
        if self.endpoint_url:
            whose = "endpoint_url"
        elif (urlsplit(endpoint).hostname or "").endswith(AWS_DOMAINS):
            whose = "AWS's for the region"
        else:  # AWS_ENDPOINT_URL, or endpoint_url in the AWS config files
            whose = "from the AWS environment or config files"
        description = {
            "location": f"s3://{bucket}/{self._key('')}",
            "endpoint": f"{redact_url(endpoint)} ({whose})",
        }
        if region:
            description["region"] = str(region)
        return description

    @hookimpl
    async def sessionstore_init(self, bucket: str) -> None:
        """Check that the bucket exists (HeadBucket); create it if ``create_bucket``."""

        async def operation(client: Any) -> None:
            try:
                await client.head_bucket(Bucket=bucket)
                return
            except ClientError as error:
                code, status = error_code(error)
                if status != 404 and code not in ("404", "NoSuchBucket", "NotFound"):
                    raise translate(error, f"bucket {bucket!r}") from error
            if await self._bucket_listed(client, bucket):
                return
            if not self.create_bucket:
                raise BucketNotFoundError(
                    f"S3 bucket {bucket!r} does not exist"
                    + (f" at {self.endpoint_url}" if self.endpoint_url else "")
                    + f". Create it (e.g. `aws s3 mb s3://{bucket}`), or pass "
                    "create_bucket=True (URL: ?create_bucket=true) to let sessionstore create it"
                )
            await self._create_bucket(client, bucket)

        await self._call(operation)

    async def _bucket_listed(self, client: Any, bucket: str) -> bool:
        """After HeadBucket's 404: one ListObjectsV2 (a key at most), whose answer
        has a body. Raise :func:`not_s3` unless S3 names the bucket missing
        (``NoSuchBucket``); ``True`` if it lists after all.

        A HEAD answer has no body, so a web server's "404 Not Found" (a wrong port,
        a console) read as "the bucket does not exist", and the advice was to
        create it. No header tells the two apart everywhere: moto sends no
        ``x-amz-request-id``, and other S3-compatible stores vary.
        """
        where = f"bucket {bucket!r}"
        try:
            response = await client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except ClientError as error:
            if error_code(error)[0] == "NoSuchBucket":
                return False
            raise self._failure(error, where) from error
        if "IsTruncated" not in response:
            raise not_s3(where, self.endpoint_url)
        return True

    async def _create_bucket(self, client: Any, bucket: str) -> None:
        region = self.region or client.meta.region_name
        params: dict[str, Any] = {"Bucket": bucket}
        # us-east-1 is S3's default location and must not be named as a constraint
        # (S3 refuses it); "auto" is R2's region, which takes none either.
        if region and region not in ("us-east-1", "aws-global", "auto"):
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            await client.create_bucket(**params)
        except ClientError as error:
            code, _status = error_code(error)
            if code == "BucketAlreadyOwnedByYou":
                return
            if code != "BucketAlreadyExists":
                raise self._failure(error, f"creating bucket {bucket!r}") from error
            try:  # created concurrently by us, or taken by someone else?
                await client.head_bucket(Bucket=bucket)
            except ClientError as again:
                raise PermissionError(
                    f"S3 bucket name {bucket!r} is taken by another account; choose another"
                ) from again

    @hookimpl
    async def sessionstore_upload(
        self, bucket: str, path: str, data: bytes, if_match: str | None, create_only: bool
    ) -> ObjectInfo:
        """One PutObject, carrying ``If-Match: <etag>`` or ``If-None-Match: *``.

        Never multipart, so a condition is always checked by S3 in the same request
        as the write; objects above 5 GiB (S3's single-request limit) are refused.
        """
        if if_match is not None and create_only:
            raise ValueError("if_match and create_only exclude each other")
        size = len(data)
        if size > MAX_PUT_BYTES:
            raise ValueError(
                f"cannot store {size} bytes at {path!r}: the s3 backend writes each object in "
                "one PutObject request (so conditions are always enforced), which S3 limits "
                "to 5 GiB"
            )
        params: dict[str, Any] = {"Bucket": bucket, "Key": self._key(path)}
        where = self._where(bucket, path)
        if if_match is not None:
            check_version(if_match, where)
            params["IfMatch"] = if_match
        if create_only:
            params["IfNoneMatch"] = "*"

        async def operation(client: Any) -> ObjectInfo:
            try:
                response = await client.put_object(Body=BytesReader(data), **params)
            except ClientError as error:
                failure = self._failure(error, where, if_match=if_match)
                if isinstance(failure, ConflictError):
                    own = await self._own_write(client, bucket, path, data, where)
                    if own is not None:
                        return own
                raise failure from error
            return self._info(path, size, response, where)

        return await self._call(operation)

    async def _own_write(
        self, client: Any, bucket: str, path: str, data: bytes, where: str
    ) -> ObjectInfo | None:
        """After a conditional PutObject was refused: the object's info if it holds
        exactly ``data`` (its ETag is their MD5), which is our own write whose
        answer was lost, else ``None`` (someone else's write: a real conflict).

        A lost answer is retried, by botocore (``retries``) or by aiohttp, which
        sends a PUT once more by itself when a reused connection drops; the retry
        then meets our own write and gets 412. Reported as a conflict,
        ``update_session`` applied its function a second time. Every envelope the
        store writes carries its ``stored_at`` to the microsecond, so equal bytes
        mean this write. Every upload is one PutObject, whatever its size, so the
        ETag is the MD5 of the bytes (except under SSE-KMS/SSE-C, where it is not:
        there the conflict stands). One HeadObject, only on this path.
        """
        try:
            response = await client.head_object(Bucket=bucket, Key=self._key(path))
        except ClientError as error:
            if isinstance(translate(error, where), FileNotFoundError):
                return None  # gone since: not ours to claim
            raise translate(error, where) from error
        info = self._info(path, None, response, where)
        if info.size != len(data):
            return None
        # Off the loop: hashing a large body would stall every store on it.
        digest = await asyncio.get_running_loop().run_in_executor(None, _md5, data)
        return info if info.version == f'"{digest}"' else None

    @hookimpl
    async def sessionstore_download(self, bucket: str, path: str) -> StoredObject:
        """One GetObject: the bytes, ETag and Last-Modified of the same version.

        botocore retries until it has the answer's head; a body cut off or stalled
        after it is read again here (a GET changes nothing), within the same
        ``retries`` budget."""
        where = self._where(bucket, path)

        async def operation(client: Any) -> StoredObject:
            attempts = 0
            while True:
                try:
                    response = await client.get_object(Bucket=bucket, Key=self._key(path))
                except ClientError as error:
                    raise self._failure(error, where) from error
                attempts += 1 + response["ResponseMetadata"].get("RetryAttempts", 0)
                try:
                    async with response["Body"] as body:
                        data = await body.read()
                except BODY_ERRORS:
                    if attempts > self.retries:
                        raise
                    await asyncio.sleep(backoff(attempts))
                    continue
                return StoredObject(data=data, info=self._info(path, len(data), response, where))

        return await self._call(operation)

    async def _head(self, bucket: str, path: str) -> ObjectInfo:
        """One HeadObject; after a 404, one HeadBucket.

        A HEAD answer has no body, so no error code: a missing bucket gives the
        same bare 404 as a missing key, and get_session_metadata would report an
        absent file (delete_session ``False``) in a bucket deleted under the store.
        """
        where = self._where(bucket, path)

        async def operation(client: Any) -> ObjectInfo:
            try:
                response = await client.head_object(Bucket=bucket, Key=self._key(path))
            except ClientError as error:
                translated = translate(error, where)
                if isinstance(translated, FileNotFoundError):
                    await self._check_bucket(client, bucket, where)
                raise translated from error
            return self._info(path, None, response, where)

        return await self._call(operation)

    async def _check_bucket(self, client: Any, bucket: str, where: str) -> None:
        """Raise :class:`BucketNotFoundError` if HeadBucket finds no bucket (and a
        listing confirms it: see :meth:`_bucket_listed`)."""
        try:
            await client.head_bucket(Bucket=bucket)
        except ClientError as error:
            code, status = error_code(error)
            if status == 404 or code in ("NoSuchBucket", "NotFound"):
                if await self._bucket_listed(client, bucket):
                    return
                raise BucketNotFoundError(f"{where}: the bucket does not exist") from error
            raise translate(error, f"bucket {bucket!r}") from error

    @hookimpl
    async def sessionstore_exists(self, bucket: str, path: str) -> bool:
        """One HeadObject (and a HeadBucket when it is absent); "not found" is
        False, any other failure raises."""
        try:
            await self._head(bucket, path)
        except FileNotFoundError:
            return False
        return True

    @hookimpl
    async def sessionstore_stat(self, bucket: str, path: str) -> ObjectInfo:
        """One HeadObject (and a HeadBucket when it is absent)."""
        return await self._head(bucket, path)

    @hookimpl
    async def sessionstore_delete(
        self, bucket: str, paths: Sequence[str], if_match: str | None
    ) -> None:
        """DeleteObject for one path (with ``If-Match`` when given), else
        DeleteObjects for up to 1000 paths per request. Absent keys are no error."""
        if isinstance(paths, str):
            raise TypeError("paths must be a sequence of paths, not one string")
        if if_match is not None and len(paths) != 1:
            raise ValueError(f"if_match needs exactly one path, got {len(paths)}")
        if not paths:
            return
        if if_match is not None:
            check_version(if_match, self._where(bucket, paths[0]))
        keys = [self._key(path) for path in paths]

        async def operation(client: Any) -> None:
            if len(keys) == 1:
                where = self._where(bucket, paths[0])
                params: dict[str, Any] = {"Bucket": bucket, "Key": keys[0]}
                if if_match is not None:
                    params["IfMatch"] = if_match
                try:
                    await client.delete_object(**params)
                except ClientError as error:
                    raise self._failure(error, where, if_match=if_match) from error
                return
            for start in range(0, len(keys), MAX_KEYS):
                batch = keys[start : start + MAX_KEYS]
                where = f"s3://{bucket}/ ({len(batch)} objects)"
                try:
                    response = await client.delete_objects(
                        Bucket=bucket,
                        Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                    )
                except ClientError as error:
                    raise self._failure(error, where) from error
                failed = [e for e in response.get("Errors", []) if e.get("Code") != "NoSuchKey"]
                if failed:
                    first = failed[0]
                    message = (
                        f"S3 did not delete {len(failed)} of {len(batch)} objects in bucket "
                        f"{bucket!r}, e.g. {first.get('Key')!r}: {first.get('Code')}"
                    )
                    if first.get("Code") in PERMISSION_CODES:
                        raise PermissionError(message)
                    raise OSError(message)

        await self._call(operation)

    @hookimpl
    async def sessionstore_list(
        self, bucket: str, prefix: str, cursor: str | None, limit: int | None
    ) -> ListPage:
        """One ListObjectsV2 request (delimiter "/", at most 1000 entries).

        The cursor is S3's continuation token, which resumes strictly after the
        last key or common prefix of the previous page.
        """
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number or None, got {limit!r}")
        root = f"{self.prefix}/" if self.prefix else ""
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": root + prefix,
            "Delimiter": "/",
            "MaxKeys": MAX_KEYS if limit is None else min(limit, MAX_KEYS),
        }
        if cursor is not None:
            params["ContinuationToken"] = cursor
        where = f"s3://{bucket}/{root}{prefix}"

        async def operation(client: Any) -> ListPage:
            try:
                response = await client.list_objects_v2(**params)
            except ClientError as error:
                if error_code(error)[0] == "NoSuchBucket":
                    raise BucketNotFoundError(f"{where}: the bucket does not exist") from error
                raise self._failure(error, where) from error
            if "IsTruncated" not in response:  # it read as no sessions
                raise not_s3(f"listing {where}", self.endpoint_url)
            names = [item["Key"] for item in response.get("Contents", [])]
            # Keys ending in "/" are "folder" markers other tools create: not objects.
            names = [name for name in names if not name.endswith("/")]
            names += [item["Prefix"] for item in response.get("CommonPrefixes", [])]
            entries = tuple(
                name[len(root) :] for name in sorted(names) if not _hidden(name[len(root) :])
            )
            token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
            return ListPage(entries=entries, cursor=token)

        return await self._call(operation)
