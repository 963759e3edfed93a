"""copy_sessions' per-file failures: each is named with the error that says why, and
the rest of the copy goes on."""

from __future__ import annotations

from pathlib import Path

from sessionstore import (
    ConflictError,
    CorruptSessionError,
    ObjectInfo,
    SessionStore,
    StoredObject,
    copy_sessions,
)


class WrittenMeanwhile(SessionStore):
    """A destination where another writer replaces ``a/state.json`` right after
    the copy reads it, as an application still writing there would."""

    async def load_raw(self, session_id: str, filename: str = "state.json") -> StoredObject | None:
        read = await super().load_raw(session_id, filename)
        if session_id == "a":
            await self.store_session("a", {"written": "meanwhile"})
        return read


class ReadsBackOther(SessionStore):
    """A destination that gives back other bytes than it was given for ``a``'s
    files, at the version it wrote (a storage that corrupts what it holds)."""

    async def load_raw(self, session_id: str, filename: str = "state.json") -> StoredObject | None:
        read = await super().load_raw(session_id, filename)
        if session_id == "a" and read is not None:
            return StoredObject(data=read.data.replace(b"1", b"7"), info=read.info)
        return read


class WrittenAfterTheCopy(SessionStore):
    """A destination where an application writes ``a``'s files right after the copy
    wrote them, before it reads them back."""

    async def store_raw(
        self,
        session_id: str,
        filename: str,
        data: bytes,
        *,
        if_match: str | None = None,
        create_only: bool = False,
    ) -> ObjectInfo:
        info = await super().store_raw(
            session_id, filename, data, if_match=if_match, create_only=create_only
        )
        if session_id == "a":
            await self.store_session("a", {"other": True}, filename)
        return info


async def two_sessions() -> SessionStore:
    source = SessionStore(backend="memory")
    await source.store_session("a", {"n": 1})
    await source.store_session("b", {"n": 2})
    return source


async def test_a_file_changed_at_the_destination_is_a_conflict() -> None:
    source = await two_sessions()
    destination = WrittenMeanwhile(backend="memory")
    await destination.store_session("a", {"old": True})

    report = await copy_sessions(source, destination, concurrency=1)

    [(name, error)] = report.failed
    assert name == "a/state.json"
    assert isinstance(error, ConflictError)
    assert str(error) == "changed at the destination during the copy"
    assert isinstance(error.__cause__, ConflictError)  # the storage's own refusal
    assert await destination.load_session("a") == {"written": "meanwhile"}  # kept
    assert await destination.load_session("b") == {"n": 2}  # the rest is copied
    assert not report.ok


async def test_other_bytes_read_back_under_verify_are_corrupt() -> None:
    source = await two_sessions()
    destination = ReadsBackOther(backend="memory")

    report = await copy_sessions(source, destination, verify=True)

    [(name, error)] = report.failed
    assert name == "a/state.json"
    assert isinstance(error, CorruptSessionError)
    assert error.path == "a/state.json"
    assert "read back different bytes" in str(error)
    assert report.files_verified == 1  # b's


async def test_a_file_written_at_the_destination_before_its_read_back_is_a_conflict() -> None:
    """It was called corrupt: the read-back found the application's bytes."""
    source = await two_sessions()
    destination = WrittenAfterTheCopy(backend="memory")

    report = await copy_sessions(source, destination, verify=True)

    [(name, error)] = report.failed
    assert name == "a/state.json"
    assert isinstance(error, ConflictError)
    assert "changed at the destination after the copy wrote it" in str(error)
    assert await destination.load_session("a") == {"other": True}  # the application's
    assert report.files_verified == 1  # b's


async def test_an_undecodable_source_file_is_corrupt_and_names_its_path(tmp_path: Path) -> None:
    source = SessionStore(backend="file", root=tmp_path)
    await source.store_session("a", {"n": 1})
    await source.store_session("b", {"n": 2})
    (tmp_path / "sessions" / "a" / "state.json").write_bytes(b"\x00garbage")

    report = await copy_sessions(source, SessionStore(backend="memory"))

    [(name, error)] = report.failed
    assert name == "a/state.json"
    assert isinstance(error, CorruptSessionError)
    assert error.path == "a/state.json"
    assert str(error).startswith("not a session document at the source: ")
    assert isinstance(error.__cause__, CorruptSessionError)
    assert report.files_copied == 1
