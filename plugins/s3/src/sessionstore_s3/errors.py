"""Turning S3 answers into the errors the hook contract names, and telling an
answer that is not S3's (a web page from a wrong endpoint) from one that is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sessionstore.errors import ConflictError

PERMISSION_CODES = frozenset(
    {
        "AccessDenied",
        "AccountProblem",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)


class BucketNotFoundError(LookupError):
    """The store's bucket does not exist (and the backend may not create it)."""


def error_code(error: Exception) -> tuple[str, int]:
    """The S3 error code and HTTP status of a failed request (a botocore ClientError)."""
    response: Mapping[str, Any] = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def translate(error: Exception, where: str, *, if_match: str | None = None) -> Exception:
    """The sessionstore-facing error for a failed S3 request (or ``error`` itself).

    ``if_match`` is the condition the request carried, if any: then "not found"
    means the precondition failed too.
    """
    code, status = error_code(error)
    if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict"):
        # 409 ConditionalRequestConflict: a concurrent conditional write to the
        # same key won the race.
        if if_match is None:
            return ConflictError(f"cannot create {where}: an object already exists there")
        return ConflictError(f"{where} is no longer at version {if_match}")
    if code == "NoSuchBucket":
        return BucketNotFoundError(f"{where}: the bucket does not exist")
    if status == 404 or code in ("NoSuchKey", "NotFound"):
        if if_match is not None:
            return ConflictError(f"{where}: expected version {if_match}, but there is no object")
        return FileNotFoundError(f"no object {where}")
    if status in (401, 403) or code in PERMISSION_CODES:
        return PermissionError(f"S3 refused access to {where}: {code or status}")
    return error


_ENTITY_TAG = re.compile(r'"[\x21\x23-\x7e]+"')
"""A strong HTTP entity tag, as S3 writes every ETag: quoted, no spaces inside."""


def check_version(token: str, where: str) -> None:
    """Raise :class:`ConflictError` for an ``if_match`` that cannot be an ETag.

    Sent as they are, such tokens made the write unconditional: botocore sends an
    empty or blank ``If-Match``, which S3 ignores, and ``*`` matches any object.
    """
    if not _ENTITY_TAG.fullmatch(token) or token == '"*"':
        raise ConflictError(f"{where}: {token!r} is not the version (ETag) of any object")


def is_web_page(response: Mapping[str, Any]) -> bool:
    """Whether a GetObject/HeadObject answer is a web page: there Content-Type is
    the object's own, which sessionstore never sets (S3 stores
    binary/octet-stream), while a web server sends its page's text/html, with
    an ETag and Last-Modified too if it serves static files."""
    return str(response.get("ContentType") or "").lower().startswith("text/html")


def lacks_s3_code(error: Exception) -> bool:
    """Whether a refusal of a request that has an answer body (not HEAD) lacks
    S3's XML error code: botocore then makes the code ``""`` (the body was other
    XML, e.g. a web server's ``405 Not Allowed`` page) or the bare status. S3
    always names the error; 5xx answers are left alone, as a proxy's outage page
    in front of S3 is no wrong endpoint."""
    code, status = error_code(error)
    return 400 <= status < 500 and code in ("", str(status))


def not_s3(what: str, endpoint_url: str | None) -> OSError:
    """The error for an answer that is not S3's (a web page, say, from a console's
    port): botocore parses a 200 one into an empty, or incomplete, result, and a
    refusal into an error without a code."""
    return OSError(
        f"{what}: the answer is not from S3; is endpoint_url ({endpoint_url or 'AWS'}) "
        "the S3 API of the store?"
    )
