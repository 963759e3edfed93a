"""Turning Azure SDK errors into the errors the hook contract names, without leaking secrets.

The SDK's messages can carry credentials: a connection failure repeats the request
URL, and with a SAS token that URL holds the signature. :class:`Scrubber` finds the
configured secrets (raw and URL-encoded) and any ``sig=`` value in an error chain,
so the error raised to the caller never contains them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar
from urllib.parse import quote, quote_plus

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

from sessionstore.errors import ConflictError

T = TypeVar("T")

_SIGNATURE = re.compile(r"(sig=)[^&\s'\"<>]+", re.IGNORECASE)
_MASK = "***"


def error_code(error: BaseException) -> str:
    """The storage error code of ``error`` (``"BlobNotFound"``...), or ``""``."""
    code = getattr(error, "error_code", None)
    return str(getattr(code, "value", code) or "")


def status_code(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def is_missing_blob(error: BaseException) -> bool:
    return status_code(error) == 404 and error_code(error) != "ContainerNotFound"


def is_missing_container(error: BaseException) -> bool:
    return error_code(error) == "ContainerNotFound"


def is_precondition_failure(error: BaseException) -> bool:
    """A failed etag / create-only condition (412 ConditionNotMet, 409 BlobAlreadyExists)."""
    return error_code(error) in {"ConditionNotMet", "BlobAlreadyExists", "TargetConditionNotMet"}


def is_refusal(error: BaseException) -> bool:
    return isinstance(error, ClientAuthenticationError) or status_code(error) in {401, 403}


def mask_signatures(text: str) -> str:
    """``text`` with every SAS signature (``sig=...``) masked."""
    return _SIGNATURE.sub(rf"\g<1>{_MASK}", text)


class Scrubber:
    """Masks the configured secrets, and any SAS signature, in error messages."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            secret = secret.lstrip("?")
            variants.update({secret, quote(secret, safe=""), quote(secret), quote_plus(secret)})
        # Longest first, so a secret is masked whole before any of its parts.
        self._secrets = sorted((v for v in variants if len(v) >= 8), key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return mask_signatures(text)

    def is_clean(self, error: BaseException) -> bool:
        return all(self.clean(text) == text for text in _messages(error))


def _messages(error: BaseException) -> Iterator[str]:
    """The text of ``error`` and of every error chained to it."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current.args)
        inner = getattr(current, "inner_exception", None)
        todo += [current.__cause__, current.__context__]
        if isinstance(inner, BaseException):
            todo.append(inner)


def missing_container(container: str) -> LookupError:
    return LookupError(
        f"Azure container {container!r} does not exist: create it (e.g. `az storage container "
        f"create --name {container}`) or open the store with create_bucket=True"
    )


def call(
    operation: Callable[[], T],
    scrubber: Scrubber,
    *,
    container: str,
    path: str | None = None,
    conflict: bool = False,
) -> T:
    """Run one SDK operation and raise the contract's errors for its failures.

    Not-found becomes :class:`FileNotFoundError` (a missing container a
    :class:`LookupError` saying so); with ``conflict`` a failed precondition, or a
    missing blob, becomes :class:`ConflictError`; a refusal becomes
    :class:`PermissionError`. Other errors propagate as they are, unless their text
    holds a secret: then a masked copy is raised, not chained to the original.
    """
    try:
        return operation()
    except Exception as error:
        replacement = translate(error, scrubber, container=container, path=path, conflict=conflict)
        if replacement is None:
            raise
        if scrubber.is_clean(error):
            raise replacement from error
    # Raised outside the ``except`` block: no implicit __context__ to the original.
    raise replacement


def translate(
    error: Exception,
    scrubber: Scrubber,
    *,
    container: str,
    path: str | None = None,
    conflict: bool = False,
) -> BaseException | None:
    """The exception to raise instead of ``error``, or ``None`` to re-raise it unchanged."""
    where = f"blob {path!r} in container {container!r}" if path else f"container {container!r}"
    text = scrubber.clean(str(error))
    if conflict and (is_precondition_failure(error) or is_missing_blob(error)):
        return ConflictError(f"condition failed for {where}: {_first_line(text)}")
    if is_missing_container(error):
        return missing_container(container)
    if is_missing_blob(error):
        return FileNotFoundError(f"no {where}")
    if is_refusal(error):
        return PermissionError(f"access refused to {where}: {text}")
    if scrubber.is_clean(error):
        return None
    if isinstance(error, HttpResponseError):
        return RuntimeError(f"{type(error).__name__}: {text}")
    if isinstance(error, AzureError):
        return ConnectionError(f"{type(error).__name__}: {text}")
    return RuntimeError(f"{type(error).__name__}: {text}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
