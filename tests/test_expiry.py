"""Expiry through the facade: TTL arguments, default TTLs and touch, on every
local backend."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sessionstore import ConfigurationError, SessionStore, clock
from sessionstore.testing.backend_tests import FakeClock


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.mark.parametrize("ttl", [0, -1, timedelta(0), math.nan, math.inf, True, "60", 1e300])
async def test_invalid_ttl_is_refused_and_writes_nothing(store: SessionStore, ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await store.store_session("s", {}, ttl=ttl)
    assert await store.list_sessions() == []


async def test_files_without_ttl_have_no_expiry(store: SessionStore) -> None:
    meta = await store.store_session("s", {})
    assert meta.expires_at is None
    loaded = await store.load_session_with_metadata("s")
    assert loaded is not None
    assert loaded[1].expires_at is None


async def test_default_ttl_applies_and_explicit_ttl_wins(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    store = SessionStore(backend="file", root=tmp_path, default_ttl=timedelta(hours=1))
    assert store.settings.default_ttl == 3600
    default = await store.store_session("s", {})
    explicit = await store.store_session("s", {}, "cp", ttl=5)
    assert default.expires_at == fake_clock.time + timedelta(hours=1)
    assert explicit.expires_at == fake_clock.time + timedelta(seconds=5)
    touched = await store.touch_session("s")
    assert touched is not None
    assert touched.expires_at == default.expires_at


def test_default_ttl_from_environment_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONSTORE_DEFAULT_TTL", "90")
    assert SessionStore(backend="memory").settings.default_ttl == 90
    assert SessionStore(backend="memory", default_ttl=5).settings.default_ttl == 5
    monkeypatch.setenv("SESSIONSTORE_URL", "memory://?default_ttl=30")
    assert SessionStore().settings.default_ttl == 30
    # from_url reads the URL and its keywords only, never the environment.
    url = "memory://?default_ttl=3600"
    assert SessionStore.from_url(url).settings.default_ttl == 3600
    assert SessionStore.from_url(url, default_ttl=7).settings.default_ttl == 7
    assert SessionStore.from_url("memory://").settings.default_ttl is None


@pytest.mark.parametrize("bad", ["0", "-5", "soon", "nan"])
def test_bad_default_ttl_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    with pytest.raises(ConfigurationError, match="default_ttl"):
        SessionStore.from_url(f"memory://?default_ttl={bad}")
    monkeypatch.setenv("SESSIONSTORE_DEFAULT_TTL", bad)
    with pytest.raises(ConfigurationError, match="SESSIONSTORE_DEFAULT_TTL"):
        SessionStore(backend="memory")
    with pytest.raises(ValueError, match="ttl"):
        SessionStore(backend="memory", default_ttl=0)


async def test_touch_needs_a_ttl(store: SessionStore) -> None:
    await store.store_session("s", {})
    with pytest.raises(ValueError, match="default_ttl"):
        await store.touch_session("s")


async def test_touch_of_a_file_without_expiry_gives_it_one(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    await store.store_session("s", {"v": 1})
    touched = await store.touch_session("s", 30)
    assert touched is not None
    assert touched.expires_at == fake_clock.time + timedelta(seconds=30)
    fake_clock.advance(30)
    assert await store.load_session("s") is None
