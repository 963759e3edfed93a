"""The file backend on a volume that ignores case, as macOS's and Windows' do.

There ``Alice`` and ``alice`` are one folder: unchecked, storing ``alice`` replaced
Alice's state and loading ``alice`` returned it. The volume here is a real one, a
FUSE file system that folds names (:mod:`emulators.folding_volume`), mounted once
per test session (``folding_mount`` in :mod:`emulators.pytest_plugin`); where the
host cannot mount FUSE these tests skip.
"""

from __future__ import annotations

import os
import random
import re
import unicodedata
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from sessionstore import SessionStore
from sessionstore.errors import InvalidSessionIdError
from sessionstore.testing import BackendTests
from sessionstore_file.dirs import init_bucket

BUCKET = "folding"


@pytest.fixture
def folding_root(folding_mount: Path) -> Path:
    """A fresh folder on the folding volume."""
    root = folding_mount / uuid.uuid4().hex
    root.mkdir()
    return root


@pytest.fixture
def store(folding_root: Path) -> SessionStore:
    return SessionStore(backend="file", bucket=BUCKET, root=folding_root)


def test_the_volume_folds_and_the_probe_tells(folding_root: Path, tmp_path: Path) -> None:
    (folding_root / "Chat").mkdir()
    assert (folding_root / "chat").is_dir()  # the volume really folds
    assert os.listdir(folding_root) == ["Chat"]  # and keeps the first spelling
    assert init_bucket(str(folding_root), BUCKET) is True
    assert init_bucket(str(tmp_path), BUCKET) is False
    assert os.listdir(folding_root / BUCKET) == []  # the probe left nothing behind


async def test_a_session_spelled_otherwise_is_another_session(store: SessionStore) -> None:
    async with store:
        await store.store_session("Alice", {"secret": "Alice's"})
        assert await store.load_session("alice") is None
        assert await store.session_exists("alice") is False
        assert await store.get_session_metadata("alice") is None
        assert await store.list_files("alice") == []
        assert await store.delete_session("alice") is False
        assert await store.load_session("ALICE") is None
        assert await store.load_session("Alice") == {"secret": "Alice's"}
        assert await store.list_sessions() == ["Alice"]


async def test_writing_a_session_spelled_otherwise_is_refused(store: SessionStore) -> None:
    async with store:
        await store.store_session("Alice", {"secret": "Alice's"})
        refused = "'Alice' is stored there, and this volume does not tell it from 'alice'"
        with pytest.raises(InvalidSessionIdError, match=refused):
            await store.store_session("alice", {"secret": "Mallory's"})
        with pytest.raises(InvalidSessionIdError, match=refused):
            await store.store_session("alice", {"secret": "Mallory's"}, create_only=True)
        with pytest.raises(InvalidSessionIdError, match=refused):
            await store.update_session("alice", lambda state: {"secret": "Mallory's"})
        with pytest.raises(InvalidSessionIdError, match="'Alice' is stored there"):
            await store.store_session("ALICE", {"secret": "Mallory's"}, filename="notes.json")
        assert await store.load_session("Alice") == {"secret": "Alice's"}
        assert await store.list_files("Alice") == ["state.json"]


async def test_a_file_spelled_otherwise_is_another_file(store: SessionStore) -> None:
    async with store:
        await store.store_session("s", {"n": 1}, filename="Notes.json")
        assert await store.load_session("s", "notes.json") is None
        assert await store.delete_session("s", "NOTES.json") is False
        with pytest.raises(InvalidSessionIdError, match=re.escape("'Notes.json' is stored there")):
            await store.store_session("s", {"n": 2}, filename="notes.json")
        assert await store.load_session("s", "Notes.json") == {"n": 1}
        await store.store_session("s", {"n": 3}, filename="Notes.json")  # its own spelling
        assert await store.load_session("s", "Notes.json") == {"n": 3}
        assert await store.delete_session("s") is True
        assert await store.list_sessions() == []


async def test_unicode_normalization_is_not_told_apart(store: SessionStore) -> None:
    """HFS+ stores every name decomposed, so a session must read back whichever form
    it was written in; the two forms look the same to whoever chose them."""
    composed = "café"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    async with store:
        await store.store_session(composed, {"n": 1})
        assert await store.load_session(decomposed) == {"n": 1}
        await store.store_session(decomposed, {"n": 2})
        assert await store.load_session(composed) == {"n": 2}
        assert await store.list_sessions() == [composed]


async def test_the_volume_s_own_folding_rules_are_followed(upper_folding_mount: Path) -> None:
    """NTFS upper-cases each character by a table, so a dotless i (U+0131) finds
    ``i``, which Unicode case folding keeps apart: the stored entry is found by its
    inode, whatever rule matched it."""
    dotless = "\u0131"
    assert dotless.casefold() != "i".casefold()  # Unicode folding alone would miss it
    root = upper_folding_mount / uuid.uuid4().hex
    root.mkdir()
    async with SessionStore(backend="file", bucket=BUCKET, root=root) as store:
        await store.store_session("i", {"n": 1})
        await store.store_session("s", {"n": 1}, filename="i.json")
        assert await store.load_session(dotless) is None
        assert await store.load_session("s", f"{dotless}.json") is None
        with pytest.raises(InvalidSessionIdError, match="'i' is stored there"):
            await store.store_session(dotless, {"n": 2})
        with pytest.raises(InvalidSessionIdError, match=re.escape("'i.json' is stored there")):
            await store.store_session("s", {"n": 2}, filename=f"{dotless}.json")
        assert await store.delete_session(dotless) is False
        assert await store.load_session("i") == {"n": 1}
        assert await store.load_session("s", "i.json") == {"n": 1}


async def test_on_a_volume_that_does_not_fold_both_spellings_are_kept(tmp_path: Path) -> None:
    async with SessionStore(backend="file", bucket=BUCKET, root=tmp_path) as store:
        await store.store_session("Alice", {"n": 1})
        await store.store_session("alice", {"n": 2})
        assert await store.load_session("Alice") == {"n": 1}
        assert await store.load_session("alice") == {"n": 2}
        assert await store.list_sessions() == ["Alice", "alice"]


class TestFileBackendOnAFoldingVolume(BackendTests):
    """The whole conformance kit, with every name checked against its spelling."""

    @pytest.fixture
    def store(self, folding_root: Path) -> SessionStore:
        return SessionStore(backend="file", bucket="kit-tests", root=folding_root)


async def test_random_operations_agree_with_a_model_of_the_volume(folding_root: Path) -> None:
    """A seeded walk of stores, loads and deletes over names that fold together in
    case, normalization or both, checked step by step against a model: names fold
    by Unicode case folding after NFC; the first spelling stored is kept; another
    case reads as absent and is refused for writing; another normalization is the
    same name."""

    def same_name(a: str, b: str) -> bool:
        return unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)

    def folds_with(a: str, b: str) -> bool:
        return (
            unicodedata.normalize("NFC", a).casefold() == unicodedata.normalize("NFC", b).casefold()
        )

    def find(names: Iterable[str], name: str) -> str | None:
        """The stored name ``name`` folds with, if any."""
        return next((stored for stored in names if folds_with(stored, name)), None)

    ids = ["a", "A", "café", "cafe\u0301", "CAFÉ", "straße", "STRASSE", "strasse", "x"]
    files = ["state.json", "Notes.json", "notes.json"]
    model: dict[str, dict[str, int]] = {}  # stored session -> stored file -> value
    rng = random.Random(20261205)
    async with SessionStore(backend="file", bucket=BUCKET, root=folding_root) as store:
        for step in range(400):
            operation = rng.choice(["store", "store", "load", "delete", "delete file", "list"])
            session_id, filename = rng.choice(ids), rng.choice(files)
            folded = find(model, session_id)  # the stored session it folds with
            session = folded if folded is not None and same_name(folded, session_id) else None
            folded_file = find(model[session], filename) if session is not None else None
            file = folded_file if folded_file and same_name(folded_file, filename) else None
            context = (step, operation, session_id, filename, model)
            if operation == "store":
                refused = (folded is not None and session is None) or (
                    folded_file is not None and file is None
                )
                try:
                    await store.store_session(session_id, {"v": step}, filename=filename)
                except InvalidSessionIdError:
                    assert refused, context
                else:
                    assert not refused, context
                    model.setdefault(session or session_id, {})[file or filename] = step
            elif operation == "load":
                expected = {"v": model[session][file]} if session and file else None
                assert await store.load_session(session_id, filename) == expected, context
            elif operation == "delete":
                assert await store.delete_session(session_id) is (session is not None), context
                if session is not None:
                    del model[session]
            elif operation == "delete file":
                deleted = session is not None and file is not None
                assert await store.delete_session(session_id, filename) is deleted, context
                if session is not None and file is not None:
                    del model[session][file]
                    if not model[session]:
                        del model[session]
            else:
                listed = await store.list_sessions()
                assert sorted(listed) == sorted(model), context
