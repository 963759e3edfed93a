"""Building and driving the s3fs client a backend uses: its configuration, the
one call per operation on fsspec's IO loop, and how request bodies are sent and
answers' bodies read again."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import random
import threading
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

from sessionstore.threads import caller_cancelled

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


CANCEL_CHECK_INTERVAL = 0.05
"""Seconds between two looks, from the worker thread, at the caller's cancel scope."""

WIND_DOWN_TIMEOUT = 5.0
"""Seconds a cancelled request gets to end on fsspec's loop before the worker
stops waiting for it (a task cancelled there ends at its next await)."""


def run_on_loop(fs: Any, operation: Callable[[Any], Awaitable[T]]) -> T:
    """In a worker thread: run ``operation(client)`` on fsspec's loop and wait.
    Missing credentials are a :class:`PermissionError`, not a storage failure
    worth retrying.

    The wait asks :func:`~sessionstore.threads.caller_cancelled` every
    :data:`CANCEL_CHECK_INTERVAL` seconds: cancelled (``fail_after``,
    ``move_on_after``, ``cancel()``, under asyncio or trio, and asyncio's own
    ``task.cancel()`` and ``asyncio.timeout``), the request is cancelled on the
    loop, which aborts it (its connection is closed), and once it has ended this
    raises :class:`ConnectionAbortedError`, for which the core raises the caller's
    cancellation. Waiting for the request instead took up to (retries + 1) x
    read_timeout, and forever against a server that trickles its answer.

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

    # run_coroutine_threadsafe, by hand: its future is marked cancelled at once,
    # while the request goes on until the loop gets to cancel the task. ``ended``
    # tells when the task is over: waiting on the future with a timeout cannot, as
    # the request's own failure may be a TimeoutError too.
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()
    ended = threading.Event()
    tasks: list[asyncio.Task[T]] = []

    def finished(task: asyncio.Task[T]) -> None:
        if task.cancelled():
            outcome.cancel()
        elif (error := task.exception()) is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(task.result())
        ended.set()

    def start() -> None:
        task = fs.loop.create_task(call())
        task.add_done_callback(finished)
        tasks.append(task)

    fs.loop.call_soon_threadsafe(start)
    while not ended.wait(CANCEL_CHECK_INTERVAL):
        if caller_cancelled():
            # Called after start(), so the task is there by then.
            fs.loop.call_soon_threadsafe(lambda: tasks[0].cancel())
            ended.wait(WIND_DOWN_TIMEOUT)
            if not ended.is_set() or outcome.cancelled():
                raise ConnectionAbortedError("the request was cut off: its caller was cancelled")
            break  # it ended on its own meanwhile: its own outcome
    try:
        return outcome.result()
    except concurrent.futures.CancelledError:
        raise ConnectionAbortedError(
            "the request was cut off: the store was closed while it was in flight"
        ) from None
