"""The ``sessionstore`` command line: look at, change and move stored sessions.

Imported only when the command runs, so ``import sessionstore`` stays light.
"""

from __future__ import annotations

import io
import os
import sys

from sessionstore.cli import backends, copy, doctor, sessions  # noqa: F401  (register commands)
from sessionstore.cli.app import cli
from sessionstore.cli.streams import drop_unread_output, writing_whole


def main() -> None:
    """The console script's entry point."""
    # A stream the shell closed (>&-) is None in Python: written to, as click.echo
    # already does, it discards what it is given, rather than fail with a traceback.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (open until exit)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    # Unbuffered (PYTHONUNBUFFERED), a large write that a pipe's reader leaves during
    # would lose its rest silently and exit 0, not 141 (see writing_whole).
    sys.stdout = writing_whole(sys.stdout)
    sys.stderr = writing_whole(sys.stderr)
    # Text a stream's encoding cannot hold (a session id in Japanese, written to a
    # latin-1 terminal) is escaped (\u65e5), not a crash that exits 2 as a usage error.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        cli(prog_name="sessionstore")
    finally:
        # Output that could not be written (a full disk) has been said so, with its
        # exit code: not tried again at exit, which would exit 120 instead.
        drop_unread_output()


__all__ = ["cli", "main"]
