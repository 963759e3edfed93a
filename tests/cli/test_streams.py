"""Unbuffered standard streams (``PYTHONUNBUFFERED``) write all they are given, or
fail; ``test_sessions`` checks the exit code 141 this gives behind ``| head``."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator

import pytest

from sessionstore.cli.streams import writing_whole

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe's read and write ends."""
    read_end, write_end = os.pipe()
    yield read_end, write_end
    os.close(read_end)
    os.close(write_end)


def _unbuffered(fd: int) -> io.TextIOWrapper:
    """A text stream on ``fd`` as Python makes standard output under ``python -u``."""
    raw = io.FileIO(fd, "wb", closefd=False)
    return io.TextIOWrapper(raw, encoding="latin-1", errors="backslashreplace", write_through=True)


def test_an_unbuffered_stream_still_writes_at_once(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    stream = _unbuffered(write_end)
    whole = writing_whole(stream)
    assert whole is not stream
    whole.write("é日\n")  # no flush: nothing is held back
    assert os.read(read_end, 100) == b"\xe9\\u65e5\n"
    assert (whole.encoding, whole.errors) == ("latin-1", "backslashreplace")
    assert whole.buffer.name == stream.buffer.name


def test_a_write_the_file_takes_part_of_is_not_dropped_silently(pipe: tuple[int, int]) -> None:
    """A non-blocking pipe takes what it has room for: the text layer over a plain
    unbuffered file would return as if all was written."""
    read_end, write_end = pipe
    os.set_blocking(write_end, False)
    whole = writing_whole(_unbuffered(write_end))
    with pytest.raises(BlockingIOError) as raised:
        whole.write("x" * 1_000_000)
    taken = raised.value.characters_written
    assert 0 < taken < 1_000_000
    os.set_blocking(read_end, False)
    assert len(os.read(read_end, 1_000_000)) == taken


def test_a_buffered_stream_is_kept(pipe: tuple[int, int]) -> None:
    buffered = io.TextIOWrapper(io.BufferedWriter(io.FileIO(pipe[1], "wb", closefd=False)))
    assert writing_whole(buffered) is buffered
    text = io.StringIO()
    assert writing_whole(text) is text
