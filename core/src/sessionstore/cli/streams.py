"""Standard streams that write all they are given, or fail."""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class _WholeWrites(io.FileIO):
    """A file that writes all it is given, or raises, as a buffered stream does.

    Unbuffered (``python -u``, ``PYTHONUNBUFFERED``, common in containers), a
    standard stream's text goes straight to its file, and Python's text layer takes
    a short write as done (CPython gh-85393): a pipe whose reader leaves during a
    large write (``| head``) takes part of it, the rest is dropped without an error,
    and the command exits 0. Written on, the rest fails: a broken pipe, exit 141.
    """

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            written: int | None = super().write(view[done:])
            if written is None:  # a non-blocking file that is full
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN), done)
            done += written
        return done


def writing_whole(stream: TextIO) -> TextIO:
    """``stream``; if unbuffered, the same stream, writing through a file that
    writes all it is given (still at once: nothing is held back)."""
    if not isinstance(stream, io.TextIOWrapper) or type(stream.buffer) is not io.FileIO:
        return stream  # buffered: its buffer writes all, or raises
    stream.flush()
    whole = _WholeWrites(stream.fileno(), "wb", closefd=False)
    whole.name = stream.buffer.name  # "<stdout>", as before
    return io.TextIOWrapper(
        whole,
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=True,
    )


def drop_unread_output() -> None:
    """Send what standard output still holds, if it cannot be written (a reader that
    has gone, a full disk), to the null device: flushed again at exit, it would fail
    again, print "Exception ignored ..." and exit 120."""
    try:
        sys.stdout.flush()
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
