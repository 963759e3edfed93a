"""What ``get`` and ``show`` print of a state: any state the store keeps, printed
as it is."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import subprocess
import sys
import unicodedata

import pytest
from rich.console import Console
from rich.text import Text

from sessionstore.cli import output

from .conftest import Run

LONE_SURROGATE = {"s": "\ud800", "t": "é ✓", "\udfff key": ["\udc80"]}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _put(run: Run, url: str, state: object) -> None:
    # As a script would send it: JSON escapes, which put reads back to the state.
    outcome = run("put", "abc", "--url", url, input=json.dumps(state))
    assert outcome.exit_code == 0, outcome.stderr


def _shown_state(stdout: str) -> object:
    """The state ``show`` printed after its line of metadata."""
    header, _, pretty = ANSI.sub("", stdout).partition("\n")
    assert header.startswith("abc/state.json")
    return json.loads(pretty)


def test_get_prints_a_state_holding_a_lone_surrogate(run: Run, url: str) -> None:
    _put(run, url, LONE_SURROGATE)

    got = run("get", "abc", "--url", url)
    assert got.exit_code == 0, got.stderr
    assert json.loads(got.stdout) == LONE_SURROGATE
    assert got.stdout.isascii()  # the surrogate (and so every other) as an escape
    # What get prints, put takes back unchanged.
    assert run("put", "copy", "--url", url, input=got.stdout).exit_code == 0
    assert json.loads(run("get", "copy", "--url", url).stdout) == LONE_SURROGATE

    document = run("get", "abc", "--json", "--url", url)
    assert document.exit_code == 0, document.stderr
    assert document.json()["state"] == LONE_SURROGATE

    # Without a lone surrogate, text beyond ASCII is printed as it is.
    _put(run, url, {"t": "é ✓"})
    assert run("get", "abc", "--url", url).stdout == '{"t": "é ✓"}\n'


def test_show_prints_a_state_holding_a_lone_surrogate(run: Run, url: str) -> None:
    _put(run, url, LONE_SURROGATE)

    as_json = run("show", "abc", "--json", "--url", url)
    assert as_json.exit_code == 0, as_json.stdout
    assert as_json.json()["state"] == LONE_SURROGATE

    shown = run("show", "abc", "--url", url)
    assert shown.exit_code == 0, shown.stderr
    assert _shown_state(shown.stdout) == LONE_SURROGATE


def test_show_on_a_terminal_prints_a_lone_surrogate(
    run: Run, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(run, url, LONE_SURROGATE)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich colours as on a terminal

    shown = run("show", "abc", "--url", url)
    assert shown.exit_code == 0, shown.stderr
    assert _shown_state(shown.stdout) == LONE_SURROGATE


@pytest.mark.parametrize("note", ["see [bold]this[/bold] :smile:", "[/red] oops"])
def test_show_prints_brackets_in_a_state_as_they_are(
    run: Run, url: str, monkeypatch: pytest.MonkeyPatch, note: str
) -> None:
    _put(run, url, {"note": note})

    shown = run("show", "abc", "--url", url)
    assert shown.exit_code == 0, shown.stderr
    assert f'"note": "{note}"' in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr

    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich colours as on a terminal
    shown = run("show", "abc", "--url", url)
    assert shown.exit_code == 0, shown.stderr
    assert _shown_state(shown.stdout) == {"note": note}


def test_piped_tables_print_whole_ids_whatever_the_width(
    run: Run, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "20")
    long_id = "session-" + "x" * 100
    assert run("put", long_id, "--url", url, input="{}").exit_code == 0
    listed = run("ls", "-l", "--url", url).stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["SESSION", long_id]
    stat = run("stat", long_id, "--url", url).stdout.splitlines()
    assert stat[0].split() == ["file", f"{long_id}/state.json"]
    files = run("files", long_id, "-l", "--url", url).stdout.splitlines()
    assert [line.split()[0] for line in files] == ["FILE", "state.json"]


def test_tables_on_a_narrow_terminal_wrap_ids_rather_than_cut_them() -> None:
    long_id = "session-" + "x" * 40
    table = output.table("SESSION", "SIZE")
    table.add_row(long_id, "1 byte")
    terminal = Console(width=30, force_terminal=True)
    with terminal.capture() as captured:
        terminal.print(table)
    shown = ANSI.sub("", captured.get())
    assert "…" not in shown
    assert shown.count("x") == 40


def test_a_broken_pipe_under_rich_is_raised_not_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    class Gone(io.StringIO):
        def write(self, _text: str) -> int:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Gone())
    # Raised, for the command group to exit 141; rich's own handling exits 1.
    with pytest.raises(BrokenPipeError):
        output.console().print("abc")


NON_LATIN_1_ID = "café-日本"
ESCAPED_ID = "caf\xe9-\\u65e5\\u672c"
"""How :data:`NON_LATIN_1_ID` reads on a latin-1 standard output: what latin-1
holds as it is, the rest escaped."""


def _under_latin_1(url: str, *command: str) -> str:
    """What the command prints with standard output in latin-1 (``PYTHONIOENCODING``,
    an old terminal), once a state latin-1 cannot hold is stored; it must succeed.
    Before, ``show`` crashed with UnicodeEncodeError and exit 2, a usage error."""
    environment = {**os.environ, "PYTHONIOENCODING": "latin-1", "SESSIONSTORE_URL": url}
    sessionstore = [sys.executable, "-m", "sessionstore"]
    put = [*sessionstore, "put", NON_LATIN_1_ID]
    state = json.dumps({"name": "é日本✓"}).encode()
    subprocess.run(put, input=state, env=environment, check=True, timeout=60)
    shown = subprocess.run(
        [*sessionstore, *command], capture_output=True, env=environment, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.decode("latin-1")


def test_show_in_latin_1_escapes_what_latin_1_cannot_hold(url: str) -> None:
    header, _, pretty = _under_latin_1(url, "show", NON_LATIN_1_ID).partition("\n")
    assert header.startswith(f"{ESCAPED_ID}/state.json")
    assert json.loads(pretty) == {"name": "é日本✓"}  # \u escapes: the same JSON


def test_json_in_latin_1_is_the_same_json(url: str) -> None:
    document = json.loads(_under_latin_1(url, "show", NON_LATIN_1_ID, "--json"))
    assert document["state"] == {"name": "é日本✓"}
    assert document["metadata"]["session_id"] == NON_LATIN_1_ID
    assert json.loads(_under_latin_1(url, "ls", "--json"))["sessions"] == [NON_LATIN_1_ID]


@pytest.mark.parametrize("command", [["ls", "-l"], ["stat", NON_LATIN_1_ID]], ids=["ls", "stat"])
def test_text_in_latin_1_escapes_an_id_it_cannot_hold(url: str, command: list[str]) -> None:
    assert ESCAPED_ID in _under_latin_1(url, *command)  # not lost, nor turned into "?"


WIDE_IDS = ["ab", "日本", "x-😀", "é-ｶﾅ"]
"""Ids of two cells a character (East Asian wide, emoji), of one (half-width kana)."""


def _column_starts(line: str) -> list[int]:
    """The terminal cell where each column of a table's line starts: columns are two
    spaces or more apart, a cell's words one; an East Asian wide character takes two
    cells."""
    starts = [found.start() for found in re.finditer(r"(?:^|(?<=  ))\S", line)]
    return [
        sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line[:start])
        for start in starts
    ]


def _aligned(table: str) -> bool:
    """Whether every line of ``table`` has its four columns start where the header's do."""
    header, *rows = table.splitlines()
    assert header.split() == ["SESSION", "SIZE", "MODIFIED", "EXPIRES"]
    assert rows
    return all(_column_starts(row) == _column_starts(header) for row in rows)


def test_ls_long_aligns_wide_characters_by_the_cells_they_take(run: Run, url: str) -> None:
    for session_id in WIDE_IDS:
        assert run("put", session_id, "--url", url, input="{}").exit_code == 0
    listed = run("ls", "-l", "--url", url)
    assert listed.exit_code == 0, listed.stderr
    assert sorted(line.split()[0] for line in listed.stdout.splitlines()[1:]) == sorted(WIDE_IDS)
    assert _aligned(listed.stdout)


def test_ls_long_in_latin_1_aligns_escaped_ids(run: Run, url: str) -> None:
    """An id latin-1 cannot hold is printed escaped (``\\u65e5``, six cells where
    ``日`` takes two): its columns are measured on what is printed."""
    for session_id in WIDE_IDS:
        assert run("put", session_id, "--url", url, input="{}").exit_code == 0
    listed = _under_latin_1(url, "ls", "-l")
    ids = {line.split()[0] for line in listed.splitlines()[1:]}
    assert ids == {"ab", ESCAPED_ID, "x-\\U0001f600", "\\u65e5\\u672c", "é-\\uff76\\uff85"}
    assert _aligned(listed)


def test_a_table_escapes_a_cell_keeping_its_styles_on_the_same_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="latin-1"))
    table = output.table("SESSION", "EXPIRES")
    table.add_row(Text.assemble("é-", ("日", "red"), "-x"), Text("never", style="bold"))
    terminal = Console(width=80, force_terminal=True, color_system="standard")
    with terminal.capture() as captured:
        terminal.print(table)
    header, row = captured.get().splitlines()
    assert "é-\x1b[31m\\u65e5\x1b[0m-x" in row  # red, as 日 was
    assert "\x1b[1mnever" in row
    assert ANSI.sub("", row).index("never") == ANSI.sub("", header).index("EXPIRES")
