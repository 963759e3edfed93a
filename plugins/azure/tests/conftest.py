"""Azurite, the Azure Storage emulator, started once per test session on 127.0.0.1.

Azurite comes from the repository's ``package.json`` (``npm ci`` installs it under
``node_modules``). Without node or Azurite the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import attrs
import pytest

from sessionstore import SessionStore

ROOT = Path(__file__).resolve().parents[3]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key (public, not a secret)."""
START_TIMEOUT = 30.0


@attrs.frozen
class Azurite:
    """A running Azurite blob service."""

    port: int
    account_name: str = ACCOUNT
    account_key: str = attrs.field(default=KEY, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.account_name}"

    def options(self, **overrides: Any) -> dict[str, Any]:
        """Backend options for this server, with ``create_bucket`` on."""
        return {
            "endpoint_url": self.endpoint_url,
            "account_name": self.account_name,
            "account_key": self.account_key,
            "create_bucket": True,
            "connect_timeout": 2.0,
            "read_timeout": 30.0,
            **overrides,
        }


def _cannot_start(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Azurite is required in CI: {reason}")
    pytest.skip(
        f"Azure tests need Azurite: {reason}. Run `npm ci` in the repository root "
        "(needs node >= 18) to install it."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> str | None:
    """``None`` once the port accepts connections, else why Azurite did not start."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            return f"azurite-blob exited with code {process.returncode}: {output.strip()}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return None
        except OSError:
            time.sleep(0.05)
    return f"azurite-blob did not listen on port {port} within {START_TIMEOUT:.0f} s"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Start ``azurite-blob`` on a free port for the whole session and stop it after."""
    node = shutil.which("node")
    if node is None:
        _cannot_start("node is not on PATH")
    if not AZURITE.exists():
        _cannot_start(f"{AZURITE.relative_to(ROOT)} is missing")
    port = free_port()
    location = tmp_path_factory.mktemp("azurite")
    # fmt: off
    command = [
        str(node), str(AZURITE),
        "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(location),
        "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose",
    ]
    # fmt: on
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        problem = _wait_until_listening(process, port)
        if problem is not None:
            _cannot_start(problem)
        yield Azurite(port=port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


@pytest.fixture
def container() -> str:
    """A container name no other test uses (Azure: 3-63 lowercase letters, digits, -)."""
    return f"t-{uuid.uuid4().hex}"


@pytest.fixture
def azure_store(azurite: Azurite, container: str) -> SessionStore:
    """A store over a fresh, empty container on Azurite."""
    return SessionStore(backend="azure", bucket=container, **azurite.options())
