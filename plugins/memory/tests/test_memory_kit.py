"""The memory backend passes the whole conformance kit."""

from __future__ import annotations

import pytest

from sessionstore import SessionStore
from sessionstore.testing import BackendTests


class TestMemoryBackend(BackendTests):
    @pytest.fixture
    def store(self) -> SessionStore:
        return SessionStore(backend="memory", bucket="kit-tests")
