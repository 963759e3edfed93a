"""What the memory backend says of a bucket: it lives in this process, no longer."""

from __future__ import annotations

import os
import pickle

from sessionstore import SessionStore


async def test_a_bucket_is_described_as_this_process_memory() -> None:
    store = SessionStore(backend="memory", bucket="app")
    assert await store.describe() == {
        "location": f"the memory of this process (pid {os.getpid()})",
        "lifetime": (
            "gone when the process exits (a pickled or spawned copy of the store starts empty)"
        ),
    }


async def test_what_the_description_says_of_a_pickled_copy_holds() -> None:
    store = SessionStore(backend="memory", bucket="app")
    await store.store_session("s", {"a": 1})
    copy = pickle.loads(pickle.dumps(store))
    assert await copy.load_session("s") is None
    assert await copy.describe() == await store.describe()
