"""Closing a store: through ``async with`` however its body ends, and more than once,
with a backend that has connections to release (a throwaway installed plugin)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import anyio
import pytest

from sessionstore import SessionStore

InstallPlugin = Callable[..., str]

CLOSE_HOOK = """
        @hookimpl
        async def sessionstore_close(self):
            await anyio.lowlevel.checkpoint()  # as a client's close awaits its sockets
            CLOSED.append(self.greeting)
"""


def closing_backend(install_plugin: InstallPlugin, working_backend: str) -> list[str]:
    """Install a backend whose close takes a checkpoint; the list it records closes in."""
    source = "    import anyio.lowlevel\n    CLOSED = []\n" + working_backend + CLOSE_HOOK
    closed: list[str] = importlib.import_module(install_plugin("closing", source)).CLOSED
    return closed


async def test_a_store_whose_body_is_cancelled_still_closes_its_backend(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    closed = closing_backend(install_plugin, working_backend)
    with anyio.move_on_after(0.01) as scope:
        async with SessionStore(backend="closing") as store:
            await store.store_session("s", {})
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert closed == ["hi"]


async def test_a_store_closes_once_and_reopens(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    closed = closing_backend(install_plugin, working_backend)
    store = SessionStore(backend="closing")
    with pytest.raises(KeyError):
        async with store:
            raise KeyError("the body's error is what propagates")
    await store.aclose()
    assert closed == ["hi"]
    await store.store_session("s", {"v": 1})  # prepares the bucket again
    assert await store.load_session("s") == {"v": 1}
    await store.aclose()
    await store.aclose()
    assert closed == ["hi", "hi"]
