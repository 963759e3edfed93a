"""Shared fixtures of the reliability campaign.

Each campaign records the figures it measured (kills survived, torn files, lost
updates, fault outcomes, fuzz cases) with :class:`Figures`; the report script
collects them from the file named by ``$SESSIONSTORE_FIGURES`` to write
``docs/reliability.md``. Without that variable the figures are checked by the
tests' own assertions and then dropped.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

FIGURES_ENV = "SESSIONSTORE_FIGURES"


class Figures:
    """Appends one JSON line per recorded case to ``$SESSIONSTORE_FIGURES``."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, campaign: str, case: str, **values: Any) -> None:
        """Record what ``case`` of ``campaign`` measured, e.g.
        ``record("contention", "file 16 tasks x 3 processes", updates=4800, lost=0)``."""
        if self.path is None:
            return
        line = json.dumps({"campaign": campaign, "case": case, **values}, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


@pytest.fixture(scope="session")
def figures() -> Figures:
    """Where each campaign records its figures for the report."""
    target = os.environ.get(FIGURES_ENV)
    return Figures(Path(target) if target else None)
