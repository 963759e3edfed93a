"""The ``if_match`` and ``create_only`` checks, made while holding the directory's lock."""

from __future__ import annotations

import os

from sessionstore.errors import ConflictError
from sessionstore_file.versions import version_token


def check_precondition(
    current: os.stat_result | None,
    if_match: str | None,
    create_only: bool,
    bucket: str,
    path: str,
    action: str,
) -> None:
    """Raise :class:`ConflictError` unless the current file (``None``: absent)
    satisfies ``if_match`` and ``create_only``. The error names the object as the
    other backends do, by its path in its bucket: an application may show it to its
    users, who have no business seeing where the store lives on this host."""
    if if_match is None and not create_only:
        return
    where = f"{path!r} in bucket {bucket!r}"
    if if_match is not None:
        if current is None:
            raise ConflictError(
                f"cannot {action} {where}: expected version {if_match!r}, but there is no object"
            )
        found = version_token(current)
        if found != if_match:
            raise ConflictError(
                f"cannot {action} {where}: expected version {if_match!r}, found {found!r}"
            )
    if create_only and current is not None:
        raise ConflictError(f"cannot create {where}: an object already exists there")
