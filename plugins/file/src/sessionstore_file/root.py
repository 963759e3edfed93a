"""Where the file backend keeps its buckets when the store does not say."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

ENV_ROOT = "SESSIONSTORE_FILE_ROOT"
APP_NAME = "sessionstore"


def resolve_root(option: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The absolute root directory: the ``root`` option, else ``SESSIONSTORE_FILE_ROOT``,
    else the user's data directory (``platformdirs.user_data_dir("sessionstore")``).

    ``~`` is expanded, and a relative path is made absolute now, so a later
    ``chdir`` cannot move the store.
    """
    env = os.environ if environ is None else environ
    chosen = option if option is not None else env.get(ENV_ROOT)
    if not chosen:
        chosen = platformdirs.user_data_dir(APP_NAME, appauthor=False)
    return Path(os.path.abspath(os.path.expanduser(chosen)))
