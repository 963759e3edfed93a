"""The azure backend passes the whole conformance kit against Azurite."""

from __future__ import annotations

import pytest

from sessionstore import SessionStore
from sessionstore.testing import BackendTests


class TestAzureBackend(BackendTests):
    @pytest.fixture
    def store(self, azure_store: SessionStore) -> SessionStore:
        return azure_store
