"""ls / show / get / put / rm / stat / files on a file store: round trips, JSON
output, exit codes and one-line errors."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from sessionstore import SessionStore
from sessionstore.storage import Storage
from sessionstore.testing.backend_tests import FakeClock

from .conftest import Run

NOT_FOUND, USAGE, CONFLICT, UNAVAILABLE, CORRUPT = 1, 2, 3, 4, 5


def sync(store: SessionStore, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call a store method from a synchronous test."""

    async def call() -> Any:
        async with store:
            return await getattr(store, method)(*args, **kwargs)

    return anyio.run(call)


def test_put_ls_get_rm_round_trip(run: Run, url: str, tmp_path: Path) -> None:
    state = {"user": "ada", "cart": [1, 2, 3], "nested": {"ok": True, "big": 2**70}}
    source = tmp_path / "state.json"
    source.write_text(json.dumps(state))

    put = run("put", "abc", str(source), "--url", url)
    assert put.exit_code == 0, put.stderr
    assert put.stdout.startswith("stored abc/state.json")
    assert run("put", "def", "--url", url, input='{"from": "stdin"}').exit_code == 0

    assert run("ls", "--url", url).stdout.splitlines() == ["abc", "def"]
    got = run("get", "abc", "--url", url)
    assert got.exit_code == 0
    assert json.loads(got.stdout) == state
    # What get prints, put takes back unchanged.
    assert run("put", "copy", "--url", url, input=got.stdout).exit_code == 0
    assert json.loads(run("get", "copy", "--url", url).stdout) == state

    shown = run("show", "abc", "--url", url)
    assert shown.exit_code == 0
    assert '"user": "ada"' in shown.stdout
    assert "abc/state.json" in shown.stdout

    removed = run("rm", "abc", "--yes", "--url", url)
    assert (removed.exit_code, removed.stdout.strip()) == (0, "deleted session 'abc'")
    assert run("ls", "--url", url).stdout.splitlines() == ["copy", "def"]
    assert run("get", "abc", "--url", url).exit_code == NOT_FOUND


def test_checkpoint_files(run: Run, url: str, store: SessionStore) -> None:
    sync(store, "store_session", "s1", {"step": 0})
    sync(store, "store_session", "s1", {"step": 1}, "checkpoint-1.json")
    run("put", "s1", "--file", "checkpoint-2.json", "--url", url, input='{"step": 2}')

    assert run("files", "s1", "--url", url).stdout.splitlines() == [
        "checkpoint-1.json",
        "checkpoint-2.json",
        "state.json",
    ]
    long = run("files", "s1", "--long", "--json", "--url", url).json()
    assert [file["filename"] for file in long["files"]] == [
        "checkpoint-1.json",
        "checkpoint-2.json",
        "state.json",
    ]
    assert all(file["size"] > 0 for file in long["files"])
    assert json.loads(run("get", "s1", "-f", "checkpoint-2.json", "--url", url).stdout) == {
        "step": 2
    }

    # rm --file deletes that file only.
    assert run("rm", "s1", "--file", "checkpoint-1.json", "--yes", "--url", url).exit_code == 0
    assert sync(store, "list_files", "s1") == ["checkpoint-2.json", "state.json"]
    assert run("rm", "s1", "--file", "checkpoint-1.json", "--yes", "--url", url).exit_code == 1


def test_json_output_of_every_read_command(run: Run, url: str, store: SessionStore) -> None:
    meta = sync(store, "store_session", "abc", {"n": 1}, ttl=3600)

    listed = run("ls", "--json", "--url", url).json()
    assert listed == {"sessions": ["abc"], "next": None}

    long = run("ls", "--long", "--json", "--url", url).json()
    [entry] = long["sessions"]
    assert entry["session_id"] == "abc"
    assert entry["state"]["size"] == meta.size
    assert entry["state"]["version"] == meta.version
    assert entry["state"]["expires_at"] == meta.expires_at.isoformat()
    assert entry["state"]["expired"] is False

    shown = run("show", "abc", "--json", "--url", url).json()
    assert shown["state"] == {"n": 1}
    assert shown["metadata"]["version"] == meta.version
    assert run("get", "abc", "--json", "--url", url).json() == shown

    stat = run("stat", "abc", "--json", "--url", url).json()
    assert (stat["session_id"], stat["filename"]) == ("abc", "state.json")
    assert stat["stored_at"] == meta.stored_at.isoformat()
    assert stat["format_version"] == 1

    put = run("put", "xyz", "--json", "--url", url, input='{"a": 1}').json()
    assert put["session_id"] == "xyz"
    assert put["size"] > 0
    assert put["version"]

    assert run("files", "abc", "--json", "--url", url).json() == {
        "session_id": "abc",
        "files": ["state.json"],
    }
    assert run("rm", "xyz", "--yes", "--json", "--url", url).json() == {
        "deleted": True,
        "session_id": "xyz",
        "filename": None,
    }


def test_get_raw_writes_the_stored_bytes(
    run: Run, url: str, store: SessionStore, tmp_path: Path
) -> None:
    sync(store, "store_session", "abc", {"n": 1})
    stored = sync(store, "load_raw", "abc")
    target = tmp_path / "out.bin"
    assert run("get", "abc", "--raw", "-O", str(target), "--url", url).exit_code == 0
    assert target.read_bytes() == stored.data
    assert json.loads(stored.data)["sessionstore"]["session_id"] == "abc"


def test_a_failed_get_leaves_the_output_file_as_it_was(run: Run, url: str, tmp_path: Path) -> None:
    target = tmp_path / "backup.json"
    target.write_text('{"kept": true}')
    assert run("get", "nosuch", "-O", str(target), "--url", url).exit_code == NOT_FOUND
    assert target.read_text() == '{"kept": true}'


def test_an_output_that_cannot_be_written_is_a_one_line_error(
    run: Run, url: str, store: SessionStore, tmp_path: Path
) -> None:
    sync(store, "store_session", "abc", {"n": 1})
    missing = tmp_path / "no" / "such" / "folder.json"
    failed = run("get", "abc", "-O", str(missing), "--url", url)
    assert failed.exit_code == USAGE
    assert failed.stderr == (
        f"sessionstore: error: cannot write {missing}: No such file or directory\n"
    )
    as_json = run("get", "abc", "-O", str(missing), "--url", url, "--json")
    assert as_json.exit_code == USAGE
    assert as_json.json()["error"]["type"] == "OutputError"


def test_ls_pages_with_limit_and_after(run: Run, url: str, store: SessionStore) -> None:
    ids = [f"s{index:03d}" for index in range(25)]
    for session_id in ids:
        sync(store, "store_session", session_id, {})
    sync(store, "store_session", "other", {})

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        args = ["ls", "--prefix", "s", "--limit", "10", "--json", "--url", url]
        page = run(*args, *(["--after", cursor] if cursor else [])).json()
        assert len(page["sessions"]) <= 10
        seen += page["sessions"]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 3
    # Plain output streams every id, a small page at a time.
    plain = run("ls", "--page-size", "4", "--url", url).stdout.splitlines()
    assert plain == ["other", *ids]


def test_ls_text_output_names_the_cursor_to_resume_with(
    run: Run, url: str, store: SessionStore
) -> None:
    """Without --json too: the last id printed is not the cursor (--after it would
    list it again)."""
    ids = [f"s{index:03d}" for index in range(5)]
    for session_id in ids:
        sync(store, "store_session", session_id, {})
    seen: list[str] = []
    after: list[str] = []
    while True:
        page = run("ls", "--limit", "2", "--url", url, *after)
        assert page.exit_code == 0
        seen += page.stdout.splitlines()
        if not page.stderr:
            break
        [line] = page.stderr.splitlines()
        after = shlex.split(line.removeprefix("next: "))
    assert seen == ids


def test_put_with_ttl_expires(run: Run, url: str, fake_clock: FakeClock) -> None:
    assert run("put", "abc", "--ttl", "15m", "--url", url, input="{}").exit_code == 0
    stat = run("stat", "abc", "--json", "--url", url).json()
    assert stat["expires_at"] == (fake_clock.time + timedelta(minutes=15)).isoformat()
    fake_clock.advance(15 * 60 - 1)
    assert run("get", "abc", "--url", url).exit_code == 0
    fake_clock.advance(2)
    assert run("get", "abc", "--url", url).exit_code == NOT_FOUND
    # Still stored until purged: stat and ls --long say it has expired.
    assert run("stat", "abc", "--json", "--url", url).json()["expired"] is True
    assert "(expired)" in run("ls", "--long", "--url", url).stdout


def test_files_long_shows_the_storage_s_metadata_of_each_file(
    run: Run, url: str, store: SessionStore
) -> None:
    sync(store, "store_session", "abc", {"n": 1}, ttl=3600)
    sync(store, "store_session", "abc", {"n": 0}, "checkpoint-1.json", ttl=60)

    files = run("files", "abc", "--long", "--json", "--url", url).json()["files"]
    assert [file["filename"] for file in files] == ["checkpoint-1.json", "state.json"]
    for file in files:
        # What stat says of the file, less what only its envelope knows.
        stat = run("stat", "abc", "-f", file["filename"], "--json", "--url", url).json()
        for key in ("stored_at", "format_version", "expires_at", "expired"):
            del stat[key]
        assert file == stat

    header, *rows = run("files", "abc", "--long", "--url", url).stdout.splitlines()
    assert header.split() == ["FILE", "SIZE", "MODIFIED", "VERSION"]
    assert [row.split()[-1] for row in rows] == [file["version"] for file in files]


def test_files_long_downloads_no_file(
    run: Run, url: str, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's checkpoints may be large and many: listing them costs a stat
    each, never a download."""
    sync(store, "store_session", "abc", {"blob": "x" * 100_000})
    for n in range(5):
        sync(store, "store_session", "abc", {"n": n}, f"checkpoint-{n}.json")
    downloads: list[str] = []
    download = Storage.download

    async def counted(self: Storage, path: str) -> Any:
        downloads.append(path)
        return await download(self, path)

    monkeypatch.setattr(Storage, "download", counted)
    listed = run("files", "abc", "--long", "--url", url)
    assert listed.exit_code == 0
    assert len(listed.stdout.splitlines()) == 1 + 6
    assert run("files", "abc", "-l", "--json", "--url", url).exit_code == 0
    assert downloads == []
    run("stat", "abc", "--url", url)  # the counting works: stat reads the file
    assert downloads == ["abc/state.json"]


def test_touch_extends_expiry(run: Run, url: str, fake_clock: FakeClock) -> None:
    run("put", "abc", "--ttl", "60", "--url", url, input='{"kept": true}')
    touched = run("touch", "abc", "--ttl", "2h", "--json", "--url", url)
    assert touched.exit_code == 0
    assert touched.json()["expires_at"] == (fake_clock.time + timedelta(hours=2)).isoformat()
    fake_clock.advance(3600)
    assert json.loads(run("get", "abc", "--url", url).stdout) == {"kept": True}
    assert run("touch", "missing", "--ttl", "1h", "--url", url).exit_code == NOT_FOUND
    assert run("touch", "abc", "--url", url).exit_code == USAGE  # no ttl, no default_ttl


def test_touch_without_a_ttl_says_how_to_give_one(run: Run, url: str) -> None:
    """Not the library's "touch_session needs a ttl": the options that set one."""
    run("put", "abc", "--url", url, input="{}")
    outcome = run("touch", "abc", "--url", url)
    assert outcome.exit_code == USAGE
    assert "--ttl" in outcome.stderr
    assert "default_ttl" in outcome.stderr
    assert "touch_session" not in outcome.stderr
    assert run("touch", "abc", "--url", f"{url}?default_ttl=60").exit_code == 0


def test_touch_with_a_url_does_not_suggest_the_environment_s_ttl(
    run: Run, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --url store is the URL alone (as from_url reads it): the variable would not
    be read, so it is not suggested; without --url it is."""
    monkeypatch.setenv("SESSIONSTORE_DEFAULT_TTL", "60")
    run("put", "abc", "--url", url, input="{}")
    outcome = run("touch", "abc", "--url", url)
    assert outcome.exit_code == USAGE
    assert "SESSIONSTORE_DEFAULT_TTL" not in outcome.stderr
    monkeypatch.delenv("SESSIONSTORE_DEFAULT_TTL")
    monkeypatch.setenv("SESSIONSTORE_URL", url)
    assert "SESSIONSTORE_DEFAULT_TTL" in run("touch", "abc").stderr


@pytest.mark.parametrize(
    ("session_id", "filename"), [("has space", "state.json"), ("-dash", "c p.json")]
)
def test_a_conflict_s_hint_is_a_command_that_runs(
    run: Run, url: str, session_id: str, filename: str
) -> None:
    run("put", "-f", filename, "--url", url, "--", session_id, input="{}")
    outcome = run(
        "put",
        "-f",
        filename,
        "--if-match",
        "old",
        "--json",
        "--url",
        url,
        "--",
        session_id,
        input="{}",
    )
    assert outcome.exit_code == CONFLICT
    command = re.fullmatch(
        r"`sessionstore (.*)` shows the current version", outcome.json()["error"]["hint"]
    )
    assert command is not None
    name, *args = shlex.split(command.group(1))
    stat = run(name, "--url", url, *args)
    assert stat.exit_code == 0, stat.stderr


@pytest.mark.parametrize("ttl", ["0", "-5", "soon", "5x", "0.0000001", "99999999999999w"])
def test_bad_ttl_is_a_usage_error(run: Run, url: str, ttl: str) -> None:
    outcome = run("put", "abc", "--ttl", ttl, "--url", url, input="{}")
    assert outcome.exit_code == USAGE
    assert "duration" in outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert run("ls", "--url", url).stdout == ""


def test_a_zero_ttl_says_a_ttl_must_be_positive(run: Run, url: str) -> None:
    """``--ttl 0`` was "a duration under a microsecond": true, but not the reason."""
    outcome = run("put", "abc", "--ttl", "0", "--url", url, input="{}")
    assert outcome.exit_code == USAGE
    assert "'0' is a duration of zero: a ttl must be positive" in outcome.stderr


def test_conditional_puts_exit_with_conflict(run: Run, url: str, store: SessionStore) -> None:
    first = sync(store, "store_session", "abc", {"n": 1})
    sync(store, "store_session", "abc", {"n": 2})

    stale = run("put", "abc", "--if-match", first.version, "--url", url, input='{"n": 3}')
    assert stale.exit_code == CONFLICT
    assert stale.stderr.startswith("sessionstore: error:")
    # Nothing changed "meanwhile": each hint is the way forward for its condition.
    assert "stat abc` shows the current version" in stale.stderr
    assert "meanwhile" not in stale.stderr
    exists = run("put", "abc", "--create-only", "--url", url, input='{"n": 3}')
    assert exists.exit_code == CONFLICT
    assert "drop --create-only" in exists.stderr
    assert "meanwhile" not in exists.stderr
    checkpoint = run("put", "abc", "-f", "cp.json", "--if-match", "x", "--url", url, input="{}")
    assert "stat abc -f cp.json`" in checkpoint.stderr
    assert (
        run("put", "abc", "--create-only", "--json", "--url", url, input="{}").json()["error"][
            "type"
        ]
        == "ConflictError"
    )
    assert sync(store, "load_session", "abc") == {"n": 2}

    current = run("stat", "abc", "--json", "--url", url).json()["version"]
    ok = run("put", "abc", "--if-match", current, "--url", url, input='{"n": 3}')
    assert ok.exit_code == 0
    assert sync(store, "load_session", "abc") == {"n": 3}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["get", "missing"], NOT_FOUND),
        (["show", "missing"], NOT_FOUND),
        (["stat", "missing"], NOT_FOUND),
        (["files", "missing"], NOT_FOUND),
        (["rm", "missing", "--yes"], NOT_FOUND),
        (["get", "../etc"], USAGE),
        (["put", "abc"], USAGE),  # stdin holds no JSON
        (["ls", "--limit", "0"], USAGE),
        (["ls", "--backend", "memory"], USAGE),  # with --url
        (["ls", "-o", "novalue"], USAGE),
        (["ls", "-o", "bogus=1"], USAGE),  # an option the file backend lacks
    ],
)
def test_exit_codes(run: Run, url: str, command: list[str], code: int) -> None:
    outcome = run(*command, "--url", url, input="not json")
    assert outcome.exit_code == code, outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_json_errors_go_to_stdout_as_json(run: Run, url: str) -> None:
    outcome = run("get", "missing", "--json", "--url", url)
    assert outcome.exit_code == NOT_FOUND
    assert outcome.json() == {
        "error": {
            "type": "NotFound",
            "message": "session 'missing' has no state.json (or it has expired)",
            "exit_code": NOT_FOUND,
        }
    }
    bad = run("ls", "--json", "--url", "nonsense")
    assert bad.exit_code == USAGE
    assert bad.json()["error"]["type"] == "ConfigurationError"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["put", "abc", "--ttl", "soon"], "Invalid value for '--ttl'"),  # a value's check
        (["ls", "--backend", "memory"], "either --url or --backend"),  # the command's own
        (["rm", "abc"], "pass --yes"),  # no confirmation without a terminal
        (["ls", "--bogus"], "No such option '--bogus'"),  # before --json is parsed
    ],
)
def test_json_usage_errors_go_to_stdout_as_json(
    run: Run, url: str, command: list[str], message: str
) -> None:
    """A script that asked for JSON gets JSON for a usage error too; without --json
    the argument parser's usage text goes to standard error as usual."""
    outcome = run(*command, "--json", "--url", url, input="")
    assert outcome.exit_code == USAGE
    error = outcome.json()["error"]
    assert (error["type"], error["exit_code"]) == ("UsageError", USAGE)
    assert message in error["message"]
    assert outcome.stderr == ""
    text = run(*command, "--url", url, input="")
    assert text.exit_code == USAGE
    assert (text.stdout, message in text.stderr) == ("", True)
    assert text.stderr.startswith("Usage: ")


@pytest.mark.parametrize(
    "command",
    [["ls"], ["get", "abc"], ["get", "nosuch"], ["ls", "--bogus"], ["rm", "abc"], ["bogus"]],
)
def test_json_before_the_command_applies_to_it(
    run: Run, url: str, store: SessionStore, command: list[str]
) -> None:
    sync(store, "store_session", "abc", {"n": 1})
    before = run("--json", *command, "--url", url, input="")
    assert before == run(*command, "--json", "--url", url, input="")
    assert isinstance(before.json(), dict)  # a result or {"error": ...}
    assert before.stderr == ""


def test_json_with_a_usage_error_before_the_command_is_json(run: Run, url: str) -> None:
    outcome = run("--bogus", "ls", "--json", "--url", url)
    assert outcome.exit_code == USAGE
    assert outcome.json()["error"]["message"] == "No such option '--bogus'."
    assert run("--bogus", "ls", "--url", url).stderr.startswith("Usage: ")


def test_json_after_a_double_dash_is_an_argument(run: Run, url: str) -> None:
    outcome = run("get", "--url", url, "--", "--json")
    assert outcome.exit_code == NOT_FOUND
    assert outcome.stderr.startswith("sessionstore: error: session '--json' has no")


def test_corrupt_stored_file_exits_5_naming_it(run: Run, url: str, tmp_path: Path) -> None:
    run("put", "abc", "--url", url, input="{}")
    [path] = (tmp_path / "root").rglob("state.json")
    path.write_bytes(b"[1, 2")
    outcome = run("show", "abc", "--url", url)
    assert outcome.exit_code == CORRUPT
    assert "abc/state.json" in outcome.stderr
    assert len(outcome.stderr.splitlines()) == 1
    # The bytes can still be fetched, to look at or repair.
    assert run("get", "abc", "--raw", "--url", url).stdout == "[1, 2"


def test_stat_of_a_corrupt_file_shows_what_the_storage_knows_and_exits_5(
    run: Run, url: str, tmp_path: Path
) -> None:
    """Its size and version help decide what to do with it; so does stat."""
    run("put", "abc", "--url", url, input="{}")
    [path] = (tmp_path / "root").rglob("state.json")
    path.write_bytes(b"[1, 2")
    shown = run("stat", "abc", "--url", url)
    assert shown.exit_code == CORRUPT
    rows = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert (rows["size"], rows["expires"]) == ("5 bytes", "corrupt")
    assert rows["format"].startswith("corrupt")
    [line] = shown.stderr.splitlines()
    assert "abc/state.json" in line

    as_json = run("stat", "abc", "--json", "--url", url)
    assert as_json.exit_code == CORRUPT
    document = as_json.json()
    assert (document["size"], document["expired"]) == (5, None)
    assert document["error"]["type"] == "CorruptSessionError"
    assert document["version"] == rows["version"]


def test_long_listings_show_a_corrupt_file_and_exit_5_after_the_rest(
    run: Run, url: str, store: SessionStore, tmp_path: Path
) -> None:
    """One bad file does not hide the others: ls -l lists every row, marks the
    corrupt one, and exits 5 naming it once all is printed."""
    sync(store, "store_session", "bad", {"v": 1})
    sync(store, "store_session", "bad", {"v": 2}, "cp.json")
    sync(store, "store_session", "good", {"v": 3})
    [path] = (tmp_path / "root").rglob("bad/state.json")
    path.write_bytes(b"[1, 2")

    listed = run("ls", "-l", "--url", url)
    assert listed.exit_code == CORRUPT
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert rows["bad"].endswith("corrupt")
    assert "5 bytes" in rows["bad"]
    assert rows["good"].endswith("never")
    assert "bad/state.json" in listed.stderr
    assert len(listed.stderr.splitlines()) == 1

    entries = run("ls", "-l", "--json", "--url", url)
    assert entries.exit_code == CORRUPT
    bad, good = entries.json()["sessions"]
    assert (bad["session_id"], bad["state"]["size"], bad["state"]["expired"]) == ("bad", 5, None)
    assert bad["state"]["error"]["type"] == "CorruptSessionError"
    assert "bad/state.json" in bad["state"]["error"]["message"]
    assert "error" not in good["state"]
    assert good["state"]["expired"] is False
    assert entries.stderr == ""

    # files -l reads no file, so a corrupt one lists like any other.
    files = run("files", "bad", "-l", "--json", "--url", url)
    assert files.exit_code == 0
    checkpoint, state = files.json()["files"]
    assert (checkpoint["filename"], state["filename"], state["size"]) == (
        "cp.json",
        "state.json",
        5,
    )
    table = run("files", "bad", "-l", "--url", url)
    assert table.exit_code == 0
    assert [line.split()[0] for line in table.stdout.splitlines()] == [
        "FILE",
        "cp.json",
        "state.json",
    ]


def test_rm_asks_and_refuses_without_a_terminal(run: Run, url: str, store: SessionStore) -> None:
    sync(store, "store_session", "abc", {})
    outcome = run("rm", "abc", "--url", url)
    assert outcome.exit_code == USAGE
    assert "--yes" in outcome.stderr
    assert sync(store, "load_session", "abc") == {}


@contextlib.contextmanager
def _rm_on_a_terminal(url: str, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``rm abc`` run with a pseudo-terminal as standard input, and that terminal's
    other end, to type the answer to its question in."""
    terminal, child_side = os.openpty()
    script = Path(sys.executable).with_name("sessionstore")
    try:
        child = subprocess.Popen(
            [str(script), "rm", "abc", *args, "--url", url],
            stdin=child_side,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(child_side)
    try:
        with child:
            try:
                yield child, terminal
            finally:
                child.kill()  # a test that failed leaves no command waiting for an answer
    finally:
        os.close(terminal)


@pytest.mark.parametrize("answer", [b"n\n", b"\n", b"\x04"])  # no, the default, Ctrl-D
@pytest.mark.parametrize("as_json", [False, True])
def test_declining_rm_deletes_nothing_and_exits_0(
    url: str, store: SessionStore, answer: bytes, as_json: bool
) -> None:
    sync(store, "store_session", "abc", {})
    with _rm_on_a_terminal(url, *(["--json"] if as_json else [])) as (child, terminal):
        os.write(terminal, answer)
        stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr  # the user's choice, as `rm -i` takes it
    assert stderr.startswith(b"Delete session 'abc'? [y/N]: ")
    if as_json:
        assert json.loads(stdout) == {"deleted": False, "session_id": "abc", "filename": None}
    else:
        assert stdout == b""
        assert stderr.endswith(b"not deleted: session 'abc'\n")
    assert sync(store, "load_session", "abc") == {}

    with _rm_on_a_terminal(url) as (child, terminal):
        os.write(terminal, b"y\n")
        stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    assert stdout == b"deleted session 'abc'\n"
    assert sync(store, "load_session", "abc") is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_at_rm_s_question_exits_130(url: str, store: SessionStore) -> None:
    sync(store, "store_session", "abc", {})
    with _rm_on_a_terminal(url) as (child, _terminal):
        assert child.stderr is not None
        asked = b""
        while not asked.endswith(b"[y/N]: "):
            read = os.read(child.stderr.fileno(), 100)
            assert read, asked  # it did not stop before asking
            asked += read
        # Ctrl-C once it waits for the answer: a signal that comes between the
        # question and the read is acted on only when the read returns.
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "S":  # sleeping
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130  # not 1, which says "not found"
    assert stderr == b"\nsessionstore: error: interrupted\n"
    assert sync(store, "load_session", "abc") == {}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--url", "nonsense"], "needs a scheme naming the backend"),
        (["--url", "nosuch://bucket"], "`sessionstore backends` lists the installed backends"),
        (["--backend", "nosuch"], "pip install sessionstore-"),
        (
            ["--url", "s3://bucket?endpoint_url=http://127.0.0.1:9&secret=hunter2&key=id"],
            "sessionstore doctor",
        ),
        (
            [
                "--url",
                "azure://box?endpoint_url=http://127.0.0.1:9/a&account_name=a&account_key=aGVsbG8=&retries=0",
            ],
            "check the endpoint",
        ),
    ],
)
def test_one_line_errors_with_the_fix(run: Run, args: list[str], expected: str) -> None:
    outcome = run("ls", *args)
    assert outcome.exit_code in (USAGE, UNAVAILABLE)
    [line] = outcome.stderr.splitlines()
    assert line.startswith("sessionstore: error: ")
    assert expected in line
    assert "hunter2" not in outcome.stderr + outcome.stdout
    assert "aGVsbG8=" not in outcome.stderr + outcome.stdout


def test_unreachable_server_exits_4(run: Run) -> None:
    outcome = run("ls", "--url", "gcs://box?endpoint_url=http://127.0.0.1:9&token=anon&retries=0")
    assert outcome.exit_code == UNAVAILABLE
    assert "Traceback" not in outcome.stderr


def test_environment_chooses_the_store(
    run: Run, url: str, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(store, "store_session", "from-env", {})
    monkeypatch.setenv("SESSIONSTORE_URL", url)
    assert run("ls").stdout.splitlines() == ["from-env"]
    # An explicit backend ignores a URL naming another one.
    assert run("ls", "--backend", "memory").stdout == ""


def test_installed_script_and_module_run(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("sessionstore")
    url = f"file://{tmp_path}"
    for command in ([str(script)], [sys.executable, "-m", "sessionstore"]):
        completed = subprocess.run(
            [*command, "put", "abc", "--url", url],
            input=b'{"ok": true}',
            capture_output=True,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        listed = subprocess.run([*command, "ls", "--url", url], capture_output=True, check=True)
        assert listed.stdout.decode().split() == ["abc"]


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_exits_130_not_1(
    run: Run, url: str, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    async def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        signal.raise_signal(signal.SIGINT)  # what Ctrl-C does
        await anyio.sleep(10)
        raise AssertionError("Ctrl-C did not cancel the command")

    monkeypatch.setattr(SessionStore, "list_sessions_page", interrupted)
    outcome = run("ls", "--url", url, *(["--json"] if as_json else []))
    assert outcome.exit_code == 130
    if as_json:
        assert outcome.json()["error"]["type"] == "Interrupted"
    else:
        assert outcome.stderr == "sessionstore: error: interrupted\n"


def _buffering(unbuffered: bool) -> dict[str, str]:
    """This environment, with standard output unbuffered (``PYTHONUNBUFFERED``, as in
    many containers, or ``python -u``) or buffered, whatever this environment says."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    if unbuffered:
        environment["PYTHONUNBUFFERED"] = "1"
    return environment


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(
    "args", [["ls"], ["ls", "--json"], ["get", "abc"], ["get", "abc", "--json"], ["stat", "abc"]]
)
def test_a_full_disk_is_a_one_line_error(
    url: str, store: SessionStore, args: list[str], unbuffered: bool
) -> None:
    """Buffered, what could not be written was written again at exit, which failed
    again: "Exception ignored ..." and exit 120."""
    sync(store, "store_session", "abc", {"n": 1})
    script = Path(sys.executable).with_name("sessionstore")
    with open("/dev/full", "wb") as full:
        completed = subprocess.run(
            [str(script), *args, "--url", url],
            stdout=full,
            capture_output=False,
            stderr=subprocess.PIPE,
            check=False,
            env=_buffering(unbuffered),
        )
    assert completed.returncode == USAGE
    assert completed.stderr == b"sessionstore: error: No space left on device\n"


@pytest.mark.parametrize("data", [b"", b"  \n"])
def test_empty_input_says_it_is_empty(run: Run, url: str, data: bytes) -> None:
    outcome = run("put", "abc", "--url", url, input=data)
    assert outcome.exit_code == USAGE
    assert outcome.stderr == (
        "sessionstore: error: standard input is empty: nothing to store "
        "(a session state is a JSON object)\n"
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [(["../x"], "session id '../x'"), (["abc", "-f", ".hidden"], "filename '.hidden'")],
)
def test_put_names_a_bad_name_before_it_reads_the_input(
    run: Run, url: str, args: list[str], named: str
) -> None:
    """Not "standard input is empty" (or a wait for a large input) first."""
    outcome = run("put", *args, "--url", url, input=b"")
    assert outcome.exit_code == USAGE
    assert outcome.stderr.startswith(f"sessionstore: error: {named} must not start with '.'")


def test_a_file_store_s_failure_points_at_its_folder_not_the_network(
    run: Run, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    outcome = run("ls", "--url", f"file://{not_a_folder}")
    assert outcome.exit_code == UNAVAILABLE
    assert "check that the store's root folder exists and is a folder" in outcome.stderr
    assert "network" not in outcome.stderr


@pytest.mark.parametrize("args", [["ls"], ["ls", "-l"], ["get", "abc"], ["show", "abc"]])
def test_a_closed_standard_output_is_no_traceback(
    url: str, store: SessionStore, args: list[str]
) -> None:
    sync(store, "store_session", "abc", {"n": 1})
    script = Path(sys.executable).with_name("sessionstore")
    command = " ".join(shlex.quote(word) for word in [str(script), *args, "--url", url])
    completed = subprocess.run(["sh", "-c", f"{command} >&-"], capture_output=True, check=False)
    assert completed.stderr == b""
    assert completed.returncode == 0


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(
    "args",
    [
        ["ls"],
        ["ls", "-l"],
        ["get", "big"],
        ["get", "big", "--json"],
        ["show", "big"],
        ["show", "big", "--json"],
    ],
)
def test_a_reader_that_leaves_early_ends_the_command_quietly_with_141(
    url: str, store: SessionStore, args: list[str], unbuffered: bool
) -> None:
    """Whatever the output's buffering. Unbuffered, Python's text layer drops the rest
    of a large write that the pipe took part of, with no error: it exited 0."""

    async def fill() -> None:
        async with store:
            await store.store_session("big", {"text": ["x" * 100] * 3000})  # 300 kB
            for number in range(600):  # 150 kB of ids, one line each
                await store.store_session(f"{number:03d}-{'x' * 240}", {})

    anyio.run(fill)
    script = Path(sys.executable).with_name("sessionstore")
    command = [str(script), *args, "--url", url]
    # More than a pipe holds: the command is still writing when the reader leaves.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_buffering(unbuffered)
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        # Past show's first line: the reader leaves during the state's one large write.
        assert len(child.stdout.read(1000)) == 1000
        child.stdout.close()  # as `| head -c 1000` does
        stderr = child.stderr.read()
    assert stderr == b""  # no traceback, no "Error"
    assert child.returncode == 141  # 128 + SIGPIPE, as shells report `ls | head`


@pytest.mark.parametrize("text", ['{"x": NaN}', '{"x": -Infinity}', '{"x": 1e400}'])
def test_a_state_json_cannot_hold_names_its_input(
    run: Run, url: str, tmp_path: Path, text: str
) -> None:
    """As the input's other errors do ("arr.json: a session state is..."): the file
    named first. Python's JSON reads NaN and Infinity (and 1e400 as inf); the store
    refuses them."""
    source = tmp_path / "nan.json"
    source.write_text(text)
    outcome = run("put", "abc", str(source), "--url", url)
    assert outcome.exit_code == USAGE
    assert outcome.stderr == (
        f"sessionstore: error: {source}: session state contains NaN or an infinity, "
        "which JSON cannot represent\n"
    )
    piped = run("put", "abc", "--json", "--url", url, input=text).json()["error"]
    assert piped["message"].startswith("standard input: session state contains NaN")
    assert piped["type"] == "SerializationError"
    assert run("ls", "--url", url).stdout == ""


def test_create_only_and_if_match_are_refused_in_the_cli_s_words(run: Run, url: str) -> None:
    """Not the library's "if_match and create_only exclude each other"."""
    outcome = run("put", "abc", "--create-only", "--if-match", "x", "--url", url, input="{}")
    assert outcome.exit_code == USAGE
    assert "--create-only and --if-match exclude each other" in outcome.stderr
    assert "if_match" not in outcome.stderr
    assert "create_only" not in outcome.stderr
    assert run("ls", "--url", url).stdout == ""


@pytest.mark.parametrize("command", [["put", "abc"], ["touch", "abc"]])
@pytest.mark.parametrize("ttl", ["3000000d", "99999999999d"])
def test_a_ttl_past_the_year_9999_is_said_in_the_user_s_words(
    run: Run, url: str, command: list[str], ttl: str
) -> None:
    """3000000d fits a timedelta but not a stored time: it printed the library's
    "a ttl of datetime.timedelta(days=3000000) reaches beyond the year 9999", where
    99999999999d (no timedelta holds it) had a usage error. Both have the same."""
    outcome = run(*command, "--ttl", ttl, "--url", url, input="{}")
    assert outcome.exit_code == USAGE
    assert f"Invalid value for '--ttl': '{ttl}' is a duration reaching beyond the year 9999" in (
        outcome.stderr
    )
    assert "datetime" not in outcome.stderr


@pytest.mark.parametrize(
    ("option", "flag"), [("bucket=other", "--bucket"), ("backend=memory", "--backend")]
)
@pytest.mark.parametrize("with_url", [True, False])
def test_an_option_naming_the_bucket_or_backend_points_at_its_flag(
    run: Run, url: str, option: str, flag: str, with_url: bool
) -> None:
    """Not a traceback: "got multiple values for keyword argument 'bucket'"."""
    target = ["--url", url] if with_url else ["--backend", "memory"]
    outcome = run("ls", "-o", option, *target)
    assert outcome.exit_code == USAGE
    assert f"give the {option.partition('=')[0]} as {flag}" in outcome.stderr


def test_a_default_ttl_option_is_in_seconds_as_in_a_url(
    run: Run, url: str, fake_clock: FakeClock
) -> None:
    """``-o default_ttl=60`` was handed on as the text "60", which the library
    refused: "a ttl must be a finite number of seconds (or a timedelta)..."."""
    stored = run("put", "abc", "-o", "default_ttl=60", "--json", "--url", url, input="{}")
    assert stored.exit_code == 0, stored.stderr
    assert stored.json()["expires_at"] == (fake_clock.time + timedelta(seconds=60)).isoformat()
    for bad, said in [
        ("soon", "--option default_ttl must be a number of seconds > 0, got 'soon'"),
        ("0", "--option default_ttl must be a number of seconds > 0, got '0'"),
        (
            "1e300",
            "--option default_ttl must be a number of seconds > 0 ending before the year "
            "10000, got '1e300'",
        ),
    ]:
        outcome = run("ls", "-o", f"default_ttl={bad}", "--url", url)
        assert outcome.exit_code == USAGE
        assert said in outcome.stderr
        assert "timedelta" not in outcome.stderr
