"""Commands on the sessions of one store: ls, show, get, put, touch, rm, stat, files,
purge."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import IO, Any, TypeVar

import anyio
import attrs
import click
from rich.text import Text

from sessionstore.bulk import PAGE_SIZE
from sessionstore.cli import output
from sessionstore.cli.app import cli
from sessionstore.cli.failures import (
    CONFLICT,
    CORRUPT,
    UNAVAILABLE,
    USAGE,
    Failure,
    from_error,
    not_found,
)
from sessionstore.cli.failures import interrupted as interrupted_failure
from sessionstore.cli.loop import run
from sessionstore.cli.options import (
    concurrency_option,
    duration,
    json_option,
    open_store,
    target_options,
)
from sessionstore.errors import (
    ConflictError,
    CorruptSessionError,
    SerializationError,
    SessionStoreError,
    StoragePermissionError,
    first_failure,
)
from sessionstore.names import session_path
from sessionstore.objects import SessionMetadata
from sessionstore.store import DEFAULT_FILENAME, SessionStore

Item = TypeVar("Item")
Got = TypeVar("Got")

LONG_CONCURRENCY = 16
"""Files whose metadata ``ls --long`` and ``files --long`` read at a time."""

file_option = click.option(
    "-f",
    "--file",
    "filename",
    default=DEFAULT_FILENAME,
    show_default=True,
    help="Which file of the session (a checkpoint's name).",
)


def _absent(session_id: str, filename: str) -> Failure:
    return not_found(f"session {session_id!r} has no {filename} (or it has expired)")


@cli.command("ls")
@click.option("--prefix", default="", help="Only ids starting with this.")
@click.option("-l", "--long", "long_", is_flag=True, help="Size, modified and expiry of each.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many ids.")
@click.option("--after", "cursor", metavar="CURSOR", help="Resume a listing cut by --limit.")
@click.option(
    "--page-size",
    default=PAGE_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    help="Ids listed per request (a cloud store answers with at most its own page).",
)
@target_options
@json_option
def ls_command(
    prefix: str,
    long_: bool,
    limit: int | None,
    cursor: str | None,
    page_size: int,
    as_json: bool,
    **target: Any,
) -> None:
    """List session ids, in listing order, a page at a time.

    A listing cut by --limit names the cursor to pass to --after: on standard error
    ("next: --after CURSOR"), or as "next" in the JSON output.
    """

    async def main() -> None:
        async with open_store(**target) as store:
            ids, next_cursor = await _list(store, prefix, cursor, limit, page_size, long_)
            metas = (
                await _metadata_of(store, [(sid, DEFAULT_FILENAME) for sid in ids])
                if long_
                else None
            )
        if as_json:
            sessions: list[Any] = (
                ids
                if metas is None
                else [
                    {"session_id": sid, "state": read.as_json()}
                    for sid, read in zip(ids, metas, strict=True)
                ]
            )
            output.emit_json({"sessions": sessions, "next": next_cursor})
        elif metas is None:
            pass  # printed as they came
        else:
            table = output.table("SESSION", "SIZE", "MODIFIED", "EXPIRES")
            for sid, read in zip(ids, metas, strict=True):
                table.add_row(Text(sid), *read.cells())
            output.print_table(table)
        if next_cursor is not None and not as_json:
            # Opaque: not the last id (which --after would list again).
            click.echo(f"next: --after {shlex.quote(next_cursor)}", err=True)
        if metas is not None:
            _fail_if_corrupt(metas, as_json)

    async def _list(
        store: SessionStore,
        prefix: str,
        cursor: str | None,
        limit: int | None,
        page_size: int,
        collect: bool,
    ) -> tuple[list[str], str | None]:
        """Page through the listing; print ids as they come unless collecting."""
        ids: list[str] = []
        count = 0
        while True:
            want = page_size if limit is None else min(page_size, limit - count)
            page = await store.list_sessions_page(prefix, cursor=cursor, limit=want)
            count += len(page.session_ids)
            cursor = page.cursor
            if as_json or collect:
                ids.extend(page.session_ids)
            else:
                for session_id in page.session_ids:
                    click.echo(session_id)
            if cursor is None or (limit is not None and count >= limit):
                return ids, cursor

    run(main)


@attrs.frozen
class _Read:
    """What a long listing learnt of one file: its full metadata (``None`` if it was
    deleted meanwhile), or, for a file that is not a session document, what the
    storage knows (size, times) and the error."""

    meta: SessionMetadata | None
    corrupt: CorruptSessionError | None = None

    def cells(self) -> tuple[str, str, Text]:
        """SIZE, MODIFIED and EXPIRES of a table row."""
        meta = self.meta
        expiry = Text("corrupt", style="red") if self.corrupt else output.expiry(meta)
        return (
            output.size(meta.size if meta else None),
            output.when(meta.modified if meta else None),
            expiry,
        )

    def as_json(self) -> dict[str, Any] | None:
        """The metadata as ``stat --json`` writes it; a corrupt file's adds the error
        and leaves ``expired`` unknown (``null``)."""
        if self.meta is None:
            return None
        fields = output.metadata_json(self.meta)
        if self.corrupt is not None:
            fields["expired"] = None
            fields["error"] = from_error(self.corrupt).json_error()
        return fields


def _fail_if_corrupt(reads: list[_Read], as_json: bool) -> None:
    """After a long listing is printed in full: exit 5 if a file in it is corrupt
    (with ``--json`` each such entry holds its ``error`` already)."""
    corrupt = [read.corrupt for read in reads if read.corrupt is not None]
    if not corrupt:
        return
    if as_json:
        raise SystemExit(CORRUPT)
    paths = ", ".join(str(error.path) for error in corrupt[:3])
    more = f" and {len(corrupt) - 3} more" if len(corrupt) > 3 else ""
    raise Failure(
        f"{len(corrupt)} file(s) listed are not session documents: {paths}{more}",
        exit_code=CORRUPT,
        hint="`sessionstore get --raw` shows one",
        kind="CorruptSessionError",
    )


async def _few_at_a_time(
    items: Sequence[Item], fetch: Callable[[Item], Awaitable[Got]]
) -> list[Got]:
    """``fetch`` of each item, :data:`LONG_CONCURRENCY` at a time, in the items' order."""
    found: list[Any] = [None] * len(items)
    limiter = anyio.CapacityLimiter(LONG_CONCURRENCY)

    async def one(index: int) -> None:
        async with limiter:
            found[index] = await fetch(items[index])

    with first_failure():
        async with anyio.create_task_group() as group:
            for index in range(len(items)):
                group.start_soon(one, index)
    return found


async def _read_file(store: SessionStore, session_id: str, filename: str) -> _Read:
    """A file's full metadata (expiry included); of a corrupt file, what the storage
    knows and the error, rather than the error alone."""
    try:
        return _Read(await store.get_session_metadata(session_id, filename, full=True))
    except CorruptSessionError as error:
        return _Read(await store.get_session_metadata(session_id, filename), error)


async def _metadata_of(store: SessionStore, files: list[tuple[str, str]]) -> list[_Read]:
    """:func:`_read_file` of each (session id, filename), a few at a time."""
    return await _few_at_a_time(files, lambda file: _read_file(store, *file))


@cli.command("show")
@click.argument("session_id")
@file_option
@target_options
@json_option
def show_command(session_id: str, filename: str, as_json: bool, **target: Any) -> None:
    """Show a session's state as pretty JSON, with its metadata."""

    async def main() -> None:
        async with open_store(**target) as store:
            loaded = await store.load_session_with_metadata(session_id, filename)
        if loaded is None:
            raise _absent(session_id, filename)
        state, meta = loaded
        if as_json:
            output.emit_json({"metadata": output.metadata_json(meta), "state": state})
            return
        pretty = output.dumps(state, indent=2, encoding=output.stdout_encoding())
        console = output.console()
        console.print(
            Text(
                f"{session_id}/{filename}  {output.size(meta.size)}  stored "
                f"{output.when(meta.stored_at)}  expires ",
                style="dim",
            )
            + output.expiry(meta)
        )
        console.print(output.json_text(pretty))  # a Text: no markup read in the state

    run(main)


@cli.command("get")
@click.argument("session_id")
@file_option
@click.option("--raw", is_flag=True, help="The stored bytes as they are (envelope included).")
@click.option(
    "--output",
    "-O",
    "destination",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write here instead of standard output (only once the file is read: a "
    "failed get leaves PATH as it was).",
)
@target_options
@json_option
def get_command(
    session_id: str,
    filename: str,
    raw: bool,
    destination: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Write a session's state as JSON (what `put` takes back), or --raw bytes."""

    async def main() -> bytes:
        async with open_store(**target) as store:
            if raw:
                stored = await store.load_raw(session_id, filename)
                if stored is None:
                    raise _absent(session_id, filename)
                return stored.data
            loaded = await store.load_session_with_metadata(session_id, filename)
        if loaded is None:
            raise _absent(session_id, filename)
        if as_json:
            document = {"metadata": output.metadata_json(loaded[1]), "state": loaded[0]}
            return output.dumps(document).encode() + b"\n"
        return output.dumps(loaded[0]).encode() + b"\n"

    data = run(main)  # before PATH is opened: opening it empties it
    if destination == "-":
        with click.open_file("-", "wb") as stdout:
            _write_all(stdout, data)
        return
    try:
        with open(destination, "wb") as file:
            _write_all(file, data)
    except OSError as error:
        raise Failure(
            f"cannot write {destination}: {error.strerror or error}",
            exit_code=USAGE,
            kind="OutputError",
        ) from error


def _write_all(stream: IO[bytes], data: bytes) -> None:
    """Write all of ``data``: a pipe whose reader leaves takes part of a large write
    and returns its length, and only the next write fails (a broken pipe, exit 141)."""
    view = memoryview(data)
    while view:
        view = view[stream.write(view) :]


@cli.command("put")
@click.argument("session_id")
@click.argument("source", type=click.File("rb"), default="-")
@file_option
@click.option(
    "--ttl", callback=duration, metavar="DURATION", help="Expire after this long: 90, 15m, 2h, 7d."
)
@click.option("--if-match", metavar="VERSION", help="Only over exactly this version.")
@click.option("--create-only", is_flag=True, help="Only if the file does not exist yet.")
@target_options
@json_option
def put_command(
    session_id: str,
    source: Any,
    filename: str,
    ttl: timedelta | None,
    if_match: str | None,
    create_only: bool,
    as_json: bool,
    **target: Any,
) -> None:
    """Store a JSON object as the session's state, read from SOURCE (a file, or - for
    standard input)."""
    if create_only and if_match is not None:
        # Said in the CLI's flags, before the library's "if_match and create_only".
        raise click.UsageError(
            "--create-only and --if-match exclude each other: --create-only writes only "
            "where no file exists, --if-match only over an existing version"
        )
    session_path(session_id, filename)  # a bad name is said before any input is read
    data = source.read()
    where = getattr(source, "name", "-")
    where = "standard input" if where in ("-", "<stdin>") else where
    if not data.strip():
        raise Failure(
            f"{where} is empty: nothing to store (a session state is a JSON object)",
            exit_code=USAGE,
            kind="SerializationError",
        )
    try:
        state = json.loads(data)
    except ValueError as error:
        raise Failure(
            f"{where}: not JSON ({error})", exit_code=USAGE, kind="SerializationError"
        ) from error
    if not isinstance(state, dict):
        raise Failure(
            f"{where}: a session state is a JSON object, found {type(state).__name__}",
            exit_code=USAGE,
            kind="SerializationError",
        )

    async def main() -> SessionMetadata:
        async with open_store(**target) as store:
            try:
                return await store.store_session(
                    session_id, state, filename, if_match=if_match, create_only=create_only, ttl=ttl
                )
            except ConflictError as error:
                raise _put_conflict(error, session_id, filename, create_only) from error
            except SerializationError as error:
                # What the store cannot encode came from SOURCE (NaN, Infinity, or a
                # number too large for a float, which Python's JSON reads as inf):
                # named as SOURCE's other errors name it.
                raise Failure(
                    f"{where}: {error}", exit_code=USAGE, kind="SerializationError"
                ) from error

    meta = run(main)
    if as_json:
        output.emit_json(output.metadata_json(meta))
    else:
        click.echo(
            f"stored {session_id}/{filename} ({output.size(meta.size)}) version {meta.version}"
        )


def _put_conflict(
    error: ConflictError, session_id: str, filename: str, create_only: bool
) -> Failure:
    """A refused conditional put, with the way forward for the condition given
    (nothing changed "meanwhile": the condition did not hold when asked)."""
    # A command to paste: quoted, and an id that starts with "-" after "--".
    where = "" if filename == DEFAULT_FILENAME else f" -f {shlex.quote(filename)}"
    quoted = shlex.quote(session_id)
    if create_only:
        hint = "the file exists already: drop --create-only to replace it"
    elif session_id.startswith("-"):
        hint = f"`sessionstore stat{where} -- {quoted}` shows the current version"
    else:
        hint = f"`sessionstore stat {quoted}{where}` shows the current version"
    return Failure(str(error), exit_code=CONFLICT, hint=hint, kind="ConflictError")


@cli.command("touch")
@click.argument("session_id")
@file_option
@click.option(
    "--ttl",
    callback=duration,
    metavar="DURATION",
    help="New time to live from now [default: the store's default_ttl].",
)
@target_options
@json_option
def touch_command(
    session_id: str, filename: str, ttl: timedelta | None, as_json: bool, **target: Any
) -> None:
    """Push a session file's expiry to --ttl from now, keeping its state."""

    async def main() -> SessionMetadata | None:
        async with open_store(**target) as store:
            if ttl is None and store.settings.default_ttl is None:
                # A --url store is the URL alone: the environment's TTL does not apply.
                environment = "" if target["url"] else ", or SESSIONSTORE_DEFAULT_TTL"
                raise click.UsageError(
                    "no --ttl given, and the store has no default TTL: pass --ttl "
                    "(e.g. --ttl 2h), or give the store one (?default_ttl=SECONDS in "
                    f"its URL{environment})"
                )
            return await store.touch_session(session_id, ttl, filename)

    meta = run(main)
    if meta is None:
        raise _absent(session_id, filename)
    if as_json:
        output.emit_json(output.metadata_json(meta))
    else:
        click.echo(f"{session_id}/{filename} now expires {output.when(meta.expires_at)}")


@cli.command("rm")
@click.argument("session_id")
@click.option(
    "-f",
    "--file",
    "filename",
    default=None,
    help="Delete only this file of the session [default: every file].",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@target_options
@json_option
def rm_command(
    session_id: str, filename: str | None, yes: bool, as_json: bool, **target: Any
) -> None:
    """Delete a session (every file), or one file of it."""
    what = f"session {session_id!r}" if filename is None else f"{session_id}/{filename}"
    if not yes and not _deletion_confirmed(what):
        # Declined: the user's choice, not a failure (exit 0, as `rm -i` does).
        if as_json:
            output.emit_json({"deleted": False, "session_id": session_id, "filename": filename})
        else:
            click.echo(f"not deleted: {what}", err=True)
        return

    async def main() -> bool:
        async with open_store(**target) as store:
            return await store.delete_session(session_id, filename)

    if not run(main):
        raise not_found(f"{what} does not exist")
    if as_json:
        output.emit_json({"deleted": True, "session_id": session_id, "filename": filename})
    else:
        click.echo(f"deleted {what}")


def _deletion_confirmed(what: str) -> bool:
    """The user's answer on the terminal; no answer (Ctrl-D) is no, as ``rm -i``
    takes it. Ctrl-C is raised as KeyboardInterrupt (exit 130), where click exits 1."""
    if not sys.stdin.isatty():
        raise click.UsageError(f"not deleting {what} without confirmation: pass --yes")
    try:
        return click.confirm(f"Delete {what}?", err=True)
    except click.Abort as error:  # click's for both Ctrl-C and Ctrl-D
        click.echo(err=True)  # end the prompt's line
        if isinstance(error.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from error
        return False


@cli.command("stat")
@click.argument("session_id")
@file_option
@target_options
@json_option
def stat_command(session_id: str, filename: str, as_json: bool, **target: Any) -> None:
    """Size, times, version and expiry of a session file (expired ones too; of a
    corrupt one, what the storage knows, then exit code 5)."""

    async def main() -> _Read:
        async with open_store(**target) as store:
            return await _read_file(store, session_id, filename)

    read = run(main)
    if read.meta is None:
        raise not_found(f"session {session_id!r} has no {filename}")
    meta = read.meta
    if as_json:
        output.emit_json(read.as_json())
        _fail_if_corrupt([read], as_json)
        return
    table = output.table("FIELD", "VALUE")
    table.show_header = False
    if read.corrupt is not None:
        format_cell: str | Text = Text("corrupt (not a session document)", style="red")
    else:
        format_cell = str(meta.format_version) if meta.format_version else "seed (no envelope)"
    rows: list[tuple[str, str | Text]] = [
        ("file", Text(f"{session_id}/{filename}")),
        ("size", output.size(meta.size)),
        ("modified", output.when(meta.modified)),
        ("created", output.when(meta.created)),
        ("stored at", output.when(meta.stored_at)),
        ("expires", read.cells()[2]),
        ("version", Text(meta.version)),
        ("format", format_cell),
        ("backend", Text(meta.backend)),
    ]
    for label, value in rows:
        table.add_row(label, value)
    output.print_table(table)
    if read.corrupt is not None:
        raise from_error(read.corrupt)


@cli.command("files")
@click.argument("session_id")
@click.option(
    "-l",
    "--long",
    "long_",
    is_flag=True,
    help="Size, modified time and version of each, from the storage's metadata "
    "(reads no file; `stat -f FILE` shows one file's expiry).",
)
@target_options
@json_option
def files_command(session_id: str, long_: bool, as_json: bool, **target: Any) -> None:
    """List a session's files: its state and its checkpoints."""

    async def main() -> tuple[list[str], list[SessionMetadata | None]]:
        async with open_store(**target) as store:
            names = await store.list_files(session_id)
            # One stat per file, not a download: checkpoints can be large, and
            # a file's size, times and version are all the storage's to tell.
            metas = await _stat_of(store, session_id, names) if long_ else []
            return names, metas

    names, metas = run(main)
    if not names:
        raise not_found(f"session {session_id!r} has no files")
    if as_json:
        files: list[Any] = [_stat_json(meta) for meta in metas] if long_ else names
        output.emit_json({"session_id": session_id, "files": files})
    elif long_:
        table = output.table("FILE", "SIZE", "MODIFIED", "VERSION")
        for name, meta in zip(names, metas, strict=True):
            table.add_row(
                Text(name),
                output.size(meta.size if meta else None),
                output.when(meta.modified if meta else None),
                Text(meta.version if meta else "-"),
            )
        output.print_table(table)
    else:
        for name in names:
            click.echo(name)


STAT_FIELDS = ("session_id", "filename", "size", "modified", "created", "backend", "version")
"""What the storage's metadata tells of a file, without reading it (no expiry, no
format: those are in the file's envelope)."""


async def _stat_of(
    store: SessionStore, session_id: str, names: list[str]
) -> list[SessionMetadata | None]:
    """The storage's metadata of each of the session's files (``None`` for one
    deleted meanwhile), a few at a time; no file is downloaded."""
    return await _few_at_a_time(names, lambda name: store.get_session_metadata(session_id, name))


def _stat_json(meta: SessionMetadata | None) -> dict[str, Any] | None:
    """``files --long --json``'s entry: only what the storage knows (``stat --json``
    adds what the file's envelope says)."""
    if meta is None:
        return None
    fields = attrs.asdict(meta)
    return {name: fields[name] for name in STAT_FIELDS}


@cli.command("purge")
@click.option("--prefix", default="", help="Only sessions whose id starts with this.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@concurrency_option("checked")
@target_options
@json_option
def purge_command(
    prefix: str, dry_run: bool, concurrency: int, as_json: bool, **target: Any
) -> None:
    """Delete every expired session (all its files). Safe while the application
    runs: a session refreshed during the purge is kept. A session the storage
    refuses to read or delete is named and skipped (exit code 4); any other
    storage failure stops the purge, after naming what it purged before."""
    purged: list[str] = []
    refused: list[tuple[str, Failure]] = []
    stopped: list[SessionStoreError] = []

    def skip_refused(session_id: str, error: SessionStoreError) -> None:
        if not isinstance(error, StoragePermissionError):
            raise error  # the storage is failing, not this one session
        # Its own failure, as copy gives each file's; no doctor hint: the store works.
        refused.append((session_id, from_error(error, suggest_doctor=False)))

    async def main() -> None:
        async with open_store(**target) as store:
            try:
                await store.purge_expired(
                    prefix=prefix,
                    dry_run=dry_run,
                    concurrency=concurrency,
                    on_purged=purged.append,
                    on_error=skip_refused,
                )
            except SessionStoreError as error:  # what went before it is reported first
                stopped.append(error)

    interrupted = False
    try:
        run(main)
    except KeyboardInterrupt:  # Ctrl-C: name what was deleted before it, then exit 130
        interrupted = True
    # Sessions are purged a few at a time and reported as each finishes; print
    # them in listing order, so the same purge prints the same lines.
    purged.sort(key=_listing_order)
    refused.sort(key=lambda pair: _listing_order(pair[0]))
    failure = None
    if interrupted:
        failure = interrupted_failure()
    elif stopped:
        failure = from_error(stopped[0])
    elif refused:
        failure = Failure(
            f"{len(refused)} session(s) not purged: the storage refused them",
            exit_code=UNAVAILABLE,
            kind="PurgeIncomplete",
        )
    if as_json:
        document: dict[str, Any] = {
            "purged": len(purged),
            "dry_run": dry_run,
            "sessions": purged,
            "failed": [
                {"session_id": session_id, "error": reason.json_error()}
                for session_id, reason in refused
            ],
        }
        if failure is not None:
            document["error"] = failure.json_error()
        output.emit_json(document)
        if failure is not None:
            sys.exit(failure.exit_code)
        return
    for session_id in purged:
        click.echo(session_id)
    for session_id, reason in refused:
        click.echo(f"not purged: {session_id}: {reason.message}", err=True)
    verb = "would purge" if dry_run else "purged"
    before = (
        " before it was interrupted"
        if interrupted
        else " before the storage failed"
        if stopped
        else ""
    )
    click.echo(f"{verb} {len(purged)} expired session{'s' * (len(purged) != 1)}{before}", err=True)
    if failure is not None:
        raise failure


def _listing_order(session_id: str) -> str:
    """The key that sorts session ids as listings do (ascending by ``"<id>/"``)."""
    return f"{session_id}/"
