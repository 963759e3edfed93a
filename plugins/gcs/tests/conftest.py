"""GCS test fixtures over fake-gcs-server (started by :mod:`emulators.pytest_plugin`):
every test gets its own bucket, created through the JSON API; :class:`Proxy` sits
between a store and the server when a test counts requests or loses an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulators.gcs import JsonApi, store_options
from emulators.proxy import Proxy
from sessionstore import SessionStore

StoreFactory = Callable[..., SessionStore]
KeyFactory = Callable[[str], dict[str, str]]

__all__ = ["JsonApi", "KeyFactory", "Proxy", "StoreFactory"]


@pytest.fixture
def bucket(json_api: JsonApi) -> str:
    """A fresh, empty bucket."""
    return json_api.new_bucket()


@pytest.fixture
def make_store(gcs_endpoint: str, bucket: str) -> StoreFactory:
    """Build stores on the test server: the fresh ``bucket`` unless another is
    given, anonymous credentials, short timeouts; keyword options override."""

    def make(**options: Any) -> SessionStore:
        return SessionStore(backend="gcs", **{**store_options(gcs_endpoint, bucket), **options})

    return make


@pytest.fixture
def store(make_store: StoreFactory) -> SessionStore:
    return make_store()


@pytest.fixture
def proxy(gcs_endpoint: str) -> Iterator[Proxy]:
    with Proxy(gcs_endpoint) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def service_account_key(private_key_pem: str) -> KeyFactory:
    """A well-formed service-account key whose tokens come from ``token_uri``."""

    def make(token_uri: str) -> dict[str, str]:
        return {
            "type": "service_account",
            "project_id": "test",
            "private_key_id": "key-id",
            "private_key": private_key_pem,
            "client_email": "sessionstore@test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": token_uri,
        }

    return make
