"""What the conformance kit cannot know about this backend: one file shared by several
stores and processes, its options, and the listing algorithm against a reference."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionstore import ConfigurationError, ConflictError, SessionStore
from sessionstore_sqlite import SQLiteBackend, db

# Self-contained, so the tests run the same in a copy of this folder: every async
# test is an anyio test, on both event loops.
pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_entry_point_loads_the_backend() -> None:
    (point,) = entry_points(group="sessionstore.backends", name="sqlite")
    assert point.load() is SQLiteBackend


# -- options -----------------------------------------------------------------------


async def test_the_url_form_opens_the_same_file(tmp_path: Path) -> None:
    database = tmp_path / "sub" / "sessions.db"
    by_option = SessionStore(backend="sqlite", bucket="app", path=database)
    by_url = SessionStore.from_url(f"sqlite://{database}?bucket=app&timeout=2.5")
    plugin = by_url._storage.plugin
    assert isinstance(plugin, SQLiteBackend)
    assert (plugin.database, plugin.timeout) == (database, 2.5)
    await by_option.store_session("s", {"via": "option"})
    assert await by_url.load_session("s") == {"via": "option"}


def test_a_relative_path_is_fixed_when_the_store_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert SQLiteBackend(path=Path("s.db")).database == tmp_path / "s.db"


@pytest.mark.parametrize(
    "options",
    [{}, {"path": "a.db", "root": "/b.db"}, {"path": ":memory:"}, {"path": "a.db", "timeout": -1}],
    ids=["no-file", "path-and-root", "memory", "negative-timeout"],
)
def test_bad_options_fail_when_the_store_is_built(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SessionStore(backend="sqlite", **options)


async def test_a_store_is_described_by_its_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sessionstore doctor`` and start-up logs show the absolute file to look in."""
    monkeypatch.chdir(tmp_path)
    store = SessionStore(backend="sqlite", bucket="app", path="sub/s.db")
    assert await store.describe() == {
        "database": str(tmp_path / "sub" / "s.db"),
        "bucket": "the rows of bucket 'app' (one file holds every bucket)",
    }
    assert (tmp_path / "sub" / "s.db").is_file()  # described once prepared


# -- one file, many stores and processes ------------------------------------------


async def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    first = SessionStore(backend="sqlite", bucket="shared", path=tmp_path / "s.db")
    second = SessionStore(backend="sqlite", bucket="shared", path=tmp_path / "s.db")
    other_bucket = SessionStore(backend="sqlite", bucket="other", path=tmp_path / "s.db")

    written = await first.store_session("s", {"n": 1})
    assert await second.load_session("s") == {"n": 1}
    await second.store_session("s", {"n": 2}, if_match=written.version)
    assert await first.load_session("s") == {"n": 2}
    with pytest.raises(ConflictError):
        await first.store_session("s", {"n": 3}, if_match=written.version)
    assert await other_bucket.list_sessions() == []
    assert await second.delete_session("s") is True
    assert await first.list_sessions() == []


async def test_init_switches_the_file_to_wal(tmp_path: Path) -> None:
    async with SessionStore(backend="sqlite", path=tmp_path / "s.db"):
        pass
    connection = sqlite3.connect(tmp_path / "s.db")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        connection.close()


async def test_a_version_token_never_comes_back(tmp_path: Path) -> None:
    """Delete and recreate: the old token must not match the new object."""
    store = SessionStore(backend="sqlite", path=tmp_path / "s.db")
    old = await store.store_session("s", {"n": 1})
    await store.delete_session("s")
    new = await store.store_session("s", {"n": 1})
    assert new.version != old.version
    with pytest.raises(ConflictError):
        await store.store_session("s", {"n": 2}, if_match=old.version)


RACER = """
import json, os, sys, anyio
from sessionstore import ConflictError, SessionStore

def increment(state):
    return {"count": (state or {"count": 0})["count"] + 1}

async def main(database, count):
    won = []
    async with SessionStore(backend="sqlite", bucket="race", path=database) as store:
        print("ready", flush=True)
        sys.stdin.readline()  # both processes start together
        for index in range(count):
            try:
                await store.store_session(f"s{index}", {"pid": os.getpid()}, create_only=True)
            except ConflictError:
                continue
            won.append(index)
        for _ in range(count):
            await store.update_session("counter", increment)
    print(json.dumps(won), flush=True)

anyio.run(main, sys.argv[1], int(sys.argv[2]))
"""


def test_conditional_writes_race_across_two_processes(tmp_path: Path) -> None:
    """Two processes try to create the same 40 sessions and increment one counter 40
    times each: every session has exactly one creator, and no increment is lost."""
    database, count = tmp_path / "race.db", 40
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(database), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n", child.communicate()[1]
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    won = [json.loads(out) for out, _ in outputs]
    assert sorted(won[0] + won[1]) == list(range(count)), f"creators: {won}"

    async def stored() -> tuple[list[object], object]:
        store = SessionStore(backend="sqlite", bucket="race", path=database)
        creators = [(await store.load_session(f"s{index}") or {})["pid"] for index in range(count)]
        return creators, await store.load_session("counter")

    creators, counter = anyio.run(stored)
    for child, indexes in zip(children, won, strict=True):
        assert all(creators[index] == child.pid for index in indexes)
    assert counter == {"count": 2 * count}


# -- the blocking layer, called directly ---------------------------------------------


@contextmanager
def in_memory() -> Iterator[sqlite3.Connection]:
    """A fresh database in memory, prepared as ``sessionstore_init`` prepares a file."""
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as connection:
        db.init(connection, 5.0)
        yield connection


@pytest.fixture
def connection() -> Iterator[sqlite3.Connection]:
    with in_memory() as connection:
        yield connection


def test_access_refused_becomes_permission_error(tmp_path: Path) -> None:
    """``db.connect`` turns SQLite's "read-only"/"no permission" errors into the
    PermissionError the contract asks for (the core then raises StoragePermissionError),
    from Python 3.11 on: 3.10's sqlite3 errors have no ``sqlite_errorname`` to tell
    them by, and pass as they are (StorageUnavailableError), as db.connect says."""

    def write_to_read_only_database() -> None:
        with db.connect(tmp_path / "ro.db", timeout=1) as connection:
            db.init(connection, 5.0)
            connection.execute("PRAGMA query_only = ON")
            db.upload(connection, "b", "s/f", b"x", None, False)

    if sys.version_info >= (3, 11):
        with pytest.raises(PermissionError, match="readonly"):
            write_to_read_only_database()
    else:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            write_to_read_only_database()


SEGMENT = st.text(alphabet="ab!.-0~é", min_size=1, max_size=3)
PATH = st.lists(SEGMENT, min_size=1, max_size=3).map("/".join)


def reference_listing(paths: set[str], prefix: str) -> list[str]:
    """The hookspec's listing, the slow obvious way."""
    directory = prefix[: prefix.rfind("/") + 1]
    entries = set()
    for path in paths:
        if path.startswith(prefix):
            name, slash, _ = path[len(directory) :].partition("/")
            entries.add(directory + name + slash)
    return sorted(entries)


@settings(max_examples=150, deadline=None, database=None)
@given(
    paths=st.sets(PATH, max_size=25),
    prefix=st.one_of(PATH, PATH.map(lambda path: path + "/"), st.just("")),
    cut=st.integers(min_value=0, max_value=4),
    limit=st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
)
def test_listing_matches_the_reference(
    paths: set[str],
    prefix: str,
    cut: int,
    limit: int | None,
) -> None:
    """Names around '/' in sort order ('!', '-', '.', '0', '~', 'é'), objects next to
    same-named directories, cursors in the middle of a directory: page by page, the
    entries are exactly the reference's."""
    prefix = prefix[: len(prefix) - cut] if cut < len(prefix) else prefix
    with in_memory() as connection:
        for path in paths:
            db.upload(connection, "b", path, b"", None, False)
        db.upload(connection, "other-bucket", prefix + "x", b"", None, False)
        listed: list[str] = []
        cursor = None
        while True:
            page = db.list_page(connection, "b", prefix, cursor, limit)
            assert limit is None or len(page.entries) <= limit
            listed += page.entries
            if page.cursor is None:
                break
            assert page.entries, "an empty page must end the listing"
            cursor = page.cursor
    assert listed == reference_listing(paths, prefix)


def test_listing_skips_whole_directories(connection: sqlite3.Connection) -> None:
    """A page of sessions costs a seek per session, not a row per file."""
    for index in range(200):
        db.upload(connection, "b", f"big/cp-{index:03}", b"", None, False)
    db.upload(connection, "b", "small/state.json", b"", None, False)
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    page = db.list_page(connection, "b", "", None, None)
    assert page.entries == ("big/", "small/")
    assert sum(statement.startswith("SELECT") for statement in statements) == 3


def test_installed_backend_is_listed_without_being_imported() -> None:
    """Installing the distribution is all it takes: the entry point makes `sqlite`
    appear in the backend list, and listing does not import it."""
    script = (
        "import sys, sessionstore\n"
        "infos = {info.name: info for info in sessionstore.available_backends()}\n"
        "assert infos['sqlite'].distribution == 'sessionstore-sqlite', infos\n"
        "assert 'sessionstore_sqlite' not in sys.modules\n"
        "print(infos['sqlite'].version)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.1.0"
