"""Fixtures that install throwaway backend distributions for registry tests."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

InstallPlugin = Callable[..., str]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    """Make a real (if tiny) installed distribution visible to importlib-metadata:
    a ``*.dist-info`` folder with an entry point, and its module, on ``sys.path``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def install(name: str, source: str, *, distribution: str | None = None) -> str:
        dist = distribution or f"fake-{name}"
        module = f"fake_backend_{name}_{len(modules)}_{abs(hash(tmp_path)) % 10**8}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        entry_points = info / "entry_points.txt"
        previous = (
            entry_points.read_text() if entry_points.exists() else "[sessionstore.backends]\n"
        )
        entry_points.write_text(previous + f"{name} = {module}:Backend\n")
        modules.append(module)
        return module

    yield install
    for module in modules:
        sys.modules.pop(module, None)


@pytest.fixture
def working_backend() -> str:
    """Source of a minimal backend that fits the contract."""
    return _WORKING_BACKEND


_WORKING_BACKEND = """
    from sessionstore import ListPage, ObjectInfo, StoredObject, hookimpl
    from datetime import datetime, timezone

    NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

    class Backend:
        def __init__(self, greeting: str = "hi") -> None:
            self.greeting = greeting
            self.objects: dict[str, bytes] = {}

        @hookimpl
        async def sessionstore_init(self, bucket):
            return None

        @hookimpl
        async def sessionstore_upload(self, bucket, path, data, if_match, create_only):
            self.objects[path] = data
            return ObjectInfo(path=path, size=len(data), modified=NOW, created=NOW, version="1")

        @hookimpl
        async def sessionstore_download(self, bucket, path):
            info = ObjectInfo(path=path, size=0, modified=NOW, created=NOW, version="1")
            return StoredObject(data=self.objects[path], info=info)

        @hookimpl
        async def sessionstore_exists(self, bucket, path):
            return path in self.objects

        @hookimpl
        async def sessionstore_stat(self, bucket, path):
            raise FileNotFoundError(path)

        @hookimpl
        async def sessionstore_delete(self, bucket, paths, if_match):
            for path in paths:
                self.objects.pop(path, None)

        @hookimpl
        async def sessionstore_list(self, bucket, prefix, cursor, limit):
            return ListPage(entries=())
"""
