"""The ``if_match`` and ``create_only`` checks, made while holding the directory's lock."""

from __future__ import annotations

import os
from collections.abc import Callable

from sessionstore.errors import ConflictError
from sessionstore_file.versions import version_token


def check_precondition(
    current: os.stat_result | None,
    if_match: str | None,
    create_only: bool,
    where: Callable[[], str],
    action: str,
) -> None:
    """Raise :class:`ConflictError` unless the current file (``None``: absent)
    satisfies ``if_match`` and ``create_only``; the error names the path ``where()``
    gives (built only then)."""
    if if_match is not None:
        if current is None:
            raise ConflictError(
                f"cannot {action} {where()}: expected version {if_match!r}, but there is no object"
            )
        found = version_token(current)
        if found != if_match:
            raise ConflictError(
                f"cannot {action} {where()}: expected version {if_match!r}, found {found!r}"
            )
    if create_only and current is not None:
        raise ConflictError(f"cannot create {where()}: an object already exists there")
