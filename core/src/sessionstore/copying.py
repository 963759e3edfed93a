"""Copy sessions from one store to another, byte for byte, resumably.

A file already identical at the destination is skipped, so an interrupted copy
started again carries on where it stopped. Nothing is ever deleted, at the source
or at the destination: this is a copy, not a sync.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from sessionstore.bulk import DEFAULT_CONCURRENCY, for_each_session
from sessionstore.errors import (
    ConflictError,
    CorruptSessionError,
    InvalidSessionIdError,
    SessionStoreError,
)
from sessionstore.store import SessionStore, _call_back


@attrs.define
class CopyReport:
    """What a copy did so far: counted per file, sessions once all their files are done.

    ``failed`` pairs a ``"<session_id>/<filename>"`` with the error that kept that
    file from being copied: a :class:`CorruptSessionError` when it cannot be
    decoded at the source, or when under ``verify`` the destination read back
    other bytes than it was given, at the version it wrote; a
    :class:`ConflictError` when it changed at the destination meanwhile, before
    the write or (under ``verify``) before the read-back (run the copy again); an
    :class:`InvalidSessionIdError` when the destination cannot hold its name (a
    file store on a volume that ignores case, already holding the name in another
    case). ``str(error)`` says which, in words.
    """

    sessions: int = 0
    """Sessions whose every file was copied, skipped or failed."""
    files_copied: int = 0
    """Files written to the destination (those that then failed ``verify`` included)."""
    files_skipped: int = 0
    """Files the destination already held byte for byte, so not written again."""
    bytes_copied: int = 0
    """Bytes of the files written, as stored (envelope included)."""
    files_verified: int = 0
    """Files written and read back identical, under ``verify``; else 0."""
    failed: list[tuple[str, SessionStoreError]] = attrs.Factory(list)
    """``("<session_id>/<filename>", error)`` for each file not copied, as above."""

    @property
    def ok(self) -> bool:
        """Whether every file reached the destination."""
        return not self.failed


Progress = Callable[[CopyReport], object]


async def copy_sessions(
    source: SessionStore,
    destination: SessionStore,
    *,
    prefix: str = "",
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: bool = False,
    on_progress: Progress | None = None,
) -> CopyReport:
    """Copy every session whose id starts with ``prefix`` (all its files, expired
    ones too) from ``source`` to ``destination``; return what was done.

    ``concurrency`` sessions are copied at a time. A destination file holding other
    bytes is replaced, on condition that it is still the version just read;
    ``verify`` reads each written file back and compares it with the source.
    ``on_progress`` is called with the running report after each file (an
    ``async def`` one is awaited).
    Storage failures propagate (:class:`StorageUnavailableError`); per-file
    problems are collected in :attr:`CopyReport.failed`.
    """
    report = CopyReport()
    copier = _Copier(source, destination, verify, report, on_progress)
    await for_each_session(source, prefix, copier.copy_session, concurrency=concurrency)
    return report


@attrs.define
class _Copier:
    source: SessionStore
    destination: SessionStore
    verify: bool
    report: CopyReport
    on_progress: Progress | None

    async def copy_session(self, session_id: str) -> None:
        for filename in await self.source.list_files(session_id):
            await self.copy_file(session_id, filename)
            if self.on_progress is not None:
                await _call_back(self.on_progress, self.report)
        self.report.sessions += 1

    async def copy_file(self, session_id: str, filename: str) -> None:
        name = f"{session_id}/{filename}"
        stored = await self.source.load_raw(session_id, filename)
        if stored is None:
            return  # deleted at the source since it was listed
        there = await self.destination.load_raw(session_id, filename)
        if there is not None and there.data == stored.data:
            self.report.files_skipped += 1
            return
        try:
            written = await self.destination.store_raw(
                session_id,
                filename,
                stored.data,
                if_match=None if there is None else there.info.version,
                create_only=there is None,
            )
        except CorruptSessionError as error:
            why = f"not a session document at the source: {error}"
            self._failed(name, CorruptSessionError(why, path=error.path), error)
            return
        except ConflictError as error:
            self._failed(name, ConflictError("changed at the destination during the copy"), error)
            return
        except InvalidSessionIdError as error:  # the source held it, so the name is valid
            self._failed(name, error)
            return
        self.report.files_copied += 1
        self.report.bytes_copied += len(stored.data)
        if self.verify:
            back = await self.destination.load_raw(session_id, filename)
            if back is None or back.info.version != written.version:
                why = "changed at the destination after the copy wrote it, before it was read back"
                self._failed(name, ConflictError(why))
            elif back.data != stored.data:
                why = "read back different bytes at the destination"
                self._failed(name, CorruptSessionError(why, path=name))
            else:
                self.report.files_verified += 1

    def _failed(
        self, name: str, error: SessionStoreError, cause: BaseException | None = None
    ) -> None:
        error.__cause__ = cause
        self.report.failed.append((name, error))
