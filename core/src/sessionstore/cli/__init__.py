"""The ``sessionstore`` command line: look at, change and move stored sessions.

Imported only when the command runs, so ``import sessionstore`` stays light.
"""

from __future__ import annotations

from sessionstore.cli import backends, copy, doctor, sessions  # noqa: F401  (register commands)
from sessionstore.cli.app import cli


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="sessionstore")


__all__ = ["cli", "main"]
