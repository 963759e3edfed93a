"""A TCP proxy in front of a test server that reads the HTTP/1.1 requests going
through it, to count round trips or to lose a server's answer on the way back."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time


class Proxy:
    """A TCP proxy in front of the server that reads the HTTP/1.1 requests going
    through it: ``requests`` lists each one as ``"METHOD /path?query"``, and
    :meth:`lose_answer` makes the server's answer to the next matching request
    vanish (the connection is cut after the server has acted on it). ``latency``
    seconds pass before each request goes on, as over a long network path."""

    _HEAD_END = b"\r\n\r\n"

    def __init__(self, upstream: str, *, latency: float = 0.0) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests: list[str] = []
        self.latency = latency
        self._lose: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_answer(self, pattern: str) -> None:
        """Cut the connection instead of answering the next request whose
        ``"METHOD /path?query"`` matches ``pattern`` (a regular expression)."""
        self._lose = re.compile(pattern)

    def count(self, pattern: str = "") -> int:
        with self._lock:
            return sum(1 for line in self.requests if re.search(pattern, line))

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            with self._lock:
                self._sockets += [client, server]
            lost = threading.Event()
            threading.Thread(
                target=self._requests, args=(client, server, lost), daemon=True
            ).start()
            threading.Thread(target=self._answers, args=(server, client, lost), daemon=True).start()

    def _requests(self, source: socket.socket, sink: socket.socket, lost: threading.Event) -> None:
        buffer = b""
        body_left = 0
        try:
            while chunk := source.recv(1 << 16):
                buffer += chunk
                while buffer:
                    if body_left:
                        taken = min(body_left, len(buffer))
                        sink.sendall(buffer[:taken])
                        buffer, body_left = buffer[taken:], body_left - taken
                        continue
                    end = buffer.find(self._HEAD_END)
                    if end < 0:
                        break
                    head, buffer = buffer[: end + 4], buffer[end + 4 :]
                    line = head.split(b"\r\n", 1)[0].decode("latin-1")
                    method, target = line.split(" ")[:2]
                    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                    body_left = int(length.group(1)) if length else 0
                    with self._lock:
                        self.requests.append(f"{method} {target}")
                        if self._lose is not None and self._lose.search(f"{method} {target}"):
                            self._lose = None
                            lost.set()
                    if self.latency:
                        time.sleep(self.latency)
                    sink.sendall(head)
        except OSError:
            pass
        finally:
            _shut(sink)

    @staticmethod
    def _answers(source: socket.socket, sink: socket.socket, lost: threading.Event) -> None:
        try:
            while chunk := source.recv(1 << 16):
                if lost.is_set():
                    break  # the server acted; its answer goes nowhere
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _shut(sink)
            _shut(source)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
