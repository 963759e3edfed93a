"""The fault proxy of :mod:`emulators.faults` itself, where the tests that use it
cannot tell its failure from the client's."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emulators.faults import FaultProxy


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _hello_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def descriptors_past_1024() -> Iterator[None]:
    """Hold enough open descriptors that the next sockets are numbered 1024 or more."""
    if sys.platform == "win32":
        pytest.skip("descriptor numbers and select()'s FD_SETSIZE limit are POSIX's")
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"this process may open only {hard} descriptors")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    held: list[int] = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_proxy_serves_when_its_sockets_are_numbered_past_1024(
    descriptors_past_1024: None,
) -> None:
    """Regression: the proxy waited for connections with select.select, which
    refuses descriptors from 1024 on; it swallowed the error and never accepted.
    A whole-suite run on Python 3.10 and 3.13 had that many open by the time the
    s3 tests made their proxies, whose requests then all timed out."""
    with _hello_server() as upstream, FaultProxy(upstream) as proxy:
        with urllib.request.urlopen(proxy.url, timeout=5) as answer:
            assert answer.read() == b"hello"
        assert proxy.connections == 1
