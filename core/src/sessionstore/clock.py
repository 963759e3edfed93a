"""The time sessionstore stamps on writes and compares expiry against.

Everything reads the clock through :func:`now`, looked up at call time, so a test
can replace ``sessionstore.clock.now`` (e.g. with pytest's ``monkeypatch``) and
move time forward instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)
