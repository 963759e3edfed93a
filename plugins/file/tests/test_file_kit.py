"""The file backend passes the whole conformance kit, through a SessionStore."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionstore import SessionStore
from sessionstore.testing import BackendTests


class TestFileBackend(BackendTests):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SessionStore:
        return SessionStore(backend="file", bucket="kit-tests", root=tmp_path)
