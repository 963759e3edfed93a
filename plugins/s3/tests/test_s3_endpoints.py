"""An ``endpoint_url`` that is a web server, not S3: every operation fails with a
StorageUnavailableError that names the endpoint, never with a made-up result.

The servers here are the kinds a wrong port answers from: a static site or a
console's front end (nginx and the like: 200 with ETag and Last-Modified for
GET/HEAD, "405 Not Allowed" for anything else), and a server answering every
request with an empty 200.
"""

from __future__ import annotations

import http.server
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulators.faults import http_server, web_page_server
from sessionstore import SessionStore, StorageUnavailableError

PAGE = b"<html><head><title>Console</title></head><body>Sign in</body></html>"
REFUSED = b"<html><head><title>405 Not Allowed</title></head><body>nginx</body></html>"


class _StaticSite(http.server.BaseHTTPRequestHandler):
    """GET/HEAD: 200 with a page and the validators a static file server sends;
    other methods: nginx's 405 page."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        readable = self.command in ("GET", "HEAD")
        body = PAGE if readable else REFUSED
        self.send_response(200 if readable else 405)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        if readable:
            self.send_header("ETag", '"6571a3f2-44"')
            self.send_header("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *_args: Any) -> None:
        """No access log on stderr."""


class _EmptyAnswers(http.server.BaseHTTPRequestHandler):
    """Every request: 200 with no body and no headers but its length."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *_args: Any) -> None:
        """No access log on stderr."""


@pytest.fixture(
    params=[
        pytest.param(_StaticSite, id="static-site"),
        pytest.param(_EmptyAnswers, id="empty-200"),
    ]
)
def web_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a local web server that is not S3."""
    with http_server(request.param) as url:
        yield url


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda store: store.list_sessions(), id="list"),
        pytest.param(lambda store: store.store_session("s", {"n": 1}), id="store"),
        pytest.param(lambda store: store.load_session("s"), id="load"),
        pytest.param(lambda store: store.session_exists("s"), id="exists"),
        pytest.param(lambda store: store.get_session_metadata("s"), id="metadata"),
        pytest.param(lambda store: store.delete_session("s"), id="delete"),
    ],
)
async def test_a_web_server_as_endpoint_is_named_as_not_s3(
    s3_options: dict[str, Any], web_server: str, operation: Callable[[SessionStore], Any]
) -> None:
    """Against a static site, load raised CorruptSessionError (the page read as
    the session's JSON), exists said True, metadata made up a session from the
    page's headers and store failed as a bare "An error occurred ()"."""
    options = {**s3_options, "endpoint_url": web_server, "retries": 0}
    store = SessionStore(backend="s3", bucket="b-1", **options)
    try:
        with pytest.raises(StorageUnavailableError, match="the answer is not from S3") as caught:
            await operation(store)
        assert f"is endpoint_url ({web_server}) the S3 API" in str(caught.value)
    finally:
        await store.aclose()


@pytest.mark.parametrize("paths", [["s/state.json"], ["s/a.json", "s/state.json"]])
async def test_a_refused_delete_is_named_as_not_s3(
    s3_options: dict[str, Any], paths: list[str]
) -> None:
    """The backend's deletes (DeleteObject for one path, DeleteObjects for more),
    which delete_session reaches only after a listing: a web server's 405 page
    carries no S3 error code."""
    with http_server(_StaticSite) as endpoint:
        options = {**s3_options, "endpoint_url": endpoint, "retries": 0}
        store = SessionStore(backend="s3", bucket="b-1", **options)
        try:
            with pytest.raises(StorageUnavailableError, match="the answer is not from S3"):
                await store._storage.delete(paths)
        finally:
            await store.aclose()


@pytest.mark.parametrize("create_bucket", [False, True])
async def test_a_web_servers_404_for_the_bucket_is_named_as_not_s3(
    s3_options: dict[str, Any], create_bucket: bool
) -> None:
    """HeadBucket's 404 has no body: a web server's "not found" read as "the bucket
    does not exist. Create it ...", and with create_bucket the CreateBucket
    failed as a bare ClientError (docs audit, finding 5)."""
    page = b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
    with web_page_server(404, page) as endpoint:
        options = {**s3_options, "endpoint_url": endpoint, "retries": 0}
        store = SessionStore(backend="s3", bucket="www", create_bucket=create_bucket, **options)
        try:
            with pytest.raises(
                StorageUnavailableError, match="the answer is not from S3"
            ) as caught:
                await store.store_session("s", {})
            assert f"is endpoint_url ({endpoint}) the S3 API" in str(caught.value)
            assert "does not exist" not in str(caught.value)
        finally:
            await store.aclose()
