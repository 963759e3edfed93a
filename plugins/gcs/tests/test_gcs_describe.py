"""What the gcs backend says of a bucket: its ``gs://`` location and the endpoint
gcsfs resolved, with where that came from."""

from __future__ import annotations

import pytest

from sessionstore_gcs import GCSBackend

from .conftest import StoreFactory


@pytest.mark.parametrize(("prefix", "path"), [("", ""), ("app/sessions", "app/sessions/")])
async def test_a_bucket_is_described_by_its_url_and_the_custom_endpoint(
    make_store: StoreFactory, bucket: str, gcs_endpoint: str, prefix: str, path: str
) -> None:
    store = make_store(prefix=prefix)
    assert await store.describe() == {
        "location": f"gs://{bucket}/{path}",
        "endpoint": f"{gcs_endpoint.rstrip('/')} (endpoint_url)",
    }


async def describe(backend: GCSBackend) -> dict[str, str]:
    """The backend's description, asked of the hook directly: resolving the endpoint
    makes no request, so no server is needed."""
    try:
        return dict(await backend.sessionstore_describe(bucket="bucket"))
    finally:
        await backend.sessionstore_close()


@pytest.mark.parametrize(
    ("emulator_host", "endpoint"),
    [
        (None, "https://storage.googleapis.com (Google's)"),
        ("default", "https://storage.googleapis.com (Google's)"),
        ("127.0.0.1:9", "http://127.0.0.1:9 (STORAGE_EMULATOR_HOST)"),
    ],
)
async def test_without_endpoint_url_the_endpoint_is_google_or_the_emulator(
    monkeypatch: pytest.MonkeyPatch, emulator_host: str | None, endpoint: str
) -> None:
    if emulator_host is None:
        monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    else:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator_host)
    assert await describe(GCSBackend(token="anon", prefix="p")) == {
        "location": "gs://bucket/p/",
        "endpoint": endpoint,
    }
