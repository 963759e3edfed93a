"""The s3 backend passes the conformance kit against moto's S3 server."""

from __future__ import annotations

import pytest

from sessionstore import SessionStore
from sessionstore.testing import BackendTests


class TestS3Backend(BackendTests):
    # S3's token is the ETag: the MD5 of the bytes for a single-request upload.
    version_is_content_hash = True
    # A deadline cuts the request off: the server may still act on it.
    cancelled_uploads_may_land_late = True

    @pytest.fixture
    def store(self, store: SessionStore) -> SessionStore:
        """A store over a fresh bucket on the test server (see conftest.py)."""
        return store
