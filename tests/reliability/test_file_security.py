"""File backend security through the public API: private modes, and symlinks
planted in the tree refused, never followed.

``plugins/file/tests/test_file_safety.py`` checks each hook against a planted
link; this campaign plants links where an attacker with write access to the tree
would (the bucket folder, a session folder, a state or checkpoint file, each
pointing at a real session outside the root or at nothing), runs every
``SessionStore`` operation against each, and checks that nothing outside the root
was read, written or created and that the link is still there to be noticed.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sessionstore import SessionStore
from sessionstore.errors import StoragePermissionError
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the file backend is POSIX-only")

INSIDE = {"secret": "inside"}
OUTSIDE = {"secret": "outside"}

Operation = Callable[[SessionStore, str], Awaitable[Any]]


async def _update(store: SessionStore, filename: str) -> Any:
    return await store.update_session("victim", lambda state: {"n": 1}, filename)


OPERATIONS: dict[str, Operation] = {
    "load_session": lambda store, name: store.load_session("victim", name),
    "load_session_with_metadata": lambda s, name: s.load_session_with_metadata("victim", name),
    "session_exists": lambda store, name: store.session_exists("victim", name),
    "get_session_metadata": lambda store, name: store.get_session_metadata("victim", name),
    "store_session": lambda store, name: store.store_session("victim", {"n": 1}, name),
    "update_session": _update,
    "touch_session": lambda store, name: store.touch_session("victim", 60, name),
    "delete_session (file)": lambda store, name: store.delete_session("victim", name),
    "delete_session (all)": lambda store, name: store.delete_session("victim"),
    "list_files": lambda store, name: store.list_files("victim"),
    "list_sessions": lambda store, name: store.list_sessions(),
    "purge_expired": lambda store, name: store.purge_expired(),
}

PLANTS = {
    # case: (where the link is, below the bucket; what it points at, below outside/sessions)
    "bucket folder -> outside bucket": ("", ""),
    "session folder -> outside session": ("victim", "victim"),
    "state file -> outside state file": ("victim/state.json", "victim/state.json"),
    "checkpoint -> outside checkpoint": ("victim/cp.json", "victim/cp.json"),
    "bucket folder -> missing folder": ("", "missing"),
    "session folder -> missing folder": ("victim", "missing"),
    "state file -> missing file": ("victim/state.json", "victim/missing.json"),
}


def snapshot(directory: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every entry below ``directory``: bytes (``None`` for folders and links) and mode."""
    found = {}
    for path in sorted(directory.rglob("*")):
        status = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(status.st_mode) else None
        found[str(path.relative_to(directory))] = (data, status.st_mode)
    return found


async def write_sessions(base: Path) -> None:
    """Stores under ``base/root`` and ``base/outside``, each holding sessions
    ``victim`` (a state and a checkpoint) and ``other``."""
    for root, state in ((base / "root", INSIDE), (base / "outside", OUTSIDE)):
        async with SessionStore(backend="file", root=root) as store:
            for filename in ("state.json", "cp.json"):
                await store.store_session("victim", state, filename)
            await store.store_session("other", state)


def plant(base: Path, link: str, target: str) -> Path:
    """Replace ``link`` (below the bucket) with a symlink to ``target`` (below the
    outside bucket); return the link's path."""
    bucket = base / "root" / "sessions"
    planted = bucket / link if link else bucket
    if planted.is_dir():
        shutil.rmtree(planted)
    else:
        planted.unlink()
    # Relative, so that a copy of the whole tree points into its own outside.
    target_path = os.path.relpath(base / "outside" / "sessions" / target, planted.parent)
    planted.symlink_to(target_path, target_is_directory=not target.endswith(".json"))
    return planted


@pytest.mark.parametrize("case", list(PLANTS))
async def test_planted_symlinks_are_refused_never_followed(
    tmp_path: Path, case: str, figures: Figures, anyio_backend: str
) -> None:
    link, target = PLANTS[case]
    filename = link.rpartition("/")[2] if link.endswith(".json") else "state.json"
    outcomes: dict[str, str] = {}
    template = tmp_path / "template"
    await write_sessions(template)
    planted_in_template = plant(template, link, target)
    for name, operation in OPERATIONS.items():
        base = tmp_path / uuid.uuid4().hex
        shutil.copytree(template, base, symlinks=True)
        store = SessionStore(backend="file", root=base / "root")
        planted = base / planted_in_template.relative_to(template)
        before = snapshot(base / "outside")
        pointing_at = os.readlink(planted)
        refusal = None
        try:
            result = await operation(store, filename)
        except StoragePermissionError as error:
            refusal, result = str(error), None
        assert refusal is None or "symlink" in refusal, refusal
        assert "outside" not in repr(result), f"{name} read through the link: {result!r}"
        outcomes[name] = "not followed" if refusal is None else "refused"
        assert snapshot(base / "outside") == before, f"{name} changed something outside"
        assert sorted(os.listdir(base)) == ["outside", "root"], f"{name} created outside"
        assert os.readlink(planted) == pointing_at, f"{name} removed or replaced the link"
        await store.aclose()
    passed_over = [name for name, outcome in outcomes.items() if outcome == "not followed"]
    figures.record(
        "file security: planted symlinks",
        f"{case} ({anyio_backend})",
        operations=len(outcomes),
        refused=len(outcomes) - len(passed_over),
        not_followed=len(passed_over),
        followed=0,
        outside_changed=0,
        not_followed_by=", ".join(passed_over),
    )
    # Whatever reads or writes the planted object itself must refuse.
    direct = ["load_session", "store_session", "update_session", "delete_session (file)"]
    assert {name: outcomes[name] for name in direct} == dict.fromkeys(direct, "refused")


@pytest.mark.parametrize("umask", [0o000, 0o022])
async def test_every_file_is_0600_and_every_folder_0700(
    tmp_path: Path, umask: int, figures: Figures, anyio_backend: str
) -> None:
    """Whatever the umask, everything the store creates (the root included) is
    private to its user: sessions, checkpoints, rewrites, touched and updated files."""
    root = tmp_path / "root"
    previous = os.umask(umask)
    try:
        async with SessionStore(backend="file", root=root) as store:
            for index in range(20):
                session = f"s{index}"
                await store.store_session(session, {"n": index})
                await store.store_session(session, {"n": index}, "checkpoint.json")
                await store.update_session(session, lambda state: {"n": -1})
                await store.touch_session(session, 60)
            await store.delete_session("s0")
    finally:
        os.umask(previous)
    entries = [root, *root.rglob("*")]
    wrong = {
        str(path): oct(stat.S_IMODE(path.lstat().st_mode))
        for path in entries
        if stat.S_IMODE(path.lstat().st_mode) != (0o700 if path.is_dir() else 0o600)
    }
    figures.record(
        "file security: modes",
        f"umask {umask:03o} ({anyio_backend})",
        folders=sum(path.is_dir() for path in entries),
        files=sum(path.is_file() for path in entries),
        wrong_modes=len(wrong),
    )
    assert wrong == {}
    assert sum(path.is_file() for path in entries) == 38
