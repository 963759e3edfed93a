"""Real storage servers on 127.0.0.1 for the tests and the benchmarks.

One module per server — :mod:`emulators.s3` (moto), :mod:`emulators.gcs`
(fake-gcs-server), :mod:`emulators.azure` (Azurite) — each a context manager that
works outside pytest; :mod:`emulators.proxy` sits between a client and a server to
count requests or lose an answer, :mod:`emulators.faults` to refuse, stall, cut or
slow its connections; :mod:`emulators.folding_volume` mounts a volume that ignores
case, as macOS's does; :mod:`emulators.pytest_plugin` turns the servers
into session fixtures, where a server that cannot start is a skip locally and a
failure in CI (``CI=true``).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (where ``node_modules`` lives)."""


class EmulatorUnavailable(RuntimeError):
    """A server cannot start; the message says why and what to install."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Ask a server process to exit; kill it if it has not within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
