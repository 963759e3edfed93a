"""``sessionstore copy SRC_URL DST_URL``: move sessions between stores, resumably."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sessionstore.cli import output
from sessionstore.cli.app import cli
from sessionstore.cli.failures import CONFLICT, CORRUPT, Failure, from_error
from sessionstore.cli.loop import run
from sessionstore.cli.options import concurrency_option, json_option, store_options
from sessionstore.copying import CopyReport, copy_sessions
from sessionstore.errors import SessionStoreError
from sessionstore.store import SessionStore


@cli.command("copy")
@click.argument("source_url", metavar="SRC_URL")
@click.argument("destination_url", metavar="DST_URL")
@click.option("--prefix", default="", help="Only sessions whose id starts with this.")
@concurrency_option("copied")
@click.option("--verify", is_flag=True, help="Read each written file back and compare.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar [default: when standard error is a terminal].",
)
@click.option("--source-option", "source_options", metavar="KEY=VALUE", multiple=True)
@click.option("--destination-option", "destination_options", metavar="KEY=VALUE", multiple=True)
@json_option
def copy_command(
    source_url: str,
    destination_url: str,
    prefix: str,
    concurrency: int,
    verify: bool,
    progress: bool | None,
    source_options: tuple[str, ...],
    destination_options: tuple[str, ...],
    as_json: bool,
) -> None:
    """Copy every session (all its files, byte for byte) from SRC_URL to DST_URL.

    Files already identical at the destination are skipped, so running the same
    copy again after an interruption resumes it. Nothing is ever deleted, at the
    source or at the destination.
    """
    source = _opened("SRC_URL", source_url, store_options(source_options, "--source-option"))
    destination = _opened(
        "DST_URL", destination_url, store_options(destination_options, "--destination-option")
    )
    show_progress = sys.stderr.isatty() if progress is None else progress

    async def main() -> CopyReport:
        async with source, destination:
            if not show_progress:
                return await copy_sessions(
                    source, destination, prefix=prefix, concurrency=concurrency, verify=verify
                )
            total = 0
            async for _ in source.iter_sessions(prefix):
                total += 1
            with _progress_bar() as bar:
                task = bar.add_task("copy", total=total, copied=0, skipped=0, size="0 B")

                def advance(report: CopyReport) -> None:
                    bar.update(
                        task,
                        completed=report.sessions,
                        copied=report.files_copied,
                        skipped=report.files_skipped,
                        size=decimal(report.bytes_copied),
                    )

                report = await copy_sessions(
                    source,
                    destination,
                    prefix=prefix,
                    concurrency=concurrency,
                    verify=verify,
                    on_progress=advance,
                )
                advance(report)
                return report

    report = run(main)
    failed = [(name, from_error(error, suggest_doctor=False)) for name, error in report.failed]
    if as_json:
        listed = [{"file": name, "error": failure.json_error()} for name, failure in failed]
        output.emit_json({**_summary(report), "failed": listed})
    else:
        for name, failure in failed:
            click.echo(f"not copied: {name}: {failure.message}", err=True)
        click.echo(_sentence(report, verify), err=True)
    if failed:
        # 3 when every file left out changed at the destination meanwhile (running
        # the copy again finishes it), else 5: a file cannot be copied as it is
        # (corrupt here or there, or a name the destination cannot hold).
        conflicts = all(failure.exit_code == CONFLICT for _, failure in failed)
        failure = Failure(
            f"{len(failed)} file(s) not copied",
            exit_code=CONFLICT if conflicts else CORRUPT,
            kind="CopyIncomplete",
        )
        if as_json:
            sys.exit(failure.exit_code)  # the JSON above already lists them
        raise failure


def _opened(side: str, url: str, options: dict[str, Any]) -> SessionStore:
    """The store at ``url``; a failure says which side's URL is wrong (not the URL
    itself, which may hold a secret)."""
    try:
        return SessionStore.from_url(url, **options)
    except (SessionStoreError, ValueError) as error:
        failure = from_error(error)
        raise Failure(
            f"{side}: {failure.message}",
            exit_code=failure.exit_code,
            hint=failure.hint,
            kind=failure.kind,
        ) from error


def _progress_bar() -> Progress:
    terminal = sys.stderr.isatty()
    return Progress(
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("sessions · {task.fields[copied]} files copied ({task.fields[size]})"),
        TextColumn("· {task.fields[skipped]} identical"),
        TimeElapsedColumn(),
        # Piped (a log, a CI job), the bar is printed once at the end: in full.
        console=Console(stderr=True, width=None if terminal else 160),
    )


def _summary(report: CopyReport) -> dict[str, Any]:
    return {
        "sessions": report.sessions,
        "files_copied": report.files_copied,
        "files_skipped": report.files_skipped,
        "bytes_copied": report.bytes_copied,
        "files_verified": report.files_verified,
    }


def _sentence(report: CopyReport, verify: bool) -> str:
    text = (
        f"{report.sessions} session{'s' * (report.sessions != 1)}: "
        f"{report.files_copied} files copied "
        f"({decimal(report.bytes_copied)}), {report.files_skipped} already identical"
    )
    if verify:
        text += f", {report.files_verified} verified"
    return text
