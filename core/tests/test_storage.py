"""The storage layer's guard against a backend whose listing would never end."""

from __future__ import annotations

import anyio
import pytest

from sessionstore import SessionStore, StorageUnavailableError

from .conftest import InstallPlugin

_STUCK_LIST = {
    "the cursor it was given": 'ListPage(entries=("a/",), cursor=cursor or "a/")',
    "an empty cursor": 'ListPage(entries=("a/",), cursor="")',
}


@pytest.mark.parametrize("mistake", sorted(_STUCK_LIST))
async def test_a_listing_that_would_never_end_is_a_storage_error(
    install_plugin: InstallPlugin, working_backend: str, mistake: str
) -> None:
    """Every walk of the sessions pages on until the cursor is None: a backend that
    hands back the cursor it was given, or ``""``, looped them forever."""
    source = working_backend.replace("ListPage(entries=())", _STUCK_LIST[mistake])
    install_plugin("stuck", source, distribution="stuck-dist")
    store = SessionStore(backend="stuck", bucket="sessions")
    await store.store_session("a", {})  # the one session its pages name

    async def every_id() -> list[str]:
        return [session_id async for session_id in store.iter_sessions()]

    walks = (store.list_sessions, every_id, store.purge_expired)
    for walk in walks:
        with anyio.fail_after(10), pytest.raises(StorageUnavailableError) as caught:
            await walk()
        assert "sessionstore_list" in str(caught.value)
        assert "never end" in str(caught.value)
