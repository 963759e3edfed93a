"""The gcs backend passes the whole conformance kit against fake-gcs-server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emulators.gcs import JsonApi
from sessionstore import SessionStore
from sessionstore.testing import BackendTests


class TestGCSBackend(BackendTests):
    # A deadline cuts the request off: the server may still act on it.
    cancelled_uploads_may_land_late = True

    @pytest.fixture
    def store(self, make_store: Callable[..., SessionStore]) -> SessionStore:
        return make_store()

    @pytest.fixture
    def other_bucket_store(
        self, make_store: Callable[..., SessionStore], json_api: JsonApi
    ) -> SessionStore:
        """Buckets are made through the JSON API, as the fixture's is."""
        return make_store(bucket=json_api.new_bucket())
