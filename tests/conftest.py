"""Stores on every first-party backend that needs no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionstore import SessionStore

LOCAL_BACKENDS = ["memory", "file"]


@pytest.fixture(params=LOCAL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionStore:
    """A fresh, empty store on each local backend."""
    if request.param == "file":
        return SessionStore(backend="file", root=tmp_path / "root")
    return SessionStore(backend=request.param)
