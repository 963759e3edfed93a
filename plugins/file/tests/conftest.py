"""A file backend over a fresh root, driven through its hooks directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionstore_file import FileBackend

BUCKET = "test-bucket"


@pytest.fixture
async def backend(tmp_path: Path) -> FileBackend:
    backend = FileBackend(root=tmp_path / "root")
    await backend.sessionstore_init(bucket=BUCKET)
    return backend


def bucket_dir(backend: FileBackend) -> Path:
    """The folder of :data:`BUCKET` under the backend's root."""
    return backend.root_dir / BUCKET
