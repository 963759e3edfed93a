"""Azure test fixtures over Azurite (started by :mod:`emulators.pytest_plugin`):
every test gets its own container."""

from __future__ import annotations

import pytest

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
