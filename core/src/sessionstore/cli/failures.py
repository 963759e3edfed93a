"""Exit codes, and the one-line message (with the fix) each failure prints.

Scripts branch on the exit code; people read the message. With ``--json`` the
failure is a JSON object on standard output instead.
"""

from __future__ import annotations

import json
from typing import IO, Any

import click

from sessionstore.errors import (
    BackendLoadError,
    BackendNotFoundError,
    ConflictError,
    CorruptSessionError,
    SessionStoreError,
    StoragePermissionError,
    StorageUnavailableError,
)

OK = 0
NOT_FOUND = 1
USAGE = 2
CONFLICT = 3
UNAVAILABLE = 4
CORRUPT = 5
INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
BROKEN_PIPE = 141  # 128 + SIGPIPE, as shells report `ls | head` when head has gone

MISSING_BUCKET_HINT = (
    "create the bucket, or let sessionstore create it: -o create_bucket=true, "
    "or ?create_bucket=true in the URL"
)
DOCTOR_HINT = "run `sessionstore doctor` to check the configuration and the connection"


class Failure(click.ClickException):
    """A command failed for a reason the user can act on."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: int,
        hint: str | None = None,
        kind: str = "Failure",
        detail: str | None = None,
    ) -> None:
        super().__init__(" ".join(message.split()))  # always one line
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it per class
        self.hint = hint
        self.kind = kind
        self.detail = None if detail is None else " ".join(detail.split())
        self.as_json = False

    def format_message(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def json_error(self) -> dict[str, Any]:
        """The failure as the ``error`` member of a JSON output."""
        error: dict[str, Any] = {
            "type": self.kind,
            "message": self.message,
            "exit_code": self.exit_code,
        }
        if self.hint:
            error["hint"] = self.hint
        if self.detail:
            error["detail"] = self.detail
        return error

    def show(self, file: IO[Any] | None = None) -> None:
        if self.as_json:
            try:
                click.echo(json.dumps({"error": self.json_error()}), file=file)
                return
            except OSError:
                pass  # standard output is what failed (a full disk): say it below
        click.echo(f"sessionstore: error: {self.format_message()}", err=True, file=file)


def not_found(message: str) -> Failure:
    return Failure(message, exit_code=NOT_FOUND, kind="NotFound")


def interrupted() -> Failure:
    """Ctrl-C: exit 130, where click would exit 1, which reads as "not found"."""
    return Failure("interrupted", exit_code=INTERRUPTED, kind="Interrupted")


def from_error(error: SessionStoreError | ValueError, *, suggest_doctor: bool = True) -> Failure:
    """The failure a library error becomes."""
    code, hint = _classify(error)
    if suggest_doctor and code == UNAVAILABLE:
        hint = f"{hint}; {DOCTOR_HINT}"
    message, detail = _message(error)
    return Failure(message, exit_code=code, hint=hint, kind=type(error).__name__, detail=detail)


def _message(error: SessionStoreError | ValueError) -> tuple[str, str | None]:
    """The one line to show of ``error``, and its whole text where that line is not
    all of it (``--json`` gives it as ``detail``).

    A storage failure ends with the backend's text, which may be a service's
    multi-line answer: Azure's adds ``RequestId:...``, ``Time:...``,
    ``ErrorCode:...`` and the XML body on lines of their own, after the sentence
    that says what happened. Its first line is shown; joined into it, the rest
    made a line of several hundred characters. Other errors are sessionstore's own
    sentences, shown whole."""
    text = str(error)
    lines = [line for line in text.splitlines() if line.strip()]
    if not isinstance(error, StorageUnavailableError) or len(lines) < 2:
        return text, None
    return lines[0], text


def from_usage_error(error: click.UsageError) -> Failure:
    """The failure an argument parser's error becomes where JSON was asked for."""
    return Failure(error.format_message(), exit_code=USAGE, kind="UsageError")


def _missing_bucket(error: StorageUnavailableError) -> bool:
    """Whether the storage failed because the bucket (container) does not exist.

    Told by the type of the backend's own error, chained as ``__cause__``, not by
    its text: the s3, gcs and azure backends raise a :class:`LookupError` for a
    missing bucket, at the store's first operation and at any later one (s3's and
    gcs's public ``BucketNotFoundError`` subclass it; azure raises it as it is),
    and for nothing else. Its subclasses KeyError and IndexError are a backend's
    bugs, not a missing bucket."""
    cause = error.__cause__
    return isinstance(cause, LookupError) and not isinstance(cause, (KeyError, IndexError))


def _classify(error: SessionStoreError | ValueError) -> tuple[int, str | None]:
    local = isinstance(error, StorageUnavailableError) and error.backend == "file"
    if isinstance(error, StoragePermissionError):
        if local:
            return UNAVAILABLE, "check that this user may read and write the store's folder"
        return UNAVAILABLE, "check the credentials and their permissions on this bucket"
    if isinstance(error, StorageUnavailableError):
        if local:  # no endpoint, no network: a folder
            return UNAVAILABLE, "check that the store's root folder exists and is a folder"
        if _missing_bucket(error):
            return UNAVAILABLE, MISSING_BUCKET_HINT
        return UNAVAILABLE, "check the endpoint, the network, and that the storage is up"
    if isinstance(error, ConflictError):
        return CONFLICT, "the session changed meanwhile: read it again and retry"
    if isinstance(error, CorruptSessionError):
        return CORRUPT, "the file is not a session document; `sessionstore get --raw` shows it"
    if isinstance(error, BackendNotFoundError):
        return USAGE, "`sessionstore backends` lists the installed backends"
    if isinstance(error, BackendLoadError):
        return USAGE, "`sessionstore backends` shows which plugins are broken and why"
    # ConfigurationError, InvalidSessionIdError, SerializationError and the
    # ValueErrors of bad arguments: their message says what to change.
    return USAGE, None
