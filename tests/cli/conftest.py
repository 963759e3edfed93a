"""Drive the ``sessionstore`` command as a user would: arguments in, exit code and
output out (in this process through click's runner; a few tests run the
installed script)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from sessionstore import SessionStore
from sessionstore.cli import cli


@attrs.frozen
class Outcome:
    """What one command did."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Run = Callable[..., Outcome]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run("ls", "--json", input=...)``: the command's exit code and output. The
    environment's store variables are cleared so only the arguments choose."""
    for name in ("SESSIONSTORE_URL", "SESSIONSTORE_BACKEND", "SESSIONSTORE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None) -> Outcome:
        result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A file store in this test's folder, as a URL."""
    return f"file://{tmp_path / 'root'}"


@pytest.fixture
def store(url: str) -> SessionStore:
    """The same store as ``url``, through the library."""
    return SessionStore.from_url(url)
