"""The gcs backend passes the whole conformance kit against fake-gcs-server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionstore import SessionStore
from sessionstore.testing import BackendTests


class TestGCSBackend(BackendTests):
    @pytest.fixture
    def store(self, make_store: Callable[..., SessionStore]) -> SessionStore:
        return make_store()
