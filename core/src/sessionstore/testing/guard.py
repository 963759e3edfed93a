"""Keep authors from switching the kit off by accident: overriding one of its tests
needs a stated reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

REASON_ATTRIBUTE = "__sessionstore_override_reason__"


def override(reason: str) -> Callable[[F], F]:
    """Mark a test method as deliberately replacing the kit's test of that name.

    ``reason`` is shown in the error if it is empty and should say why your
    backend cannot pass the kit's version (e.g. a limit of the storage service).
    """
    if not reason or not reason.strip():
        raise ValueError("override() needs a reason saying why the kit's test does not apply")

    def mark(function: F) -> F:
        setattr(function, REASON_ATTRIBUTE, reason)
        return function

    return mark


def check_overrides(cls: type, kit: type) -> None:
    """Raise :class:`TypeError` if ``cls`` replaces a test of ``kit`` without :func:`override`."""
    for name, value in vars(cls).items():
        if not name.startswith("test_") or not hasattr(kit, name):
            continue
        if not getattr(value, REASON_ATTRIBUTE, None):
            raise TypeError(
                f"{cls.__qualname__}.{name} replaces a sessionstore conformance test, which "
                f"would silently drop that part of the contract. Delete it to run the kit's "
                f"test, or decorate it with @sessionstore.testing.override('why it cannot "
                f"apply to this backend')."
            )
