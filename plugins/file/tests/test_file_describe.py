"""What the file backend says of a bucket: its folder, and whether names that differ
only in case can both be stored there (``SessionStore.describe``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sessionstore import SessionStore


async def test_a_bucket_is_described_by_its_folder_on_a_case_sensitive_volume(
    tmp_path: Path,
) -> None:
    store = SessionStore(backend="file", bucket="app", root=tmp_path / "root")
    assert await store.describe() == {
        "folder": str(tmp_path / "root" / "app"),
        "names": "case-sensitive",
    }
    assert (tmp_path / "root" / "app").is_dir()  # described after init, as the hook says


async def test_a_relative_root_is_described_as_the_absolute_folder_it_resolved_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SessionStore(backend="file", bucket="app", root="rel")
    monkeypatch.chdir("/")  # the store keeps the folder it resolved when built
    assert (await store.describe())["folder"] == str(tmp_path / "rel" / "app")


async def test_a_volume_that_ignores_case_is_described_with_what_that_means(
    folding_mount: Path,
) -> None:
    root = folding_mount / uuid.uuid4().hex
    store = SessionStore(backend="file", bucket="app", root=root)
    description = await store.describe()
    assert description["folder"] == str(root / "app")
    names = description["names"]
    assert names.startswith("case-insensitive: the volume ignores case")
    assert "names differing only in case cannot coexist" in names
    assert "the other spelling reads as absent, storing it is refused" in names
    assert "each operation lists the folder" in names
