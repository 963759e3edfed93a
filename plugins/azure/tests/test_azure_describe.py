"""What the azure backend says of a bucket: its ``az://`` location, the account and
the blob endpoint the client resolved (from a connection string too), and never a
key, a SAS or the connection string itself."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

from sessionstore import SessionStore
from sessionstore_azure import AzureBackend

from .conftest import Azurite, container_sas, service

KEY = "a2V5LXNlY3JldC0xMjM0IQ=="
"""A well-formed account key, for backends that make no request."""


@pytest.mark.parametrize(("prefix", "path"), [("", ""), ("app/sessions", "app/sessions/")])
async def test_a_container_is_described_by_its_url_account_and_endpoint(
    azurite: Azurite, container: str, prefix: str, path: str
) -> None:
    store = SessionStore(backend="azure", bucket=container, **azurite.options(prefix=prefix))
    description = await store.describe()
    assert description == {
        "location": f"az://{container}/{path}",
        "endpoint": f"{azurite.endpoint_url} (endpoint_url)",
        "account": azurite.account_name,
    }
    assert azurite.account_key not in repr(description)


async def test_a_connection_string_is_described_by_what_it_names_not_by_itself(
    azurite: Azurite, container: str
) -> None:
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={azurite.account_name};"
        f"AccountKey={azurite.account_key};BlobEndpoint={azurite.endpoint_url};"
    )
    store = SessionStore(
        backend="azure", bucket=container, connection_string=connection_string, create_bucket=True
    )
    description = await store.describe()
    assert description == {
        "location": f"az://{container}/",
        "endpoint": f"{azurite.endpoint_url} (from the connection string)",
        "account": azurite.account_name,
    }
    assert azurite.account_key not in repr(description)


async def test_a_sas_is_never_described(azurite: Azurite, container: str) -> None:
    """The SDK keeps a SAS in the client's URL: the endpoint is described without it."""
    service(azurite).create_container(container)
    sas = container_sas(azurite, container)
    for sas_token in (sas, f"?{sas}"):
        store = SessionStore(
            backend="azure",
            bucket=container,
            endpoint_url=azurite.endpoint_url,
            sas_token=sas_token,
        )
        description = await store.describe()
        assert description["endpoint"] == f"{azurite.endpoint_url} (endpoint_url)"
        assert parse_qs(sas)["sig"][0] not in repr(description)
        assert "sig=" not in repr(description)
        await store.aclose()


async def describe(**options: Any) -> dict[str, str]:
    """The description of a backend with ``options``, asked of the hook directly:
    building the client makes no request, so no server is needed."""
    backend = AzureBackend(**options)
    try:
        return dict(await backend.sessionstore_describe(bucket="chats"))
    finally:
        await backend.sessionstore_close()


@pytest.mark.parametrize(
    ("options", "endpoint"),
    [
        (
            {"account_name": "acct", "account_key": KEY},
            "https://acct.blob.core.windows.net (Azure's for the account)",
        ),
        (
            {
                "connection_string": "DefaultEndpointsProtocol=https;AccountName=acct;"
                f"AccountKey={KEY};EndpointSuffix=core.windows.net"
            },
            "https://acct.blob.core.windows.net (from the connection string)",
        ),
        (
            {
                "connection_string": "BlobEndpoint=https://acct.blob.core.windows.net/;"
                "SharedAccessSignature=sv=2024-08-04&ss=b&srt=co&sp=rl&sig=c2lnbmF0dXJlLTEyMzQ%3D"
            },
            "https://acct.blob.core.windows.net (from the connection string)",
        ),
    ],
    ids=["account key", "connection string", "connection string with a SAS"],
)
async def test_the_default_endpoint_is_resolved_from_any_configuration(
    options: dict[str, Any], endpoint: str
) -> None:
    description = await describe(**options)
    assert description == {"location": "az://chats/", "endpoint": endpoint, "account": "acct"}
    assert KEY not in repr(description)
    assert "c2lnbmF0dXJl" not in repr(description)
