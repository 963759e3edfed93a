"""Building and driving the s3fs client a backend uses: its configuration, the
one call per operation on fsspec's IO loop, and how request bodies are sent and
answers' bodies read again."""

from __future__ import annotations

import io
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import botocore.handlers  # type: ignore[import-untyped]
import s3fs  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)

from sessionstore.threads import run_on_loop

T = TypeVar("T")

BODY_ERRORS = (HTTPClientError, IncompleteReadError, aiohttp.ClientPayloadError)
"""Reading an answer's body failed: it stalled past the read timeout, the
connection dropped, or fewer bytes came than announced."""


def backoff(attempts: int) -> float:
    """Seconds to wait before the next attempt after ``attempts``: botocore's
    standard back-off (random, up to 2 ** (attempts - 1) s, at most 20 s)."""
    return random.random() * min(20.0, 2.0 ** (attempts - 1))


class BytesReader(io.RawIOBase):
    """A seekable, read-only file over ``data`` that never copies it whole.

    botocore wraps a ``bytes`` body in ``io.BytesIO`` and aiohttp then asks that
    for its buffer, which makes BytesIO copy the whole object. Through this reader
    the body is sent (and checksummed, and signed) chunk by chunk instead.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        position = base[whence] + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        start = min(self._position, len(self._view))
        stop = len(self._view) if size is None or size < 0 else min(len(self._view), start + size)
        self._position = stop
        return self._view[start:stop].tobytes()

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def without_expect_continue(client: Any) -> Any:
    """``client``, made to send PutObject bodies without ``Expect: 100-continue``.

    botocore adds that header to every request whose body is a file, and aiohttp
    then waits for the server's "100 Continue" with no timeout at all (its read
    timeout starts once the body is sent): a server that accepts the connection
    but never answers held ``store_session`` forever, whatever ``read_timeout``
    said. Bodies here are small and sent whole, so the header saves nothing.
    """
    if not getattr(client, "_sessionstore_no_expect", False):
        client.meta.events.unregister("before-call.s3", botocore.handlers.add_expect_header)
        client._sessionstore_no_expect = True
    return client


def new_filesystem(
    *,
    endpoint_url: str | None,
    region: str | None,
    key: str | None,
    secret: str | None,
    token: str | None,
    profile: str | None,
    addressing_style: str,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
) -> Any:
    """A new S3FileSystem of its own (never s3fs's shared instance), with botocore's
    "standard" retries and no listings cache."""
    config: dict[str, Any] = {
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "retries": {"total_max_attempts": retries + 1, "mode": "standard"},
    }
    if addressing_style != "auto":
        config["s3"] = {"addressing_style": addressing_style}
    extra: dict[str, Any] = {"profile": profile} if profile else {}
    return s3fs.S3FileSystem(
        endpoint_url=endpoint_url,
        key=key,
        secret=secret,
        token=token,
        client_kwargs={"region_name": region} if region else {},
        config_kwargs=config,
        skip_instance_cache=True,
        use_listings_cache=False,
        **extra,
    )


def run_with_client(fs: Any, operation: Callable[[Any], Awaitable[T]]) -> T:
    """In a worker thread: run ``operation(client)`` on fsspec's loop and wait.
    Missing credentials are a :class:`PermissionError`, not a storage failure
    worth retrying.

    A cancelled caller has its request cut off
    (:func:`sessionstore.threads.run_on_loop`): waiting for it instead took up to
    (retries + 1) x read_timeout, and forever against a server that trickles its
    answer.

    Not ``fsspec.asyn.sync``: it returns ``None`` for a coroutine that was
    cancelled (closing the client cancels the requests in flight), and a download
    returning ``None`` read as "no such session". A cancelled request raises
    :class:`ConnectionAbortedError` here."""

    async def call() -> T:
        try:
            return await operation(without_expect_continue(await fs.set_session()))
        except (NoCredentialsError, PartialCredentialsError) as error:
            raise PermissionError(
                f"no usable S3 credentials: {error}. Pass key and secret, or configure "
                "the standard AWS chain (environment, profile, instance role)"
            ) from error
        except ProfileNotFound as error:
            raise PermissionError(
                f"no usable S3 credentials: {error} (in AWS_CONFIG_FILE / "
                "AWS_SHARED_CREDENTIALS_FILE, by default ~/.aws/config and ~/.aws/credentials)"
            ) from error

    return run_on_loop(fs.loop, call)
