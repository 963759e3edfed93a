"""Building the synchronous Azure Blob client a backend uses: credential, HTTP
transport with its timeouts and connection pool, and a short retry policy."""

from __future__ import annotations

import base64
import logging
import random
import re
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.credentials import AzureSasCredential, TokenCredential
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, ExponentialRetry
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sessionstore.settings import check_http_url
from sessionstore_azure.errors import mask_signatures

POOL_SIZE = 40
"""Connections kept per host: anyio's default worker-thread limit, so concurrent
operations reuse connections instead of discarding them."""

MAX_BACKOFF = 4.0

AZURITE_EXAMPLE = "http://127.0.0.1:10000/devstoreaccount1"


class ShortRetry(ExponentialRetry):
    """The storage SDK's retry policy (connection errors, 408, 5xx) with sub-second
    first back-offs: full jitter over 0.5 s, 1 s, 2 s... capped at 4 s. The SDK's
    default waits 15 s before the first retry."""

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        return random.uniform(0, min(MAX_BACKOFF, 0.5 * 2 ** max(0, settings["count"] - 1)))


class _SignatureFilter(logging.Filter):
    """Masks SAS signatures in log records.

    urllib3 logs every request line at DEBUG ("GET /container/blob?...&sig=..."),
    and with a SAS token the query string holds the signature: a bearer credential
    in anyone's debug log. azure-core's own logging policy redacts it already.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        if "sig=" in message.lower():
            record.msg, record.args = mask_signatures(message), None
        return True


_SIGNATURE_FILTER = _SignatureFilter()


def hide_signatures_from_urllib3() -> None:
    """Install the signature filter on urllib3's request logger (once)."""
    logger = logging.getLogger("urllib3.connectionpool")
    if _SIGNATURE_FILTER not in logger.filters:
        logger.addFilter(_SIGNATURE_FILTER)


def build_transport(connect_timeout: float, read_timeout: float) -> RequestsTransport:
    """A requests transport with the given timeouts and a pool sized for concurrency."""
    session = requests.Session()
    # The pipeline retries; urllib3 must not retry underneath it (as azure-core's own setup).
    adapter = HTTPAdapter(
        pool_maxsize=POOL_SIZE,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]+=*)?")
"""Base64's alphabet, padding at the end only: the SDK's decoding drops anything
else (a space, say), signing with another key."""


def _decodes(value: str) -> bool:
    """Whether the SDK's own (lenient) decoding takes ``value``."""
    try:
        base64.b64decode(value)
    except ValueError:
        return False
    return True


def _check_account_key(value: str, what: str) -> None:
    """A key the SDK decodes as written: anything else failed at the first request,
    as a refusal. The SDK decodes with a lenient ``base64.b64decode``, whose rules
    are the same on every Python; ``validate=True`` is not (3.11 and then 3.13 each
    refuse more excess padding), so it would refuse keys that work on one Python
    only."""
    if not (_BASE64.fullmatch(value) and _decodes(value)):
        raise ValueError(
            f"{what} is not valid base64 (value not shown: it is a secret): it must be "
            "the key as the portal shows it, letters, digits, '+' and '/', '=' at the end"
        )


def _check_connection_string(value: str) -> None:
    """``Name=value`` parts separated by ``;``, naming an account (or the
    development storage), with a base64 key and an http(s) blob endpoint if given.
    The SDK parses it only when the first request builds the client, so a malformed
    one was a storage failure there."""
    settings: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        name, equals, setting = part.partition("=")
        if not equals or not name.strip():
            raise ValueError(
                "connection_string is malformed: it must be Name=value parts separated "
                "by ';' (value not shown: it holds a secret)"
            )
        settings[name.strip().lower()] = setting.strip()
    if settings.get("usedevelopmentstorage", "").lower() == "true":
        return
    if not (settings.get("accountname") or settings.get("blobendpoint")):
        raise ValueError(
            "connection_string names no storage account: it needs AccountName or "
            "BlobEndpoint (or UseDevelopmentStorage=true)"
        )
    if settings.get("accountkey"):
        _check_account_key(settings["accountkey"], "the AccountKey of connection_string")
    if settings.get("blobendpoint"):
        check_http_url(
            settings["blobendpoint"],
            option="the BlobEndpoint of connection_string",
            example=AZURITE_EXAMPLE,
        )


def check_account_options(
    *,
    account_name: str | None,
    account_key: str | None,
    connection_string: str | None,
    sas_token: str | None,
    endpoint_url: str | None,
) -> None:
    """Raise :class:`ValueError` unless the options name one storage account and at
    most one credential, each well-formed (checked when the store is built, before
    any request)."""
    given = [
        name
        for name, value in [
            ("connection_string", connection_string),
            ("account_key", account_key),
            ("sas_token", sas_token),
        ]
        if value
    ]
    if len(given) > 1:
        raise ValueError(f"give only one credential option, not {' and '.join(given)}")
    if connection_string and (endpoint_url or account_name):
        raise ValueError(
            "connection_string already names the account and its endpoint: "
            "drop account_name / endpoint_url"
        )
    if not (connection_string or endpoint_url or account_name):
        raise ValueError(
            "the azure backend needs account_name (or endpoint_url, or connection_string) "
            "to know which storage account to use"
        )
    if connection_string:
        _check_connection_string(connection_string)
    if endpoint_url:
        check_http_url(endpoint_url, option="endpoint_url", example=AZURITE_EXAMPLE)
        if not given and urlsplit(endpoint_url).scheme == "http":
            # The SDK refuses a token credential over http, but only at the first
            # request ("Token credential is only supported with HTTPS").
            raise ValueError(
                "without account_key, sas_token or connection_string the backend signs "
                "in with DefaultAzureCredential, which needs an https:// endpoint_url: "
                "give an https:// one, or give account_key or sas_token (an emulator "
                "such as Azurite takes its well-known account key)"
            )
    if account_key:
        _check_account_key(account_key, "account_key")


def build_service_client(
    *,
    account_name: str | None,
    account_key: str | None,
    connection_string: str | None,
    sas_token: str | None,
    endpoint_url: str | None,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
) -> BlobServiceClient:
    """A :class:`BlobServiceClient` for options that passed
    :func:`check_account_options`.

    Credential precedence: the connection string's own, else ``account_key``, else
    ``sas_token``, else :class:`azure.identity.DefaultAzureCredential` (imported
    only then).
    """
    hide_signatures_from_urllib3()
    options: dict[str, Any] = {
        "transport": build_transport(connect_timeout, read_timeout),
        "retry_policy": ShortRetry(retry_total=retries),
    }
    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string, **options)
    account_url = (
        endpoint_url.rstrip("/")
        if endpoint_url
        else f"https://{account_name}.blob.core.windows.net"
    )
    credential: str | dict[str, str] | AzureSasCredential | TokenCredential
    if account_key:
        # Without account_name the SDK reads the account from the endpoint URL.
        credential = (
            {"account_name": account_name, "account_key": account_key}
            if account_name
            else account_key
        )
    elif sas_token:
        credential = AzureSasCredential(sas_token.lstrip("?"))
    else:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return BlobServiceClient(account_url, credential=credential, **options)
