"""Azure-specific behaviour against Azurite: conditions, round trips, failures, secrets.

Azurite 3.35 enforces what Azure enforces here: ``If-Match`` (412 ConditionNotMet)
and ``If-None-Match: *`` (409 BlobAlreadyExists) on Put Blob and on Put Block List
(the commit of uploads above 64 MiB), and ``If-Match`` on Delete Blob. It also
answers blob batch requests, so batch delete is tested for real.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
import pluggy
import pytest
from azure.core.pipeline.transport import RequestsTransport

from emulators.faults import Fault, FaultProxy, silent_server
from emulators.proxy import Proxy
from sessionstore import SessionStore, hookspecs
from sessionstore.errors import (
    ConfigurationError,
    ConflictError,
    SessionStoreError,
    StoragePermissionError,
    StorageUnavailableError,
)
from sessionstore.storage import Storage
from sessionstore.testing import all_pages
from sessionstore.testing.forking import load_in_a_fork_while_held
from sessionstore_azure import AzureBackend

from .conftest import Azurite, container_sas, free_port, service

NO_ACCOUNT = {"account_name": None, "account_key": None, "endpoint_url": None}
"""Options that leave a connection string the only account setting."""
WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk+/Wrong+Key/Never=="


def chain_text(error: BaseException) -> str:
    """Everything a traceback or an error reporter could show of ``error``."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text += repr(current) + repr(current.args)
        current = current.__cause__ or current.__context__
    return text


@pytest.fixture
def requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``"METHOD /path"`` of every HTTP request the Azure SDK sends (counted, not faked)."""
    sent: list[str] = []
    send = RequestsTransport.send

    def counting_send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
        sent.append(f"{request.method} {urlsplit(request.url).path}")
        return send(self, request, **kwargs)

    monkeypatch.setattr(RequestsTransport, "send", counting_send)
    return sent


@pytest.fixture
async def storage(azure_store: SessionStore) -> Storage:
    return await azure_store._ensure_ready()


@pytest.fixture
def proxy(azurite: Azurite) -> Iterator[Proxy]:
    """A proxy in front of Azurite that can lose an answer (see :class:`Proxy`)."""
    with Proxy(f"http://127.0.0.1:{azurite.port}") as proxy:
        yield proxy


@pytest.fixture
def proxied_store(azurite: Azurite, container: str, proxy: Proxy) -> SessionStore:
    """A store reaching Azurite through ``proxy``, retrying twice."""
    endpoint_url = f"{proxy.url}/{azurite.account_name}"
    return SessionStore(
        backend="azure", bucket=container, **azurite.options(endpoint_url=endpoint_url, retries=2)
    )


def put_blob(path: str) -> str:
    """The proxy's pattern for a Put Blob of ``path`` (not a Put Block, no query)."""
    return rf"^PUT /[^?]*/{path}$"


# -- plugin shape ------------------------------------------------------------------


def test_registers_every_hook_with_pluggy() -> None:
    manager = pluggy.PluginManager("sessionstore")
    manager.add_hookspecs(hookspecs)
    plugin = AzureBackend(account_name="example")
    manager.register(plugin)  # validates each hookimpl's arguments against its spec
    specs = {name for name in dir(hookspecs) if name.startswith("sessionstore_")}
    implemented = {caller.name for caller in manager.get_hookcallers(plugin) or []}
    assert implemented == specs - {"sessionstore_sweep"}  # an interrupted upload leaves no blob


def test_entry_point_loads_the_backend() -> None:
    (point,) = entry_points(group="sessionstore.backends", name="azure")
    assert point.load() is AzureBackend


# -- conditions the emulator enforces ----------------------------------------------


async def test_stale_if_match_is_a_conflict(storage: Storage) -> None:
    """Azurite answers a stale If-Match with 412 ConditionNotMet: a ConflictError."""
    old = await storage.upload("s/f", b"old")
    await storage.upload("s/f", b"new")
    with pytest.raises(ConflictError, match="condition"):
        await storage.upload("s/f", b"stale", if_match=old.version)
    with pytest.raises(ConflictError):
        await storage.upload("s/f", b"stale", if_match="")
    assert (await storage.download("s/f")).data == b"new"


async def test_create_only_on_an_existing_blob_is_a_conflict(storage: Storage) -> None:
    """If-None-Match: * on an existing blob: 409 BlobAlreadyExists, a ConflictError."""
    await storage.upload("s/f", b"first", create_only=True)
    with pytest.raises(ConflictError):
        await storage.upload("s/f", b"second", create_only=True)
    assert (await storage.download("s/f")).data == b"first"


async def test_100_mb_round_trip_with_conditions_on_the_block_list(
    proxied_store: SessionStore, proxy: Proxy
) -> None:
    """100 MB goes up as blocks committed by one Put Block List that carries the
    condition, and comes back whole with the version of exactly those bytes. The
    commit carries the write id too: its lost answer is recognised as our write."""
    storage = await proxied_store._ensure_ready()
    size = 100 * 1024 * 1024
    first = random.Random(1).randbytes(size)
    info = await storage.upload("big/blob", first, create_only=True)
    assert info.size == size
    stored = await storage.download("big/blob")
    assert stored.info.version == info.version
    assert stored.info.size == size
    assert stored.data == first
    del stored
    second = first[:1] + b"\x00" + first[2:]
    with pytest.raises(ConflictError):
        await storage.upload("big/blob", second, create_only=True)
    with pytest.raises(ConflictError):
        await storage.upload("big/blob", second, if_match='"0x1"')
    commit = r"^PUT /[^?]*/big/blob\?comp=blocklist"
    proxy.lose_answer(commit)
    updated = await storage.upload("big/blob", second, if_match=info.version)
    assert proxy.count(commit) == 3 + 2  # the three above, the lost one, its retry
    stored = await storage.download("big/blob")
    assert stored.info.version == updated.version != info.version
    assert stored.data == second
    await proxied_store.aclose()


async def test_retried_conditional_upload_recognises_its_own_write(
    proxied_store: SessionStore, proxy: Proxy
) -> None:
    """Azurite stores the blob but the answer is lost; the SDK's retry meets 412
    (409 for create-only). The backend finds its own write id in the blob's
    metadata and reports success, with the version of that write."""
    storage = await proxied_store._ensure_ready()
    first = await storage.upload("s/f", b"v1")
    proxy.lose_answer(put_blob("s/f"))
    second = await storage.upload("s/f", b"v2", if_match=first.version)
    assert proxy.count(put_blob("s/f")) == 3  # v1, the lost v2, its retry
    stored = await storage.download("s/f")
    assert (stored.data, stored.info.version) == (b"v2", second.version)
    assert second == await storage.stat("s/f")
    proxy.lose_answer(put_blob("s/new"))
    created = await storage.upload("s/new", b"n", create_only=True)
    assert proxy.count(put_blob("s/new")) == 2
    assert (await storage.stat("s/new")).version == created.version
    # Someone else's write is still a conflict after a retry.
    proxy.lose_answer(put_blob("s/f"))
    with pytest.raises(ConflictError):
        await storage.upload("s/f", b"stale", if_match=first.version)
    proxy.lose_answer(put_blob("s/new"))
    with pytest.raises(ConflictError):
        await storage.upload("s/new", b"again", create_only=True)
    assert (await storage.download("s/f")).data == b"v2"
    assert (await storage.download("s/new")).data == b"n"
    await proxied_store.aclose()


async def test_update_with_a_lost_answer_applies_its_function_once(
    proxied_store: SessionStore, proxy: Proxy
) -> None:
    """The audit's case: update_session(+1) whose conditional write's answer is
    lost ended at 2 (a ConflictError for its own write, so the core applied +1 again)."""
    await proxied_store.store_session("counter", {"count": 0})
    proxy.lose_answer(put_blob("counter/state.json"))
    result = await proxied_store.update_session(
        "counter", lambda state: {"count": (state or {"count": 0})["count"] + 1}
    )
    assert result == {"count": 1}
    assert await proxied_store.load_session("counter") == {"count": 1}
    assert proxy.count(put_blob("counter/state.json")) == 3  # store, lost write, retry
    await proxied_store.aclose()


# -- round trips -------------------------------------------------------------------


async def test_each_operation_is_one_request(
    azure_store: SessionStore, requests_sent: list[str]
) -> None:
    """init, upload (plain and conditional), download, exists, stat, a list page, a
    delete of 5 blobs (one batch) and a conditional delete: one request each."""

    async def requests(operation: Any) -> list[str]:
        before = len(requests_sent)
        await operation
        return requests_sent[before:]

    storage = azure_store._storage
    assert len(await requests(storage.init())) == 1
    for index in range(5):
        assert len(await requests(storage.upload(f"s/{index}", b"x"))) == 1
    info = await storage.stat("s/0")
    assert len(await requests(storage.upload("s/0", b"y", if_match=info.version))) == 1
    assert len(await requests(storage.upload("s/new", b"y", create_only=True))) == 1
    assert len(await requests(storage.download("s/0"))) == 1
    assert len(await requests(storage.exists("s/0"))) == 1
    assert len(await requests(storage.exists("s/absent"))) == 1
    assert len(await requests(storage.stat("s/1"))) == 1
    assert len(await requests(storage.list("s/", None, 3))) == 1
    batch = await requests(storage.delete([f"s/{index}" for index in range(5)]))
    assert len(batch) == 1
    assert batch[0].startswith("POST ")
    assert batch[0].endswith(f"/{azure_store.bucket}")
    info = await storage.stat("s/new")
    assert len(await requests(storage.delete(["s/new"], if_match=info.version))) == 1
    assert await storage.list("s/", None, None) == type(await storage.list("s/", None, None))(())


async def test_listing_pages_one_request_each(
    azure_store: SessionStore, requests_sent: list[str]
) -> None:
    """12 sessions at 5 per page: three List Blobs requests, never a full scan."""
    storage = await azure_store._ensure_ready()
    for index in range(12):
        await storage.upload(f"s{index:02}/state.json", b"x")
    before = len(requests_sent)
    pages = await all_pages(lambda cursor: storage.list("", cursor, 5))
    assert [len(entries) for entries in pages] == [5, 5, 2]
    assert len(requests_sent) - before == 3
    assert all(request.startswith("GET ") for request in requests_sent[before:])


MIXED = ["0/", "a-b", "a.b/", "a/", "a0", "b", "c/", "c0", "d/", "é", "é/"]
"""A folder's entries, blobs and sub-folders interleaved, in ascending order."""


@pytest.mark.parametrize("limit", [None, 1, 2, 3, 4, 5, 10, 11, 12])
async def test_a_folder_of_blobs_and_sub_folders_lists_in_order(
    storage: Storage, limit: int | None
) -> None:
    """The SDK yields a page's sub-folders (BlobPrefix) first, then its blobs: a
    folder holding both listed out of order (audit finding 7). Each page is sorted;
    a page is the server's, a contiguous range of at most ``limit`` entries, so the
    pages follow each other in order too."""
    for entry in MIXED:
        await storage.upload(f"mix/{entry}x" if entry.endswith("/") else f"mix/{entry}", b"")
    await storage.upload("mix/.hidden", b"")
    await storage.upload("mix/.folder/x", b"")
    pages = await all_pages(lambda cursor: storage.list("mix/", cursor, limit), limit=limit)
    assert [entry for page in pages for entry in page] == [f"mix/{entry}" for entry in MIXED]
    pages = await all_pages(lambda cursor: storage.list("mix/a", cursor, limit), limit=limit)
    expected = ["mix/a-b", "mix/a.b/", "mix/a/", "mix/a0"]
    assert [entry for page in pages for entry in page] == expected


async def test_delete_of_more_than_one_batch(
    azure_store: SessionStore, requests_sent: list[str]
) -> None:
    """300 paths (and some absent ones) go in two batches of at most 256."""
    storage = await azure_store._ensure_ready()
    paths = [f"many/{index:03}" for index in range(300)]
    for path in paths:
        await storage.upload(path, b"")
    before = len(requests_sent)
    await storage.delete([*paths, "many/absent", "nobody/x"])
    assert len(requests_sent) - before == 2
    assert await storage.list("many/", None, None) == type(await storage.list("", None, 1))(())


# -- what is listed ----------------------------------------------------------------


async def test_hidden_and_marker_blobs_are_not_listed(
    azurite: Azurite, azure_store: SessionStore
) -> None:
    """Names starting with "." and directory-marker blobs ("dir/") never list."""
    storage = await azure_store._ensure_ready()
    await storage.upload("s/state.json", b"x")
    container = service(azurite).get_container_client(azure_store.bucket)
    for name in ["s/.tmp-123", ".hidden/state.json", ".top", "s/", "m/"]:
        container.upload_blob(name, b"", overwrite=True)
    assert (await storage.list("", None, None)).entries == ("m/", "s/")
    assert (await storage.list("s/", None, None)).entries == ("s/state.json",)
    assert (await storage.list("m/", None, None)).entries == ()


async def test_prefix_option_keeps_stores_apart(azurite: Azurite, container: str) -> None:
    """Two prefixes in one container see only their own sessions; blobs are stored
    as <prefix>/<session>/<file>."""
    one = SessionStore(backend="azure", bucket=container, **azurite.options(prefix="/one/"))
    two = SessionStore(backend="azure", bucket=container, **azurite.options(prefix="two/deep"))
    await one.store_session("a", {"n": 1})
    await two.store_session("b", {"n": 2})
    assert await one.list_sessions() == ["a"]
    assert await two.list_sessions() == ["b"]
    assert await two.load_session("a") is None
    names = [blob.name for blob in service(azurite).get_container_client(container).list_blobs()]
    assert names == ["one/a/state.json", "two/deep/b/state.json"]


# -- configuration -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["az", "azure", "abfs", "abfss"])
async def test_url_form(azurite: Azurite, container: str, scheme: str) -> None:
    """<scheme>://container/prefix?options works, for each scheme naming the backend
    (``abfss``, adlfs's and Spark's TLS name, was none); the key is percent-encoded."""
    url = (
        f"{scheme}://{container}/from/url?endpoint_url={quote(azurite.endpoint_url, safe='')}"
        f"&account_name={azurite.account_name}&account_key={quote(azurite.account_key, safe='')}"
        "&create_bucket=true&connect_timeout=2.5&retries=1"
    )
    store = SessionStore.from_url(url)
    assert store.backend == "azure"
    assert store.bucket == container
    plugin = store._storage.plugin
    assert isinstance(plugin, AzureBackend)
    assert (plugin.prefix, plugin.connect_timeout, plugin.retries) == ("from/url", 2.5, 1)
    assert plugin.create_bucket is True
    await store.store_session("s", {"via": "url"})
    assert await store.load_session("s") == {"via": "url"}
    blobs = service(azurite).get_container_client(container).list_blobs()
    assert [blob.name for blob in blobs] == ["from/url/s/state.json"]


def test_an_account_key_is_written_in_a_url_as_it_is() -> None:
    """Its '+' and '=' arrive as written (form decoding once made the '+' a space,
    and the key failed as not base64); percent-encoded, it reads the same."""
    key = "q+/r+w=="
    for written in (key, quote(key, safe="")):
        store = SessionStore.from_url(f"az://sessions?account_name=acct&account_key={written}")
        plugin = store._storage.plugin
        assert isinstance(plugin, AzureBackend)
        assert plugin.account_key == key


async def test_missing_container_without_create_bucket(azurite: Azurite, container: str) -> None:
    """create_bucket=False on a missing container: a clear error, nothing created."""
    store = SessionStore(backend="azure", bucket=container, **azurite.options(create_bucket=False))
    with pytest.raises(StorageUnavailableError, match="does not exist") as caught:
        await store.load_session("s")
    assert "create_bucket=True" in str(caught.value)
    assert not service(azurite).get_container_client(container).exists()


@pytest.mark.parametrize("bucket", ["under_score", "dot.ted", "double--hyphen"])
async def test_bucket_names_azure_refuses(azurite: Azurite, bucket: str) -> None:
    """Names the core accepts but Azure does not: a configuration error before any
    request (the backend learns its bucket only when the store first opens it)."""
    store = SessionStore(backend="azure", bucket=bucket, **azurite.options())
    with pytest.raises(ConfigurationError, match="not a valid Azure container name"):
        await store.session_exists("s")


async def test_existing_container_without_create_bucket(azurite: Azurite, container: str) -> None:
    service(azurite).create_container(container)
    store = SessionStore(backend="azure", bucket=container, **azurite.options(create_bucket=False))
    await store.store_session("s", {"a": 1})
    assert await store.load_session("s") == {"a": 1}


async def test_container_deleted_after_init(azurite: Azurite, azure_store: SessionStore) -> None:
    """Operations on a container deleted under the store say so, instead of
    pretending the session is absent."""
    await azure_store.store_session("s", {})
    service(azurite).delete_container(azure_store.bucket)
    for operation in (
        azure_store.load_session("s"),
        azure_store.session_exists("s"),
        azure_store.list_sessions(),
    ):
        with pytest.raises(StorageUnavailableError, match="does not exist"):
            await operation


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"account_key": "k" * 20, "sas_token": "sv=1&sig=abc"}, "only one credential"),
        (
            {"connection_string": "UseDevelopmentStorage=true", "account_key": None},
            "already names the account",
        ),
        ({"endpoint_url": None, "account_name": None}, "needs account_name"),
        ({"retries": -1}, "'retries' must be >= 0"),
        ({"read_timeout": 0}, "'read_timeout' must be > 0"),
        ({"connect_timeout": "-1"}, "'connect_timeout' must be > 0"),
        # The SDK put https:// before it and failed at the first request.
        ({"endpoint_url": "127.0.0.1:10000/devstoreaccount1"}, "endpoint_url must be an http"),
        ({"endpoint_url": "ftp://127.0.0.1/devstoreaccount1"}, "endpoint_url must be an http"),
        # A SAS goes in sas_token, not in the URL.
        ({"endpoint_url": "http://127.0.0.1:1/a?sv=1&sig=abc"}, "without a query"),
        # A key with a space (a '+' lost on the way) was refused at the first
        # request, as if the key were wrong.
        ({"account_key": "Eby8vdM02xNOcq FlqUwJ=="}, "account_key is not valid base64"),
        ({"account_key": "Eby8==vdM02xNOcq"}, "account_key is not valid base64"),
        ({"account_key": "=="}, "account_key is not valid base64"),
        ({"account_key": "QUJDRA="}, "account_key is not valid base64"),  # too little padding
        ({"prefix": "a/../b"}, "empty, '.' or '..' segment"),
        # Connection strings were parsed only by the first request's client.
        ({"connection_string": "garbage", **NO_ACCOUNT}, "connection_string is malformed"),
        ({"connection_string": "Protocol=http", **NO_ACCOUNT}, "names no storage account"),
        (
            {"connection_string": "AccountName=a;AccountKey=not base64!", **NO_ACCOUNT},
            "AccountKey of connection_string is not valid base64",
        ),
        (
            {"connection_string": "AccountName=a;BlobEndpoint=127.0.0.1:1/a", **NO_ACCOUNT},
            "BlobEndpoint of connection_string must be an http",
        ),
        ({"prefix": "a//b"}, "empty, '.' or '..' segment"),
        # Azure refuses blob names over 1024; Azurite does not: only production failed.
        ({"prefix": "p" * 513}, "at most 512 leave room"),
        # No credential: DefaultAzureCredential, which the SDK refuses over http only
        # at the first request, as a storage failure (docs audit finding 6).
        ({"account_key": None}, "DefaultAzureCredential, which needs an https:// endpoint_url"),
        (
            {"account_key": None, "endpoint_url": "HTTP://127.0.0.1:1/devstoreaccount1"},
            "needs an https:// endpoint_url",
        ),
    ],
)
def test_invalid_options_fail_when_the_store_is_built(
    azurite: Azurite, container: str, options: dict[str, Any], message: str
) -> None:
    """Bad values and combinations are configuration errors at construction, as
    for every backend: not a storage failure at the first request."""
    with pytest.raises(ConfigurationError, match=f"backend 'azure': .*{message}"):
        SessionStore(backend="azure", bucket=container, **azurite.options(**options))


@pytest.mark.parametrize(
    "key",
    # Excess padding that base64's validate=True refused on some Pythons only: the
    # first on 3.13, the second from 3.11 on. The SDK decodes each on every Python.
    ["QUJD=", "QUI==", WRONG_KEY],
)
def test_a_key_the_sdk_decodes_is_accepted_on_every_python(
    azurite: Azurite, container: str, key: str
) -> None:
    store = SessionStore(backend="azure", bucket=container, **azurite.options(account_key=key))
    assert key not in repr(store)


async def test_a_key_with_excess_padding_signs_as_the_key(azurite: Azurite, container: str) -> None:
    """The SDK decodes the key leniently: extra '=' padding gives the same bytes,
    so requests are signed as with the key itself (Python 3.11+ refused it at
    construction, as malformed)."""
    store = SessionStore(
        backend="azure",
        bucket=container,
        **azurite.options(account_key=f"{azurite.account_key}="),
    )
    await store.store_session("s", {"a": 1})
    assert await store.load_session("s") == {"a": 1}


async def test_connection_string(azurite: Azurite, container: str) -> None:
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={azurite.account_name};"
        f"AccountKey={azurite.account_key};BlobEndpoint={azurite.endpoint_url};"
    )
    store = SessionStore(
        backend="azure", bucket=container, connection_string=connection_string, create_bucket=True
    )
    await store.store_session("s", {"a": 1})
    assert await store.load_session("s") == {"a": 1}
    assert azurite.account_key not in repr(store._storage.plugin)


async def test_sas_token(azurite: Azurite, container: str) -> None:
    """A container-scoped SAS works, even with create_bucket=True (which it may
    not do: the existing container is accepted)."""
    service(azurite).create_container(container)
    sas = container_sas(azurite, container)
    store = SessionStore(
        backend="azure",
        bucket=container,
        endpoint_url=azurite.endpoint_url,
        sas_token=f"?{sas}",
        create_bucket=True,
    )
    await store.store_session("s", {"a": 1})
    await store.store_session("t", {"a": 2})
    assert await store.list_sessions() == ["s", "t"]
    assert await store.delete_session("s") is True
    await store._storage.delete(["t/state.json", "s/state.json"])
    assert await store.list_sessions() == []


# -- failures and secrets ----------------------------------------------------------


async def test_unreachable_server_fails_fast(azurite: Azurite, container: str) -> None:
    """Nothing listens on the port: StorageUnavailableError after the retries, in seconds."""
    port = free_port()
    options = azurite.options(
        endpoint_url=f"http://127.0.0.1:{port}/{azurite.account_name}",
        connect_timeout=1.0,
        retries=2,
    )
    store = SessionStore(backend="azure", bucket=container, **options)
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError) as caught:
        await store.load_session("s")
    assert time.monotonic() - started < 5
    assert caught.value.backend == "azure"
    assert caught.value.bucket == container


async def test_silent_server_hits_the_read_timeout(azurite: Azurite, container: str) -> None:
    """A server that accepts connections but never answers: the read timeout and
    the retries bound the wait."""
    with silent_server() as url:
        options = azurite.options(
            endpoint_url=f"{url}/{azurite.account_name}",
            read_timeout=0.5,
            retries=1,
        )
        store = SessionStore(backend="azure", bucket=container, **options)
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError):
            await store.session_exists("s")
        assert time.monotonic() - started < 4


async def test_cancelled_during_a_request_raises_the_cancellation(
    azurite: Azurite, container: str
) -> None:
    """Cancelled while its request waits on a silent server: the caller got the
    request's timeout as a StorageUnavailableError, which the cancelled scope let
    through, instead of the cancellation (the worker thread cannot be interrupted,
    so the cancellation is delivered when the request ends)."""
    with silent_server() as url:
        options = azurite.options(
            endpoint_url=f"{url}/{azurite.account_name}",
            read_timeout=0.5,
            retries=0,
        )
        store = SessionStore(backend="azure", bucket=container, **options)
        store._ready = True  # straight to the request: no container check
        with anyio.move_on_after(0.1) as scope:
            await store.load_session("s")
        assert scope.cancelled_caught
        await store.aclose()


async def test_a_trickling_answer_outlasts_the_read_timeout_and_the_deadline(
    azurite: Azurite, container: str
) -> None:
    """The timeouts bound each wait on the socket, not a request: an answer whose
    bytes keep coming inside every read_timeout holds the call, and a cancelled
    caller, until it ends (the README's "Timeouts and cancellation"; the SDK has
    no client-side total timeout). Here 16 KiB at 1 KiB every 0.2 s: ~3.5 s, with
    read_timeout=0.5, no retry and a deadline of 0.3 s."""
    with FaultProxy(f"http://127.0.0.1:{azurite.port}", slow_chunk=1024, slow_delay=0.2) as proxy:
        options = azurite.options(
            endpoint_url=f"{proxy.url}/{azurite.account_name}", read_timeout=0.5, retries=0
        )
        store = SessionStore(backend="azure", bucket=container, **options)
        await store.store_session("s", {"pad": "x" * 16 * 1024})
        proxy.set(Fault.SLOW)
        started = time.monotonic()
        loaded = None
        with anyio.move_on_after(0.3) as scope:
            loaded = await store.load_session("s")
        elapsed = time.monotonic() - started
        assert scope.cancel_called
        assert elapsed > 2.0  # far past the deadline and read_timeout times attempts
        # The request succeeded, late: the caller gets its deadline, not the result.
        assert scope.cancelled_caught
        assert loaded is None
        proxy.clear()
        await store.aclose()


async def test_answer_cut_after_its_status_line_is_unavailable(
    azurite: Azurite, container: str
) -> None:
    """An answer cut right after "HTTP/1.1 201 Created" is taken as complete by
    http.client; the backend returned the version "None" for such a write
    (found by the reliability campaign). It is a StorageUnavailableError: the
    outcome is unknown, as with a lost answer."""
    with FaultProxy(f"http://127.0.0.1:{azurite.port}", cut_fraction=0) as proxy:
        options = azurite.options(endpoint_url=f"{proxy.url}/{azurite.account_name}", retries=0)
        store = SessionStore(backend="azure", bucket=container, **options)
        await store.store_session("s", {"v": 1})
        proxy.set(Fault.CUT_RESPONSE)
        with pytest.raises(StorageUnavailableError, match=r"no (ETag|Last-Modified) header"):
            await store.store_session("s", {"v": 2})
        with pytest.raises(StorageUnavailableError):
            await store.get_session_metadata("s")
        proxy.clear()
        meta = await store.get_session_metadata("s")
        assert meta is not None
        assert meta.version.startswith('"0x')
        await store.aclose()


async def test_wrong_key_is_refused_without_showing_it(azurite: Azurite, container: str) -> None:
    store = SessionStore(
        backend="azure", bucket=container, **azurite.options(account_key=WRONG_KEY)
    )
    with pytest.raises(StoragePermissionError) as caught:
        await store.session_exists("s")
    for secret in (WRONG_KEY, quote(WRONG_KEY, safe="")):
        assert secret not in chain_text(caught.value)
        assert secret not in repr(store)
        assert secret not in repr(store._storage.plugin)


async def test_sas_signature_never_shows_in_errors(azurite: Azurite, container: str) -> None:
    """A connection error repeats the request URL; its SAS signature is masked."""
    signature = "c2VjcmV0K3NpZ25hdHVyZS9vZi90aGUvc2FzPQ=="
    sas_token = f"sv=2024-08-04&sr=c&sp=rwdl&se=2099-01-01&sig={quote(signature, safe='')}"
    options = {
        "endpoint_url": f"http://127.0.0.1:{free_port()}/{azurite.account_name}",
        "sas_token": sas_token,
        "connect_timeout": 1.0,
        "retries": 0,
    }
    store = SessionStore(backend="azure", bucket=container, **options)
    assert sas_token not in repr(store._storage.plugin)
    for operation in (store.session_exists("s"), store.store_session("s", {"a": 1})):
        with pytest.raises(SessionStoreError) as caught:
            await operation
        text = chain_text(caught.value)
        assert "127.0.0.1" in text
        for secret in (signature, quote(signature, safe=""), sas_token):
            assert secret not in text


async def test_sas_signature_never_shows_in_debug_logs(
    azurite: Azurite, container: str, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3 logs each request line at DEBUG, query string included: with a SAS
    token, its signature. The backend masks it (found by the reliability campaign)."""
    caplog.set_level(logging.DEBUG)
    service(azurite).create_container(container)
    sas = container_sas(azurite, container)
    signature = parse_qs(sas)["sig"][0]
    store = SessionStore(
        backend="azure", bucket=container, endpoint_url=azurite.endpoint_url, sas_token=sas
    )
    await store.store_session("s", {"a": 1})
    assert await store.load_session("s") == {"a": 1}
    await store.aclose()
    assert any(record.name == "urllib3.connectionpool" for record in caplog.records)
    for secret in (signature, quote(signature), quote(signature, safe="")):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("credential", "secret"),
    [
        ({"account_name": "acct", "account_key": "a2V5LXNlY3JldC0xMjM0IQ=="}, "a2V5LXNlY3Jl"),
        ({"connection_string": "AccountName=acct;AccountKey=Y29ubi0xMjM0"}, "Y29ubi0xMjM0"),
        ({"account_name": "acct", "sas_token": "sv=1&sig=sas-secret-1234"}, "sas-secret-1234"),
    ],
)
def test_repr_hides_credentials(credential: dict[str, Any], secret: str) -> None:
    text = repr(AzureBackend(**credential))
    assert text.startswith("AzureBackend(")
    assert secret not in text


# -- fork --------------------------------------------------------------------------


def test_a_fork_while_another_thread_holds_the_client_lock_leaves_the_child_working(
    azure_store: SessionStore, anyio_backend: str
) -> None:
    """A child forked while another thread holds the lock around the clients
    (building one, say) builds its own and reads: its lock is not the parent's,
    held forever."""
    backend = azure_store._storage.plugin
    assert isinstance(backend, AzureBackend)
    load_in_a_fork_while_held(azure_store, backend._clients._lock, anyio_backend)
