"""The seed's documented examples run with only the import line changed.

Each block below is the seed ``SessionStorageAdapter``'s docstring example, as
written there, after ``from session_buddy.adapters import ...`` became
``from sessionstore import ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sessionstore import (
    DEFAULT_SESSION_BUCKET,
    SessionStorageAdapter,
    SessionStore,
    get_default_storage_adapter,
)


@pytest.fixture(autouse=True)
def file_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seed's examples use the default file location; keep it inside the test."""
    for name in ("SESSIONSTORE_URL", "SESSIONSTORE_BACKEND", "SESSIONSTORE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SESSIONSTORE_FILE_ROOT", str(tmp_path))
    return tmp_path


async def test_module_example(capsys: pytest.CaptureFixture[str]) -> None:
    storage = SessionStorageAdapter(backend="file")
    await storage.store_session("session_123", {"status": "active"})
    state = await storage.load_session("session_123")
    print(state)
    assert capsys.readouterr().out == "{'status': 'active'}\n"


async def test_method_examples(capsys: pytest.CaptureFixture[str], file_root: Path) -> None:
    storage = SessionStorageAdapter(backend="file")
    checkpoint_data: dict[str, Any] = {"step": 1}

    await storage.store_session("abc123", {"status": "active"})
    await storage.store_session("abc123", checkpoint_data, "checkpoint_001.json")

    state = await storage.load_session("abc123")
    if state:
        print(state["status"])

    if await storage.session_exists("abc123"):
        state = await storage.load_session("abc123")

    metadata = await storage.get_session_metadata("abc123")
    print(f"Session size: {metadata['size']} bytes")  # type: ignore[index]

    sessions = await storage.list_sessions()
    print(f"Found {len(sessions)} sessions")

    assert await storage.delete_session("abc123", "checkpoint_001.json")  # Delete specific
    assert await storage.delete_session("abc123")  # Delete all files

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "active"
    assert out[1].startswith("Session size: ")
    assert int(out[1].split()[2]) > 0
    assert out[2] == "Found 1 sessions"
    assert not await storage.session_exists("abc123")
    assert (file_root / DEFAULT_SESSION_BUCKET).is_dir()


async def test_default_adapter_example() -> None:
    storage = get_default_storage_adapter()
    await storage.store_session("abc123", {"status": "active"})
    assert isinstance(storage, SessionStore)
    assert (storage.backend, storage.bucket) == ("file", "sessions")
    assert await storage.load_session("abc123") == {"status": "active"}


def test_seed_names() -> None:
    assert SessionStorageAdapter is SessionStore
    assert DEFAULT_SESSION_BUCKET == "sessions"
    adapter = SessionStorageAdapter(backend="memory", bucket="sessions")
    assert (adapter.backend, adapter.bucket) == ("memory", "sessions")


def test_seed_error_types_still_catch() -> None:
    with pytest.raises(ValueError, match="no sessionstore backend"):
        SessionStorageAdapter(backend="not-installed")
