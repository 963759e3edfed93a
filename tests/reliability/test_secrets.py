"""Credentials never show: not in the repr of the store, its settings, storage or
backend; not in any log record of any logger captured at DEBUG (botocore,
aiobotocore, s3fs, gcsfs, fsspec, aiohttp, google, azure, urllib3, sessionstore)
while operations succeed and while they fail; not in exception text, its chain
(``__cause__``, ``__context__``, the SDK's inner exceptions) or its traceback.

Checked are the secret values themselves, raw and URL-encoded. botocore logs the
``Authorization`` header, whose signature is derived from the secret, and its
``Credential=`` part names the access key id: the id is an identifier (AWS says
so), the secret is never there.
"""

from __future__ import annotations

import base64
import logging
import secrets
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import pytest

from emulators import free_port
from emulators.faults import Fault, FaultProxy
from sessionstore import SessionStore, SessionStoreError
from tests.reliability.conftest import Figures
from tests.reliability.targets import AzureTarget, GcsTarget, S3Target, Target, open_target

LOGGERS = (
    *("botocore", "aiobotocore", "s3fs", "gcsfs", "fsspec", "aiohttp", "google", "azure"),
    *("urllib3", "requests", "sessionstore", "sessionstore_s3", "sessionstore_gcs"),
    "sessionstore_azure",
)


@dataclass
class Credential:
    """A way to authenticate: the target, the store options that carry the
    credential, the values that must never show, and the ones only to hide from
    reprs and errors (identifiers that SDK logs may name)."""

    name: str
    target: Target
    options: dict[str, Any]
    secrets: list[str]
    identifiers: list[str] = field(default_factory=list)

    def store(self, endpoint: str | None = None, **overrides: Any) -> SessionStore:
        return self.target.make_store(endpoint, **{**self.options, **overrides})


def _s3(target: Target) -> Credential:
    key = "AKIA" + secrets.token_hex(8).upper()
    secret = secrets.token_urlsafe(30)
    return Credential("s3 key and secret", target, {"key": key, "secret": secret}, [secret], [key])


def _gcs(target: Target) -> Credential:
    from google.oauth2.credentials import Credentials

    token = "ya29." + secrets.token_urlsafe(40)
    credentials = Credentials(token=token)  # type: ignore[no-untyped-call]
    return Credential("gcs token", target, {"token": credentials}, [token])


def _azure_key(target: Target) -> Credential:
    assert isinstance(target, AzureTarget)
    key = target.server.account_key
    return Credential("azure account key", target, {"account_key": key}, [key])


def _azure_connection_string(target: Target) -> Credential:
    assert isinstance(target, AzureTarget)
    server = target.server
    text = (
        f"DefaultEndpointsProtocol=http;AccountName={server.account_name};"
        f"AccountKey={server.account_key};BlobEndpoint={server.endpoint_url};"
    )
    options = {
        "connection_string": text,
        "account_name": None,
        "account_key": None,
        "endpoint_url": None,
    }
    return Credential("azure connection string", target, options, [server.account_key, text])


def _azure_sas(target: Target) -> Credential:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    assert isinstance(target, AzureTarget)
    server = target.server
    sas = generate_container_sas(
        server.account_name,
        target.bucket,
        account_key=server.account_key,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )
    signature = parse_qs(sas)["sig"][0]
    options = {"sas_token": f"?{sas}", "account_key": None}
    return Credential("azure SAS", target, options, [signature, sas, server.account_key])


CREDENTIALS: dict[str, tuple[str, Callable[[Target], Credential]]] = {
    "s3": ("s3", _s3),
    "gcs": ("gcs", _gcs),
    "azure-key": ("azure", _azure_key),
    "azure-connection-string": ("azure", _azure_connection_string),
    "azure-sas": ("azure", _azure_sas),
}


@pytest.fixture(params=CREDENTIALS)
def credential(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Credential]:
    kind, make = CREDENTIALS[str(request.param)]
    target = open_target(kind, request, tmp_path)
    try:
        yield make(target)
    finally:
        target.close()


def _forms(values: list[str]) -> set[str]:
    """Each value raw and URL-encoded (as it would sit in a query string)."""
    forms = (lambda v: v, quote, lambda v: quote(v, safe=""), quote_plus)
    return {form(value) for value in values for form in forms if len(value) >= 8}


def _leaks(text: str, values: set[str]) -> list[str]:
    return sorted(value[:6] + "..." for value in values if value in text)


def _exception_text(error: BaseException) -> str:
    """str, repr and args of the error and of everything chained to it, and the
    formatted traceback."""
    parts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        inner = getattr(current, "inner_exception", None)
        todo += [current.__cause__, current.__context__]
        if isinstance(inner, BaseException):
            todo.append(inner)
    return "\n".join(parts)


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    lines = [caplog.text]
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(_exception_text(record.exc_info[1]))
    return "\n".join(lines)


async def _failures(credential: Credential) -> dict[str, BaseException]:
    """Fail in every way the test servers allow; the errors raised."""
    quick = {"connect_timeout": 2.0, "read_timeout": 0.5, "retries": 0}
    errors: dict[str, BaseException] = {}

    async def attempt(name: str, store: SessionStore) -> None:
        try:
            await store.store_session("s1", {"a": 1})
            await store.load_session("s1")
        except SessionStoreError as error:
            errors[name] = error
        finally:
            await store.aclose()

    closed = f"http://127.0.0.1:{free_port()}"
    await attempt("unreachable", credential.store(closed, **quick))
    target = credential.target
    assert target.endpoint is not None
    with FaultProxy(target.endpoint) as proxy:
        async with credential.store(proxy.url) as primer:  # default timeouts: must succeed
            await primer.store_session("s1", {"a": 1})
        store = credential.store(proxy.url, **quick)
        # (A cut answer costs azure ~2 s: its downloader retries incomplete bodies.)
        for fault in (Fault.STALL, Fault.CUT_REQUEST, Fault.REFUSE):
            proxy.set(fault)
            try:
                await store.load_session("s1")
            except SessionStoreError as error:
                errors[fault.value] = error
        proxy.clear()
        await store.aclose()
    missing = "t-missing-" + secrets.token_hex(4)
    options = {**credential.options, "create_bucket": False}
    await attempt("missing bucket", target.make_store(bucket=missing, **options))
    if isinstance(target, AzureTarget) and credential.options.get("account_key"):
        wrong = base64.b64encode(secrets.token_bytes(64)).decode()  # well formed, wrong
        credential.secrets.append(wrong)
        await attempt("wrong key", credential.store(account_key=wrong))
    return errors


async def test_credentials_never_show(
    credential: Credential, caplog: pytest.LogCaptureFixture, figures: Figures
) -> None:
    """Success and failure paths, every logger at DEBUG: no secret anywhere."""
    for name in ("", *LOGGERS):
        caplog.set_level(logging.DEBUG, logger=name)
    store = credential.store()
    reprs = [repr(store), repr(store.settings), repr(store._storage)]
    reprs.append(repr(store._storage.plugin))
    async with store:
        await store.store_session("s1", {"a": 1})
        assert await store.load_session("s1") == {"a": 1}
        await store.update_session("s1", lambda state: {"a": 2})
        assert await store.list_sessions() == ["s1"]
        assert await store.get_session_metadata("s1") is not None
        assert await store.delete_session("s1")
    reprs.append(repr(store._storage.plugin))
    errors = await _failures(credential)
    assert len(errors) >= 4, errors
    hidden = _forms(credential.secrets + credential.identifiers)
    never = _forms(credential.secrets)
    leaks = {
        "repr": _leaks("\n".join(reprs), hidden),
        "logs": _leaks(_log_text(caplog), never),
        **{name: _leaks(_exception_text(error), hidden) for name, error in errors.items()},
    }
    for case, found in leaks.items():
        figures.record("secrets", f"{credential.name}: {case}", leaks=len(found))
    assert not any(leaks.values()), leaks
    if not isinstance(credential.target, GcsTarget):  # gcs's path logs nothing
        sdk = "botocore" if isinstance(credential.target, S3Target) else "urllib3"
        assert any(record.name.startswith(sdk) for record in caplog.records), "no SDK logs"
