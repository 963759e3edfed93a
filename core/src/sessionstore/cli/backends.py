"""``sessionstore backends``: the installed backend plugins and their health."""

from __future__ import annotations

import click
from rich.text import Text

from sessionstore.cli import output
from sessionstore.cli.app import cli
from sessionstore.cli.options import json_option
from sessionstore.registry import BackendInfo, available_backends

STATUS_STYLE = {"ok": "green", "broken": "red", "disabled": "yellow", "installed": ""}


@cli.command("backends")
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Import each backend to say whether it works (--no-check imports none).",
)
@json_option
def backends_command(check: bool, as_json: bool) -> None:
    """List installed backends: name, distribution, version, status, and why a
    broken one is broken."""
    backends = available_backends(check=check)
    if as_json:
        output.emit_json({"backends": [_as_json(info) for info in backends]})
        return
    table = output.table("NAME", "DISTRIBUTION", "VERSION", "STATUS", "PROBLEM")
    table.columns[-1].overflow = "fold"  # wrapped whole: the module names it is about
    for info in backends:
        table.add_row(
            Text(info.name),  # Text: plugin metadata is printed, never read as markup
            Text(info.distribution),
            Text(info.version),
            Text(info.status, style=STATUS_STYLE.get(info.status, "")),
            Text(info.error or ""),
        )
    output.print_table(table)


def _as_json(info: BackendInfo) -> dict[str, str | None]:
    return {
        "name": info.name,
        "distribution": info.distribution,
        "version": info.version,
        "value": info.value,
        "status": info.status,
        "error": info.error,
    }
