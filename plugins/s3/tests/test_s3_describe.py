"""What the s3 backend says of a bucket: its ``s3://`` location, and the endpoint and
region its client resolved, never the credentials."""

from __future__ import annotations

import pytest

from emulators.s3 import ACCESS_KEY, REGION, SECRET_KEY
from sessionstore_s3 import S3Backend

from .conftest import StoreFactory


@pytest.mark.parametrize(("prefix", "path"), [("", ""), ("/app/sessions/", "app/sessions/")])
async def test_a_bucket_is_described_by_its_url_and_the_custom_endpoint(
    make_store: StoreFactory, bucket_name: str, s3_endpoint: str, prefix: str, path: str
) -> None:
    store = make_store(create_bucket=True, prefix=prefix)
    description = await store.describe()
    assert description == {
        "location": f"s3://{bucket_name}/{path}",
        "endpoint": f"{s3_endpoint} (endpoint_url)",
        "region": REGION,
    }
    text = repr(description)
    assert ACCESS_KEY not in text
    assert SECRET_KEY not in text


async def describe(backend: S3Backend, bucket: str = "bucket") -> dict[str, str]:
    """The backend's description, asked of the hook directly: resolving the endpoint
    makes no request, so no server is needed."""
    try:
        return dict(await backend.sessionstore_describe(bucket=bucket))
    finally:
        await backend.sessionstore_close()


async def test_without_endpoint_url_the_endpoint_is_aws_for_the_region(
    aws_environment: None,
) -> None:
    backend = S3Backend(region="eu-west-3", key="AKIDEXAMPLE", secret="wJalrXUtnFEMI/EXAMPLE")
    assert await describe(backend) == {
        "location": "s3://bucket/",
        "endpoint": "https://s3.eu-west-3.amazonaws.com (AWS's for the region)",
        "region": "eu-west-3",
    }


async def test_an_endpoint_from_the_aws_environment_is_named_so(
    aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    backend = S3Backend(region="eu-west-3", key="AKIDEXAMPLE", secret="wJalrXUtnFEMI/EXAMPLE")
    description = await describe(backend)
    assert description["endpoint"] == (
        "http://127.0.0.1:9 (from the AWS environment or config files)"
    )


async def test_credentials_in_the_endpoint_are_masked(
    aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The endpoint_url option refuses them (see test_s3_options); the AWS
    environment is not checked by us."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://user:pa55word@127.0.0.1:9")
    backend = S3Backend(key=ACCESS_KEY, secret=SECRET_KEY)
    description = await describe(backend)
    assert description["endpoint"] == (
        "http://user:***@127.0.0.1:9 (from the AWS environment or config files)"
    )
