"""Azurite, the Azure Storage emulator (blob service), on 127.0.0.1.

Azurite comes from the repository's ``package.json``: ``npm ci`` installs it under
``node_modules`` (``python3 dev.py test`` does).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from emulators import ROOT, EmulatorUnavailable, free_port, stop

AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key (public, not a secret)."""
START_TIMEOUT = 30.0
INSTALL_HINT = "run `npm ci` in the repository root (needs node >= 18) to install it"


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


def new_container_name() -> str:
    """A container name no other test uses (Azure: 3-63 lowercase letters, digits, -)."""
    return f"t-{uuid.uuid4().hex}"


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


@contextlib.contextmanager
def azurite(location: Path) -> Iterator[Azurite]:
    """Start ``azurite-blob`` on a free port, keeping its data in ``location``;
    stop it on exit."""
    node = shutil.which("node")
    if node is None:
        raise EmulatorUnavailable(f"Azurite needs node, which is not on PATH; {INSTALL_HINT}")
    if not AZURITE.exists():
        raise EmulatorUnavailable(f"{AZURITE.relative_to(ROOT)} is missing; {INSTALL_HINT}")
    port = free_port()
    # fmt: off
    command = [
        str(node), str(AZURITE),
        "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(location),
        "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose",
    ]
    # fmt: on
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        try:
            problem = _wait_until_listening(process, port)
            if problem is not None:
                raise EmulatorUnavailable(f"{problem}; {INSTALL_HINT}")
            yield Azurite(port=port)
        finally:
            stop(process)
