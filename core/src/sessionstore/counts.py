"""The check of a count argument (a limit, a page size, a concurrency, attempts):
a wrong one fails at the call, naming the argument, not deep inside the work."""

from __future__ import annotations


def check_count(name: str, value: object, none_means: str = "") -> None:
    """Raise :class:`TypeError` unless ``value`` is an ``int`` (``True`` is not a
    count), :class:`ValueError` unless it is at least 1. ``none_means`` says what
    ``None`` would have done, for a parameter that takes it."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        also = f" (or None for {none_means})" if none_means else ""
        raise ValueError(f"{name} must be at least 1{also}, got {value}")
