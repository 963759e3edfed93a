"""Listing 10,000 sessions, whole and in pages, with and without a prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionstore import SessionStore

COUNT = 10_000
IDS = sorted(f"{'ab'[index % 2]}-{index:05}" for index in range(COUNT))


@pytest.fixture(scope="module")
def file_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 sessions laid out as the file backend does, written once for the module."""
    root = tmp_path_factory.mktemp("scale")
    bucket = root / "sessions"
    bucket.mkdir()
    for session_id in IDS:
        folder = bucket / session_id
        folder.mkdir()
        (folder / "state.json").write_bytes(b"{}")
    (bucket / ".tmp-stray").write_bytes(b"")  # a crashed writer's temp file
    return root


@pytest.fixture(params=["memory", "file"])
async def big_store(request: pytest.FixtureRequest, file_tree: Path) -> SessionStore:
    if request.param == "file":
        return SessionStore(backend="file", root=file_tree)
    store = SessionStore(backend="memory")
    for session_id in IDS:
        await store.store_session(session_id, {})
    return store


async def test_list_sessions_over_10k(big_store: SessionStore) -> None:
    assert await big_store.list_sessions() == IDS
    assert await big_store.list_sessions("b-") == [i for i in IDS if i.startswith("b-")]
    assert await big_store.list_sessions("a-0999") == [f"a-0999{d}" for d in "02468"]


async def test_iter_sessions_in_pages_over_10k(big_store: SessionStore) -> None:
    seen = [session_id async for session_id in big_store.iter_sessions(page_size=999)]
    assert seen == IDS
    with_prefix = [s async for s in big_store.iter_sessions("a-", page_size=1000)]
    assert with_prefix == [i for i in IDS if i.startswith("a-")]
