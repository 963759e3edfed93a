"""Requests to the Cloud Storage JSON API, sent through a gcsfs filesystem.

gcsfs supplies what is hard to get right: the credential chain and token refresh,
the endpoint (``endpoint_url``, ``STORAGE_EMULATOR_HOST``, mTLS), and an aiohttp
session on fsspec's own event-loop thread. The requests themselves are built here
rather than through ``GCSFileSystem.call``, because that path

- retries every connection error six times with up to 32 s of back-off, hard-wired
  at class definition, so an unreachable server surfaces after ~30 s instead of
  within the configured ``connect_timeout`` and ``retries``;
- reads whole bodies with ``aiohttp``'s ``read()`` (the bytes twice in memory while
  they are joined) and sends uploads as one ``bytes`` body (copied when sliced);
- maps every 412 to ``FileExistsError`` and every 403 to a bare ``OSError``.

Everything here runs on fsspec's loop: :meth:`Transport.run` is the one blocking
entry point, called from a worker thread (one per storage operation).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import os
import random
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import attrs
from yarl import URL

from sessionstore.forksafe import ForkSafeLock
from sessionstore.threads import run_on_loop

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses Google asks clients to retry with back-off."""

CHUNK = 1 << 20
"""Bytes per piece when streaming a body in or out."""

HNS_VARIABLE = "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"

_import_lock = ForkSafeLock()


def import_gcsfs() -> Any:
    """Import gcsfs, first defaulting ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT`` to false.

    gcsfs reads that variable once, at import. When it is on (gcsfs's default since
    2025), ``gcsfs.GCSFileSystem`` becomes an experimental subclass whose file
    operations first ask the Storage Control API over gRPC what kind of bucket they
    touch. Against an emulator or any endpoint that is not Google's, that call
    retries until it times out: every operation stalls 40-105 s. This backend only
    uses gcsfs's session and credentials and builds ``gcsfs.core.GCSFileSystem``
    itself, so it never takes that path; the default keeps gcsfs from loading the
    gRPC stack at all. A value already set (``true`` included) is respected, and
    nothing changes if gcsfs was imported before.
    """
    with _import_lock:
        os.environ.setdefault(HNS_VARIABLE, "false")
        import gcsfs.core  # type: ignore[import-untyped]

    return gcsfs


@attrs.frozen
class Response:
    """A complete response: status, headers and body.

    ``retried`` says an earlier attempt of the same request failed without an
    answer, so the server may have acted on it.
    """

    status: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    body: bytes
    retried: bool = False

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}

    def message(self) -> str:
        """The error message the service sent, short, for exceptions."""
        try:
            error = self.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict) and error.get("message"):
            text = str(error["message"])
        elif isinstance(error, str):
            text = error
        else:
            text = self.body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {self.status}" + (f": {text}" if text else "")


Body = Callable[[], AsyncIterator[bytes | memoryview]]
"""A factory of the request body, called once per attempt."""


def object_url(base: str, bucket: str, name: str) -> str:
    return f"{base}b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"


def with_query(url: str, params: Mapping[str, object | None]) -> str:
    present = {key: str(value) for key, value in params.items() if value is not None}
    return f"{url}?{urlencode(present, quote_via=quote)}" if present else url


def multipart_related(metadata: Mapping[str, Any], data: bytes) -> tuple[str, int, Body]:
    """A JSON API multipart upload body: the object's metadata, then its bytes.

    Returns the content type, the length and a factory streaming the parts, so
    ``data`` is sent in slices and never copied whole.
    """
    boundary = f"sessionstore-{random.getrandbits(128):032x}"
    head = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
        f"{json.dumps(metadata)}\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    view = memoryview(data).cast("B")

    async def parts() -> AsyncIterator[bytes | memoryview]:
        yield head
        for start in range(0, len(view), CHUNK):
            yield view[start : start + CHUNK]
        yield tail

    return f'multipart/related; boundary="{boundary}"', len(head) + len(view) + len(tail), parts


def _credentials_error(error: Exception) -> OSError:
    """Getting a token failed: refused (:class:`PermissionError`), or unreachable
    or failing on the service's side (:class:`OSError`)."""
    from google.auth.exceptions import TransportError

    text = f"getting credentials failed: {type(error).__name__}: {error}"
    if isinstance(error, TransportError) or getattr(error, "retryable", False):
        return OSError(text)
    return PermissionError(text)


def _refresh(credentials: Any, timeout: tuple[float, float]) -> None:
    """Refresh ``credentials`` (a google-auth Credentials object), blocking, with
    ``timeout`` (connect, read) on each request to the token endpoint.

    google-auth's own transport waits 120 s per request unless told otherwise, and
    gcsfs's ``GoogleCredentials.maybe_refresh`` does not tell it.
    """
    import requests
    from google.auth.transport.requests import Request

    class TimedRequest(Request):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = timeout
            return super().__call__(*args, **kwargs)  # type: ignore[no-untyped-call]

    if credentials.valid:
        return
    with requests.Session() as session:
        credentials.refresh(TimedRequest(session))


class Transport:
    """Sends JSON API requests over one gcsfs filesystem's session and credentials.

    :param fs: a ``gcsfs.core.GCSFileSystem`` (its aiohttp session is created on
        first use, on fsspec's loop).
    :param retries: further attempts after a connection error, a timeout or a
        retryable status (408, 429, 5xx), with jittered exponential back-off.
    """

    def __init__(
        self,
        fs: Any,
        *,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        user_agent: str,
    ) -> None:
        self.fs = fs
        self.base: str = fs.base  # "<endpoint>/storage/v1/"
        root = self.base.removesuffix("storage/v1/")
        self.upload_base = root + "upload/storage/v1/"
        self.batch_url = root + "batch/storage/v1"
        self.retries = retries
        self.user_agent = user_agent
        self.timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._describe_timeout = (
            f"connect_timeout={connect_timeout:g}s, read_timeout={read_timeout:g}s"
        )
        self._token_timeout = (connect_timeout, read_timeout)
        self._refreshing: asyncio.Future[None] | None = None
        """The token refresh under way, shared by the requests that wait for it."""

    async def close(self) -> None:
        """Close the filesystem's aiohttp session and its pooled connections (on
        fsspec's loop). gcsfs closes it only when the filesystem is garbage
        collected, so without this a closed store kept its sockets open."""
        session = self.fs._session
        self.fs._session = None
        if session is not None and not session.closed:
            await session.close()

    def run(
        self,
        function: Callable[..., Coroutine[Any, Any, T]],
        *args: Any,
        cancellable: bool = True,
    ) -> T:
        """Run ``function(*args)`` on fsspec's loop and wait for it (blocking).

        Unlike ``fsspec.asyn.sync``, exceptions come back as raised (fsspec turns
        every ``TimeoutError`` into its own ``FSTimeoutError`` without a message).

        Called from :func:`~sessionstore.threads.run_blocking`, a cancelled caller
        has the request cut off (:func:`sessionstore.threads.run_on_loop`): the
        timeouts alone did not bound the wait, as a server trickling its answer
        meets every ``read_timeout``. ``cancellable=False`` waits for the end
        whatever the caller does (for closing).
        """
        return run_on_loop(self.fs.loop, function, *args, cancellable=cancellable)

    @staticmethod
    async def backoff(attempt: int) -> None:
        """Sleep before retry ``attempt`` (1, 2, ...): 0.1-0.2 s, doubling, at most 4 s."""
        await asyncio.sleep(min(4.0, 0.2 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, object | None] | None = None,
        json_body: Any = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request, retrying transport failures and retryable statuses.

        Returns any final response (4xx included) for the caller to interpret;
        raises :class:`OSError` when no attempt got an answer.
        """
        target = URL(with_query(url, params or {}), encoded=True)
        failure: BaseException | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await self.backoff(attempt)
            try:
                response = await self._send(method, target, json_body, body, headers)
            except aiohttp.InvalidURL:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                failure = error
                continue
            retried = failure is not None
            if response.status in RETRY_STATUSES and attempt < self.retries:
                failure = OSError(response.message())
                continue
            return attrs.evolve(response, retried=retried)
        assert failure is not None
        what = f"{method} {target.with_query(None)}"
        attempts = f"{self.retries + 1} attempt{'s' if self.retries else ''}"
        if isinstance(failure, asyncio.TimeoutError):
            raise TimeoutError(
                f"{what}: no answer within the timeouts ({self._describe_timeout}), {attempts}"
            ) from failure
        raise OSError(f"{what}: {type(failure).__name__}: {failure} ({attempts})") from failure

    async def _credentials(self) -> Any:
        """The google-auth credentials (``None``: anonymous), with a token that is
        not about to expire.

        A due refresh runs in a thread of its own, never on fsspec's loop: its
        requests block (google-auth speaks ``requests``), and on the loop they
        stalled every store using it, other GCS stores and s3fs's alike, for as
        long as the token endpoint took (google-auth waits up to 120 s by
        default; here ``connect_timeout`` and ``read_timeout``). Requests that find
        a refresh under way wait for that one; a cancelled request stops waiting
        at once and leaves the refresh to finish for the others.
        """
        credentials = self.fs.credentials.credentials
        if credentials is None or credentials.valid:
            return credentials
        if self._refreshing is None or self._refreshing.done():
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            timeout = self._token_timeout

            def refresh() -> None:
                done.set_running_or_notify_cancel()
                try:
                    _refresh(credentials, timeout)
                except BaseException as error:
                    done.set_exception(error)
                else:
                    done.set_result(None)

            # A daemon thread: a stalled token endpoint must not hold up exit.
            threading.Thread(target=refresh, name="sessionstore-gcs-token", daemon=True).start()
            self._refreshing = asyncio.wrap_future(done)
            # Retrieved here, so that a failure every waiter gave up on is not logged.
            self._refreshing.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            await asyncio.shield(self._refreshing)
        except Exception as error:  # google-auth raises several types
            raise _credentials_error(error) from error
        return credentials

    async def _send(
        self,
        method: str,
        target: URL,
        json_body: Any,
        body: Body | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Response:
        fs = self.fs
        await fs._set_session()
        headers = {"User-Agent": self.user_agent, **(extra_headers or {})}
        credentials = await self._credentials()
        if credentials is not None:
            try:
                credentials.apply(headers)  # adds Authorization (no request)
            except Exception as error:  # google-auth raises several types
                raise _credentials_error(error) from error
        data: Any = None
        if body is not None:
            data = body()
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        async with fs.session.request(
            method, target, data=data, headers=headers, timeout=self.timeout
        ) as response:
            buffer = io.BytesIO()
            async for piece in response.content.iter_chunked(CHUNK):
                buffer.write(piece)
            # BytesIO hands its own buffer over: no second copy of a large body.
            return Response(response.status, response.headers, buffer.getvalue())
