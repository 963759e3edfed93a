"""The storage layer: its guard against a backend whose listing would never end,
its mapping of failures, and the errors it raises."""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Callable

import anyio
import pytest

from sessionstore import (
    BackendLoadError,
    CorruptSessionError,
    SessionStore,
    SessionStoreError,
    StoragePermissionError,
    StorageUnavailableError,
)

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
        # The bucket's top level is named "sessions/", not "sessions//".
        assert "stuck backend failed on sessions/: RuntimeError" in str(caught.value)


_FAILING_WHILE_CANCELLED = """
    import anyio

    SCOPES: list[anyio.CancelScope] = []
"""


@pytest.mark.parametrize("failure", ["OSError('disk gone')", "PermissionError('refused')"])
async def test_a_hook_failing_while_a_cancel_is_pending_raises_the_cancellation(
    install_plugin: InstallPlugin, working_backend: str, failure: str
) -> None:
    """A thread hop or request that ends in an error after the caller cancelled
    (a deadline passed meanwhile) must raise the cancellation, not a storage error
    the caller would take for an outage."""
    download = "async def sessionstore_download(self, bucket, path):"
    source = _FAILING_WHILE_CANCELLED + working_backend.replace(
        download, f"{download}\n            SCOPES[-1].cancel()\n            raise {failure}"
    )
    module = install_plugin("failing", source)
    store = SessionStore(backend="failing", bucket="sessions")
    await store.store_session("s", {"v": 1})
    with anyio.CancelScope() as scope:
        sys.modules[module].SCOPES.append(scope)
        await store.load_session("s")
    assert scope.cancelled_caught
    with pytest.raises(StorageUnavailableError, match=r"disk gone|refused"):
        await store.load_session("s")  # cancelling a finished scope: the error itself


def pickle_round_trip(error: SessionStoreError) -> SessionStoreError:
    again: SessionStoreError = pickle.loads(pickle.dumps(error))
    return again


_ERRORS_WITH_KEYWORDS = [
    CorruptSessionError("not JSON", path="a/state.json"),
    StorageUnavailableError("disk gone", backend="file", bucket="sessions", path="a/x"),
    StoragePermissionError("refused", backend="s3", bucket="sessions"),
    BackendLoadError("broken", backend="odd", distribution="odd-dist"),
]


@pytest.mark.parametrize("error", _ERRORS_WITH_KEYWORDS, ids=lambda error: type(error).__name__)
@pytest.mark.parametrize("duplicate", [pickle_round_trip, copy.copy], ids=["pickle", "copy"])
def test_errors_survive_pickling_and_copying(
    error: SessionStoreError, duplicate: Callable[[SessionStoreError], SessionStoreError]
) -> None:
    """A worker process's error reaches its parent pickled: an error whose
    keyword-only arguments were lost broke the whole process pool instead."""
    again = duplicate(error)
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert vars(again) == vars(error)


# -- describe -----------------------------------------------------------------------


async def test_a_backend_without_describe_describes_itself_as_nothing(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    """``sessionstore_describe`` is optional: without it, a store (and its Storage)
    says nothing rather than failing, and still prepares the bucket first."""
    init = "async def sessionstore_init(self, bucket):"
    source = working_backend.replace(init, f"{init}\n            self.greeting = 'ready'")
    install_plugin("mute", source)
    store = SessionStore(backend="mute", bucket="sessions")
    assert await store._storage.describe() == {}
    assert store._storage.plugin.greeting == "hi"  # type: ignore[attr-defined]
    assert await store.describe() == {}
    assert store._storage.plugin.greeting == "ready"  # type: ignore[attr-defined]


_DESCRIBING = """
        @hookimpl
        async def sessionstore_describe(self, bucket):
            from types import MappingProxyType
            return MappingProxyType({"bucket": bucket, "greeting": self.greeting})
"""


async def test_describe_is_a_plain_dict_of_what_the_backend_says_after_init(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    """The backend's mapping (any Mapping) comes back as a dict of its own, asked
    for after init, so the backend can report what init learned."""
    init = "async def sessionstore_init(self, bucket):"
    source = working_backend.replace(init, f"{init}\n            self.greeting = 'ready'")
    install_plugin("describing", source + _DESCRIBING)
    store = SessionStore(backend="describing", bucket="sessions")
    description = await store.describe()
    assert type(description) is dict
    assert description == {"bucket": "sessions", "greeting": "ready"}


@pytest.mark.parametrize(
    ("failure", "kind", "what"),
    [
        ("OSError('disk gone')", StorageUnavailableError, "failed"),
        ("PermissionError('no')", StoragePermissionError, "was refused access"),
    ],
)
async def test_a_failing_describe_is_mapped_like_every_hook(
    install_plugin: InstallPlugin,
    working_backend: str,
    failure: str,
    kind: type[StorageUnavailableError],
    what: str,
) -> None:
    describe = (
        "\n        @hookimpl\n        async def sessionstore_describe(self, bucket):\n"
        f"            raise {failure}\n"
    )
    install_plugin("broken", working_backend + describe)
    store = SessionStore(backend="broken", bucket="sessions")
    with pytest.raises(kind) as caught:
        await store.describe()
    assert type(caught.value) is kind
    assert str(caught.value).startswith(f"broken backend {what} on sessions: ")
