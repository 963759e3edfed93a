"""The Cloud Storage JSON API calls the backend makes, one coroutine each.

They run on fsspec's loop (see :mod:`sessionstore_gcs.transport`) and speak in
object names and JSON resources; :mod:`sessionstore_gcs.backend` maps them to
sessionstore paths and types. Failures: 404 on an object is
:class:`FileNotFoundError` or ``None`` as documented per call, 401/403 is
:class:`PermissionError`, a failed precondition is :class:`PreconditionFailed`,
anything else :class:`OSError` with the service's message.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from sessionstore_gcs.transport import (
    RETRY_STATUSES,
    Response,
    Transport,
    multipart_related,
    object_url,
    with_query,
)

OBJECT_FIELDS = "name,size,generation,updated,timeCreated,metadata"
"""The parts of an object resource the backend reads (trims real GCS's responses)."""

WRITE_ID = "sessionstore-write-id"
"""Custom metadata naming each upload, so a retried conditional upload can tell
its own earlier success from someone else's write."""

BATCH_LIMIT = 100
"""Most calls GCS accepts in one batch request."""


class BucketNotFoundError(LookupError):
    """The store's bucket does not exist (and the backend may not create it)."""


class PreconditionFailed(Exception):
    """The service refused a request because an ``ifGenerationMatch`` did not hold."""


def fail(response: Response, what: str) -> Exception:
    """The exception for an unexpected response to the request described by ``what``."""
    if response.status in (401, 403):
        return PermissionError(f"{what}: {response.message()}")
    if response.status == 404:
        return FileNotFoundError(f"{what}: {response.message()}")
    return OSError(f"{what}: {response.message()}")


async def bucket_exists(transport: Transport, bucket: str) -> bool:
    """Whether ``bucket`` exists, by listing at most one object.

    Listing needs only ``storage.objects.list``, which the backend needs anyway;
    reading the bucket's own metadata would need ``storage.buckets.get``, which
    common object-level roles (Storage Object Admin/User) lack.
    """
    url = f"{transport.base}b/{quote(bucket, safe='')}/o"
    response = await transport.request(
        "GET", url, params={"maxResults": 1, "fields": "nextPageToken"}
    )
    if response.status == 200:
        return True
    if response.status == 404:
        return False
    raise fail(response, f"checking bucket {bucket!r}")


async def create_bucket(
    transport: Transport, bucket: str, project: str | None, location: str | None
) -> None:
    """Create ``bucket`` in ``project``; an existing bucket (409) is fine."""
    resource = {"name": bucket} | ({"location": location} if location else {})
    response = await transport.request(
        "POST",
        f"{transport.base}b",
        params={"project": project or None, "fields": "name"},
        json_body=resource,
    )
    if response.status not in (200, 409):
        raise fail(response, f"creating bucket {bucket!r} in project {project!r}")


async def insert(
    transport: Transport, bucket: str, name: str, data: bytes, if_generation_match: int | None
) -> dict[str, Any]:
    """Upload ``data`` as ``name`` in one multipart request; return the new resource.

    ``if_generation_match`` (0: the object must not exist) travels with the upload
    itself, so the check and the write are one atomic step on the service.
    """
    write_id = uuid.uuid4().hex
    metadata = {
        "name": name,
        "contentType": "application/octet-stream",
        "metadata": {WRITE_ID: write_id},
    }
    content_type, length, body = multipart_related(metadata, data)
    url = f"{transport.upload_base}b/{quote(bucket, safe='')}/o"
    params = {
        "uploadType": "multipart",
        "ifGenerationMatch": if_generation_match,
        "fields": OBJECT_FIELDS,
    }
    response = await transport.request(
        "POST",
        url,
        params=params,
        body=body,
        headers={"Content-Type": content_type, "Content-Length": str(length)},
    )
    if response.status == 200:
        return dict(response.json())
    if response.status == 412:
        if response.retried:
            # An earlier attempt may have written the object before its answer was
            # lost; then this 412 is our own write, not a conflict.
            current = await get_metadata(transport, bucket, name)
            if current is not None and (current.get("metadata") or {}).get(WRITE_ID) == write_id:
                return current
        raise PreconditionFailed(name)
    if response.status == 404:
        raise BucketNotFoundError(f"uploading {name!r}: bucket {bucket!r} does not exist")
    raise fail(response, f"uploading {name!r}")


async def _check_bucket(transport: Transport, bucket: str, what: str) -> None:
    """After a 404 on an object: raise :class:`BucketNotFoundError` if the bucket
    itself is gone. An object request answers a missing bucket with the same 404 as
    a missing object (fake-gcs-server with the same body too), so without this
    check a deleted bucket would read as an absent session."""
    if not await bucket_exists(transport, bucket):
        raise BucketNotFoundError(f"{what}: bucket {bucket!r} does not exist")


async def get_media(transport: Transport, bucket: str, name: str) -> Response:
    """Download the current bytes of ``name``; the response headers carry their
    generation (``x-goog-generation``) and ``Last-Modified``.

    Raises :class:`FileNotFoundError` if there is no such object (one more request
    tells that from a missing bucket, :class:`BucketNotFoundError`).
    """
    url = object_url(transport.base, bucket, name)
    response = await transport.request("GET", url, params={"alt": "media"})
    if response.status == 200:
        return response
    if response.status == 404:
        await _check_bucket(transport, bucket, f"downloading {name!r}")
    raise fail(response, f"downloading {name!r}")


async def get_metadata(transport: Transport, bucket: str, name: str) -> dict[str, Any] | None:
    """The object resource of ``name``, or ``None`` if there is no such object
    (one more request tells that from a missing bucket, :class:`BucketNotFoundError`)."""
    url = object_url(transport.base, bucket, name)
    response = await transport.request("GET", url, params={"fields": OBJECT_FIELDS})
    if response.status == 200:
        return dict(response.json())
    if response.status == 404:
        await _check_bucket(transport, bucket, f"reading the metadata of {name!r}")
        return None
    raise fail(response, f"reading the metadata of {name!r}")


async def delete(
    transport: Transport, bucket: str, name: str, if_generation_match: int | None = None
) -> bool:
    """Delete ``name``; return whether it existed.

    With ``if_generation_match``, raise :class:`PreconditionFailed` when the live
    generation differs (412) or the object is absent (404).
    """
    url = object_url(transport.base, bucket, name)
    response = await transport.request(
        "DELETE", url, params={"ifGenerationMatch": if_generation_match}
    )
    if response.status in (200, 204):
        return True
    if response.status == 404:
        if if_generation_match is not None:
            raise PreconditionFailed(name)
        return False
    if response.status == 412:
        raise PreconditionFailed(name)
    raise fail(response, f"deleting {name!r}")


async def delete_many(transport: Transport, bucket: str, names: Sequence[str]) -> None:
    """Delete ``names`` (absent ones skipped) with batch requests of up to 100
    calls, sent concurrently; calls answered with a retryable status are retried."""
    if len(names) == 1:
        await delete(transport, bucket, names[0])
        return
    chunks = [names[start : start + BATCH_LIMIT] for start in range(0, len(names), BATCH_LIMIT)]
    await asyncio.gather(*(_delete_batch(transport, bucket, chunk) for chunk in chunks))


async def _delete_batch(transport: Transport, bucket: str, names: Sequence[str]) -> None:
    path = transport.base.split("://", 1)[-1].partition("/")[2]  # "storage/v1/"
    pending = list(names)
    for attempt in range(transport.retries + 1):
        if attempt:
            await transport.backoff(attempt)
        boundary = f"sessionstore-{uuid.uuid4().hex}"
        parts = [
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{index}>\r\n\r\n"
            f"DELETE /{path}b/{quote(bucket, safe='')}/o/{quote(name, safe='')} HTTP/1.1\r\n"
            "\r\n\r\n"
            for index, name in enumerate(pending)
        ]
        payload = ("".join(parts) + f"--{boundary}--\r\n").encode()

        async def body(payload: bytes = payload) -> AsyncIterator[bytes]:
            yield payload

        response = await transport.request(
            "POST",
            transport.batch_url,
            body=body,
            headers={
                "Content-Type": f"multipart/mixed; boundary={boundary}",
                "Content-Length": str(len(payload)),
            },
        )
        if response.status != 200:
            raise fail(response, f"deleting {len(pending)} objects")
        statuses = _batch_statuses(response, len(pending))
        retry = []
        for index, (status, message) in enumerate(statuses):
            if status in (200, 204, 404):
                continue
            if status in RETRY_STATUSES and attempt < transport.retries:
                retry.append(pending[index])
                continue
            what = f"deleting {pending[index]!r}: HTTP {status}: {message}"
            raise PermissionError(what) if status in (401, 403) else OSError(what)
        if not retry:
            return
        pending = retry


_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")


def _batch_statuses(response: Response, count: int) -> list[tuple[int, str]]:
    """Status and message of each call in a batch response, in request order
    (matched by ``Content-ID: <response-N>``)."""
    content_type = response.headers.get("Content-Type", "")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + response.body
    )
    found: dict[int, tuple[int, str]] = {}
    for position, part in enumerate(message.iter_parts()):
        content_id = str(part.get("Content-ID", "")).strip("<>")
        index = int(content_id.rpartition("-")[2]) if content_id[-1:].isdigit() else position
        raw = part.get_payload(decode=True)
        if not isinstance(raw, bytes):
            raw = str(part.get_payload()).encode()
        match = _STATUS_LINE.match(raw.lstrip())
        status = int(match.group(1)) if match else 0
        body = raw.partition(b"\r\n\r\n")[2] or raw.partition(b"\n\n")[2]
        found[index] = (status, Response(status, response.headers, body.strip()).message())
    missing = [index for index in range(count) if index not in found]
    if missing:
        raise OSError(f"batch delete: the answer lacks {len(missing)} of {count} calls")
    return [found[index] for index in range(count)]


async def list_objects(
    transport: Transport, bucket: str, params: Mapping[str, object | None]
) -> dict[str, Any]:
    """One ``objects.list`` page (``items``, ``prefixes``, ``nextPageToken``).

    A missing bucket raises :class:`OSError`.
    """
    url = f"{transport.base}b/{quote(bucket, safe='')}/o"
    response = await transport.request("GET", url, params=params)
    if response.status == 200:
        return dict(response.json())
    if response.status == 404:
        raise BucketNotFoundError(f"listing: bucket {bucket!r} does not exist")
    raise fail(response, f"listing {with_query('', params)!r}")
