"""The file backend holds no descriptor between operations."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sessionstore import SessionStore


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
async def test_stores_leave_no_descriptor_open(tmp_path: Path) -> None:
    """Regression: initialising a bucket opened its directory to check it and never
    closed it, one descriptor per store for the life of the process. A whole test
    run held over a thousand, enough for select()-based code to fail."""
    before = _open_descriptors()
    for number in range(50):
        store = SessionStore(backend="file", bucket=f"bucket-{number}", root=str(tmp_path))
        await store.store_session("s", {"n": number})
        assert await store.load_session("s") == {"n": number}
        await store.aclose()
    assert _open_descriptors() - before < 5
