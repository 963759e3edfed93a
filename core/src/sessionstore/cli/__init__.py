"""The ``sessionstore`` command line: look at, change and move stored sessions.

Imported only when the command runs, so ``import sessionstore`` stays light.
"""

from __future__ import annotations

import os
import sys

from sessionstore.cli import backends, copy, doctor, sessions  # noqa: F401  (register commands)
from sessionstore.cli.app import cli


def main() -> None:
    """The console script's entry point."""
    # A stream the shell closed (>&-) is None in Python: written to, as click.echo
    # already does, it discards what it is given, rather than fail with a traceback.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (open until exit)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    cli(prog_name="sessionstore")


__all__ = ["cli", "main"]
