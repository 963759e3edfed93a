"""Azure test fixtures over Azurite (started by :mod:`emulators.pytest_plugin`):
every test gets its own container."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from emulators import free_port
from emulators.azure import Azurite, new_container_name
from sessionstore import SessionStore

__all__ = ["Azurite", "free_port"]


@pytest.fixture
def container() -> str:
    """A container name no other test uses."""
    return new_container_name()


@pytest.fixture
def azure_store(azurite: Azurite, container: str) -> SessionStore:
    """A store over a fresh, empty container on Azurite."""
    return SessionStore(backend="azure", bucket=container, **azurite.options())


def service(azurite: Azurite) -> BlobServiceClient:
    """A plain SDK client, to look at what the backend stored."""
    return BlobServiceClient(
        azurite.endpoint_url,
        credential={"account_name": azurite.account_name, "account_key": azurite.account_key},
    )


def container_sas(azurite: Azurite, container: str) -> str:
    """A SAS for ``container`` that may read, write, delete and list, for an hour."""
    return generate_container_sas(
        azurite.account_name,
        container,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )
