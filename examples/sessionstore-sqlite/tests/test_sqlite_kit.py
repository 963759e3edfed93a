"""The sqlite backend passes the whole conformance kit, on asyncio and on trio."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionstore import SessionStore
from sessionstore.testing import BackendTests


class TestSQLiteBackend(BackendTests):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SessionStore:
        return SessionStore(backend="sqlite", bucket="kit-tests", path=tmp_path / "kit.db")
