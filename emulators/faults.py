"""A TCP proxy in front of a test server that injects network faults.

:class:`FaultProxy` forwards connections to the server until told to misbehave,
then applies one :class:`Fault` to every connection, new or open:

- ``REFUSE``: nothing listens any more; connecting fails at once (RST);
- ``STALL``: connections are accepted, the request read and never answered;
- ``CUT_REQUEST``: the first request is cut halfway (through the body when it has
  one, through the head otherwise): the server sees a truncated request;
- ``CUT_RESPONSE``: the request reaches the server, which acts on it; its answer is
  cut halfway (through the body when it has one, through the head otherwise);
- ``STALL_RESPONSE``: as ``CUT_RESPONSE``, but the connection then stays open and
  silent, as a server that hangs mid-answer;
- ``SLOW``: bytes flow both ways in small pieces with pauses (a throttled link).

:func:`silent_server` is ``STALL`` with no server behind it.

``clear()`` goes back to ``PASS``. Changing the fault closes every open
connection, so a client's pooled connections meet the new fault too. Plain threads,
so it serves clients on any event loop (or none), like :mod:`emulators.proxy`.
"""

from __future__ import annotations

import contextlib
import enum
import http.server
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)\s*$")
_CHUNKED = re.compile(rb"(?im)^transfer-encoding:.*chunked")
_POLL = 0.05


class Fault(enum.Enum):
    PASS = "pass"
    REFUSE = "refuse"
    STALL = "stall"
    CUT_REQUEST = "cut-request"
    CUT_RESPONSE = "cut-response"
    STALL_RESPONSE = "stall-response"
    SLOW = "slow"


class _Cut(Exception):
    """Raised inside a pump when the fault says to stop forwarding."""


class _Connection:
    """One client connection and, unless stalled, its upstream connection."""

    def __init__(self, client: socket.socket, fault: Fault) -> None:
        self.client = client
        self.server: socket.socket | None = None
        self.fault = fault
        self.methods: list[str] = []  # the methods of the requests seen, in order
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.server):
            if sock is not None:
                _shut(sock)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """The URL of a server that accepts connections and never answers (the kernel
    accepts them from the backlog): for timeouts and cancellation mid-request."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@contextlib.contextmanager
def web_page_server(status: int, page: bytes) -> Iterator[str]:
    """The URL of a web server answering every request with ``status`` and the
    HTML ``page`` (HEAD: its headers only), as a console's port or a web server
    put where storage was expected does."""

    class WebPage(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(page)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

        def log_message(self, *_args: object) -> None:
            """No access log on stderr."""

    with http_server(WebPage) as url:
        yield url


@contextlib.contextmanager
def http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """The URL of a local HTTP server answering with ``handler``, while in the block."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class FaultProxy:
    """A fault-injecting TCP proxy in front of ``upstream`` (``http://host:port``).

    ``url`` is where clients connect. ``slow_chunk`` bytes pass every
    ``slow_delay`` seconds under ``SLOW``. A cut forwards ``cut_fraction`` of the
    body (of the head when there is no body), at least one byte; ``cut_fraction=0``
    cuts a bodiless response right after its status line. ``connections`` counts the accepted
    connections.
    """

    def __init__(
        self,
        upstream: str,
        *,
        slow_chunk: int = 2048,
        slow_delay: float = 0.02,
        cut_fraction: float = 0.5,
    ) -> None:
        host, _, port = upstream.split("://", 1)[-1].rstrip("/").partition(":")
        self._upstream = (host, int(port))
        self.slow_chunk = slow_chunk
        self.slow_delay = slow_delay
        self.cut_fraction = cut_fraction
        self._lock = threading.Lock()
        self._fault = Fault.PASS
        self._budget: int | None = None  # new connections the fault still applies to
        self._open: set[_Connection] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self.connections = 0
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._start(self._accept_loop)

    # -- control -------------------------------------------------------------------

    @property
    def fault(self) -> Fault:
        return self._fault

    def set(self, fault: Fault, *, connections: int | None = None) -> None:
        """Apply ``fault`` from now on, to new and open connections alike; with
        ``connections``, only to that many new ones, after which the proxy passes
        again (a fault a client's retry gets past)."""
        if connections is not None and (connections < 1 or fault is Fault.REFUSE):
            raise ValueError("connections: a positive count, and not for REFUSE")
        with self._lock:
            self._fault, self._budget = fault, connections
            doomed, self._open = self._open, set()
            if fault is Fault.REFUSE and self._listener is not None:
                _shut(self._listener)
                self._listener = None
            elif fault is not Fault.REFUSE and self._listener is None:
                self._listener = self._listen(self.port)
        for connection in doomed:
            connection.close()

    def clear(self) -> None:
        """Back to forwarding faithfully."""
        self.set(Fault.PASS)

    def close(self) -> None:
        """Stop accepting, close every connection and wait for the threads."""
        with self._lock:
            self._stopped = True
            doomed, self._open = self._open, set()
            if self._listener is not None:
                _shut(self._listener)
                self._listener = None
        for connection in doomed:
            connection.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        return listener

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopped:
            listener = self._listener
            if listener is None:
                time.sleep(_POLL)
                continue
            try:
                # Not select.select: it refuses descriptors from 1024 on (ValueError),
                # which a long test run reaches; the proxy then never accepted.
                with selectors.DefaultSelector() as selector:
                    selector.register(listener, selectors.EVENT_READ)
                    ready = selector.select(_POLL)
            except (OSError, ValueError, KeyError):
                continue  # closed meanwhile
            if not ready:
                continue
            with self._lock:
                if self._listener is not listener or self._stopped:
                    continue
                try:
                    client, _ = listener.accept()
                except OSError:
                    continue
                connection = _Connection(client, self._fault)
                if self._budget is not None:
                    self._budget -= 1
                    if not self._budget:
                        self._fault, self._budget = Fault.PASS, None
                self._open.add(connection)
                self.connections += 1
            self._start(self._serve, connection)

    def _serve(self, connection: _Connection) -> None:
        if connection.fault is Fault.STALL:
            _drain(connection.client, connection)
            return
        try:
            server = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            connection.close()
            return
        server.settimeout(None)
        connection.server = server
        if connection.closed.is_set():  # the fault changed while connecting
            connection.close()
            return
        self._start(self._requests, connection)
        self._responses(connection)

    def _cut(self, size: int) -> int:
        """How many of ``size`` bytes pass before a cut: a fraction, never none or all."""
        return max(1, min(size - 1, int(size * self.cut_fraction)))

    def _send(self, connection: _Connection, sock: socket.socket, data: bytes) -> None:
        """Forward ``data``, in throttled pieces under ``SLOW``."""
        if connection.fault is not Fault.SLOW:
            sock.sendall(data)
            return
        for start in range(0, len(data), self.slow_chunk):
            if connection.closed.wait(self.slow_delay):
                raise _Cut
            sock.sendall(data[start : start + self.slow_chunk])

    def _requests(self, connection: _Connection) -> None:
        """Client to server; under ``CUT_REQUEST``, cut the first request halfway."""
        assert connection.server is not None
        source, sink = connection.client, connection.server
        cutting = connection.fault is Fault.CUT_REQUEST
        buffer = b""
        head_done = False
        body_target: int | None = None  # body bytes to forward before the cut
        try:
            while chunk := source.recv(1 << 16):
                if head_done and not cutting:
                    self._send(connection, sink, chunk)
                    continue
                buffer += chunk
                if not head_done:
                    end = buffer.find(_HEAD_END)
                    if end < 0:
                        continue
                    head, buffer = buffer[: end + 4], buffer[end + 4 :]
                    head_done = True
                    connection.methods.append(head.split(b" ", 1)[0].decode("latin-1"))
                    length = _CONTENT_LENGTH.search(head)
                    has_body = bool(_CHUNKED.search(head)) or bool(length and int(length[1]))
                    if cutting and not has_body:
                        sink.sendall(head[: self._cut(len(head))])
                        raise _Cut
                    self._send(connection, sink, head)
                    if cutting:
                        body_target = self._cut(int(length[1])) if length else None
                    if not cutting:
                        if buffer:
                            self._send(connection, sink, buffer)
                        buffer = b""
                        continue
                if cutting and buffer:
                    # Chunked (unknown length): half of what has come so far.
                    target = body_target or self._cut(len(buffer))
                    if len(buffer) >= target:
                        sink.sendall(buffer[:target])
                        raise _Cut
        except (_Cut, OSError):
            connection.close()
            return
        if connection.fault is Fault.STALL_RESPONSE:
            connection.close()  # the client gave up waiting
            return
        # The client finished sending: let the server see the end too.
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _responses(self, connection: _Connection) -> None:
        """Server to client; under ``CUT_RESPONSE`` / ``STALL_RESPONSE`` stop halfway
        through the first final response."""
        assert connection.server is not None
        source, sink = connection.server, connection.client
        cutting = connection.fault in (Fault.CUT_RESPONSE, Fault.STALL_RESPONSE)
        buffer = b""
        head: bytes | None = None
        body_target = 0
        try:
            while chunk := source.recv(1 << 16):
                if not cutting:
                    self._send(connection, sink, chunk)
                    continue
                buffer += chunk
                while head is None:
                    end = buffer.find(_HEAD_END)
                    if end < 0:
                        break
                    candidate, buffer = buffer[: end + 4], buffer[end + 4 :]
                    if candidate.startswith((b"HTTP/1.1 1", b"HTTP/1.0 1")):
                        sink.sendall(candidate)  # 100 Continue: pass it on, wait for the real one
                        continue
                    head = candidate
                    method = connection.methods[0] if connection.methods else "GET"
                    status = candidate.split(b" ", 2)[1]
                    length = _CONTENT_LENGTH.search(candidate)
                    if method == "HEAD" or status in (b"204", b"304"):
                        body_target = 0
                    elif length:
                        body_target = self._cut(int(length[1])) if int(length[1]) else 0
                    elif _CHUNKED.search(candidate):
                        body_target = -1  # half of what comes first
                    if body_target == 0:
                        status_line = head.index(b"\r\n") + 2
                        sink.sendall(
                            head[: self._cut(len(head)) if self.cut_fraction else status_line]
                        )
                        raise _Cut
                if head is None or not buffer:
                    continue
                target = body_target if body_target > 0 else self._cut(len(buffer))
                if len(buffer) >= target:
                    sink.sendall(head + buffer[:target])
                    raise _Cut
        except _Cut:
            if connection.fault is Fault.STALL_RESPONSE:
                # Silent from now on, the client's connection open even if the
                # server closes its own, until the client gives up or the fault ends.
                with contextlib.suppress(OSError):
                    while source.recv(1 << 16):
                        pass
                connection.closed.wait()
            connection.close()
            return
        except OSError:
            pass
        connection.close()


def _drain(sock: socket.socket, connection: _Connection) -> None:
    """Read and drop whatever arrives until the peer or the proxy closes."""
    with contextlib.suppress(OSError):
        while not connection.closed.is_set() and sock.recv(1 << 16):
            pass
    connection.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
