"""Waits that must end: a stalled token endpoint.

Against real servers: fake-gcs-server, and a token endpoint that accepts
connections and never answers (:func:`silent_server`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from emulators.faults import silent_server
from sessionstore import SessionStore, StorageUnavailableError

StoreFactory = Callable[..., SessionStore]
KeyFactory = Callable[[str], dict[str, str]]

pytestmark = pytest.mark.anyio


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


# -- token refresh ---------------------------------------------------------------------


async def test_a_stalled_token_endpoint_is_bounded_and_stalls_no_other_store(
    make_store: StoreFactory, service_account_key: KeyFactory, tmp_path: Path
) -> None:
    """The token refresh ran synchronously on fsspec's IO loop with google-auth's
    120 s timeout: the operation took 120 s despite ``read_timeout``, and every
    other store on that loop (other GCS stores, and s3fs's) froze with it. Now
    it ends within the store's own timeouts, and the other store keeps working."""
    other = make_store()  # anonymous, on the same fsspec loop
    await other.store_session("s", {"a": 1})
    with silent_server() as token_server:
        key = service_account_key(f"{token_server}/token")
        path = tmp_path / "key.json"
        path.write_text(json.dumps(key))
        stalled = make_store(token=str(path), connect_timeout=1.0, read_timeout=1.0, retries=0)
        latencies: list[float] = []
        failure: list[BaseException] = []
        elapsed = 0.0

        async def load_stalled() -> None:
            nonlocal elapsed
            started = time.monotonic()
            try:
                with anyio.fail_after(30):
                    await stalled.load_session("s")
            except Exception as error:
                failure.append(error)
            elapsed = time.monotonic() - started

        async with anyio.create_task_group() as group:
            group.start_soon(load_stalled)
            await anyio.sleep(0.05)
            while not failure:
                started = time.monotonic()
                assert await other.load_session("s") == {"a": 1}
                latencies.append(time.monotonic() - started)
                await anyio.sleep(0.02)
        assert 0.9 <= elapsed < 3, elapsed
        assert isinstance(failure[0], StorageUnavailableError), failure
        assert "credentials" in str(failure[0])
        assert "PRIVATE KEY" not in str(failure[0])
        assert len(latencies) >= 5
        assert max(latencies) < 0.5, latencies
        await stalled.aclose()
    await other.aclose()
