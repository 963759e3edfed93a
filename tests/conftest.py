"""Stores on every first-party backend that needs no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionstore import SessionStore, clock
from sessionstore.testing.backend_tests import FakeClock

LOCAL_BACKENDS = ["memory", "file"]


@pytest.fixture(params=LOCAL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionStore:
    """A fresh, empty store on each local backend."""
    if request.param == "file":
        return SessionStore(backend="file", root=tmp_path / "root")
    return SessionStore(backend=request.param)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """``sessionstore.clock.now`` frozen until the test advances it."""
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake)
    return fake
