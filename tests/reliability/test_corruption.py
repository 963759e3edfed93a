"""Corrupted stored bytes, written directly into the storage, raise
CorruptSessionError naming the path on every backend: from load_session, from
update_session (which then writes nothing), and from a checkpoint's load.
session_exists counts such a file as existing, so nobody overwrites it blindly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionstore import CorruptSessionError
from tests.reliability.conftest import Figures
from tests.reliability.targets import BACKENDS, Target, target_fixture


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    yield from target_fixture(request, tmp_path)


def _document(**header: Any) -> dict[str, Any]:
    envelope = {
        "format": 1,
        "session_id": "s1",
        "filename": "state.json",
        "stored_at": "2026-11-25T06:05:00+00:00",
        "backend": "file",
    }
    envelope.update(header)
    return {"sessionstore": {k: v for k, v in envelope.items() if v is not None}, "state": {}}


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


VALID = _json({**_document(), "state": {"text": "été", "n": 12345}})

CORRUPT: dict[str, bytes] = {
    "empty file": b"",
    "truncated in half": VALID[: len(VALID) // 2],
    "truncated by one byte": VALID[:-1],
    "only a brace": b"{",
    "NUL bytes": b"\x00" * 64,
    "non-UTF-8 garbage": b"\xff\xfe\xfd\xfc",
    "non-UTF-8 inside a string": VALID.replace("été".encode(), b"\xe9t\xe9"),
    "UTF-16 document": VALID.decode().encode("utf-16"),
    "JSON array": b"[1, 2, 3]",
    "JSON null": b"null",
    "JSON string": b'"state"',
    "JSON number": b"42",
    "JSON true": b"true",
    "deeply nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "envelope version 2": _json(_document(format=2)),
    "envelope version 0": _json(_document(format=0)),
    "envelope version as text": _json(_document(format="1")),
    "envelope without version": _json(_document(format=None)),
    "envelope without session_id": _json(_document(session_id=None)),
    "envelope without filename": _json(_document(filename=None)),
    "envelope without stored_at": _json(_document(stored_at=None)),
    "envelope without backend": _json(_document(backend=None)),
    "stored_at not a time": _json(_document(stored_at="yesterday")),
    "stored_at a number": _json(_document(stored_at=1700000000)),
    "expires_at not a time": _json(_document(expires_at="soon")),
    "state a list": _json({"sessionstore": _document()["sessionstore"], "state": []}),
    "state null": _json({"sessionstore": _document()["sessionstore"], "state": None}),
}


async def test_corrupt_bytes_raise_corrupt_session_error(target: Target, figures: Figures) -> None:
    """Every corruption, as state and as checkpoint, is CorruptSessionError with the
    bucket-relative path in ``path`` and in the message; nothing is overwritten."""
    async with target.make_store() as store:
        for case, data in CORRUPT.items():
            for filename in ("state.json", "checkpoint-1.json"):
                path = f"s1/{filename}"
                await target.write(path, data)
                with pytest.raises(CorruptSessionError) as caught:
                    await store.load_session("s1", filename)
                assert caught.value.path == path, case
                assert path in str(caught.value), case
                with pytest.raises(CorruptSessionError):
                    await store.update_session("s1", lambda state: {"new": True}, filename)
                assert await store.session_exists("s1", filename), case
                assert await target.read(path) == data, case
            figures.record(
                "corruption", f"{target.kind} {case}", outcome="CorruptSessionError", path=path
            )
        # A good file still loads afterwards, beside the corrupt one.
        await target.write("s1/state.json", VALID)
        assert await store.load_session("s1") == {"text": "été", "n": 12345}
