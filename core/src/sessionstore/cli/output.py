"""Rendering for people (rich tables, sizes, times) and for scripts (JSON)."""

from __future__ import annotations

import dataclasses
import errno
import itertools
import json
import os
import sys
from datetime import datetime
from typing import Any

import attrs
import click
from rich.console import Console, RenderableType
from rich.filesize import decimal
from rich.highlighter import JSONHighlighter
from rich.style import StyleType
from rich.table import Table
from rich.text import Span, Text

from sessionstore import clock
from sessionstore.objects import SessionMetadata

PIPED_WIDTH = 1_000_000
"""The width of standard output when it is not a terminal: no line is cut or wrapped
(a script reading ``ls -l`` gets whole ids, whatever ``COLUMNS`` says)."""


class _Console(Console):
    """A rich console whose broken pipe (``| head``) is raised, as click's is, for
    the command group to exit 141, where rich's own handling exits 1 ("not found")."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def console() -> Console:
    """Standard output; plain text (no colour, no wrapping, no cut) when piped."""
    if sys.stdout.isatty():
        return _Console(highlight=False)
    return _Console(soft_wrap=True, highlight=False, width=PIPED_WIDTH)


def dumps(value: Any, *, indent: int | None = None, encoding: str = "utf-8") -> str:
    """JSON, on one line unless ``indent``; datetimes as ISO 8601, attrs classes as
    objects. Every place that prints a state writes it with this.

    Characters beyond ASCII are written as they are, unless the text holds one
    that ``encoding`` cannot encode (in UTF-8, a lone surrogate, which a state may
    hold: the store keeps and returns it; in latin-1, ``日``): then all of them are
    escaped (``\\u00e9`` for ``é``), the same JSON in ASCII, which ``put`` takes
    back unchanged.
    """
    text = json.dumps(value, default=_jsonable, ensure_ascii=False, indent=indent)
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return json.dumps(value, default=_jsonable, ensure_ascii=True, indent=indent)
    return text


def json_text(text: str) -> Text:
    """JSON text (from :func:`dumps`) for rich to print as it is: never read as
    markup or emoji codes (a state's ``[bold]`` is printed, not applied), coloured
    on a terminal as rich's ``JSON`` renderable colours it, and not wrapped."""
    highlighted = JSONHighlighter()(text)
    highlighted.no_wrap = True
    highlighted.overflow = None
    return highlighted


def emit_json(value: Any) -> None:
    """One JSON document on standard output."""
    click.echo(dumps(value, encoding=stdout_encoding()))


def stdout_encoding() -> str:
    """What standard output encodes text in (UTF-8 unless the environment says
    otherwise: ``PYTHONIOENCODING``, a Windows console)."""
    return getattr(sys.stdout, "encoding", None) or "utf-8"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return attrs.asdict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot show {type(value).__name__} as JSON")


def metadata_json(meta: SessionMetadata) -> dict[str, Any]:
    """``meta``'s fields and whether it has expired. ``meta`` must have been read
    with the file's content (``full=True``): without it ``expires_at`` is ``None``
    whatever the file's expiry, and ``expired`` would say false."""
    fields = attrs.asdict(meta)
    fields["expired"] = expired(meta)
    return fields


def expired(meta: SessionMetadata) -> bool:
    return meta.expires_at is not None and meta.expires_at <= clock.now()


def size(value: int | None) -> str:
    return "-" if value is None else decimal(value)


def when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def expiry(meta: SessionMetadata | None) -> Text:
    if meta is None or meta.expires_at is None:
        return Text("never" if meta is not None else "-")
    text = when(meta.expires_at)
    return Text(f"{text} (expired)", style="red") if expired(meta) else Text(text)


def escaped(text: str) -> str:
    """``text`` as standard output writes it: a character its encoding cannot hold
    escaped (``\\u65e5``), as :func:`sessionstore.cli.main` has the stream do."""
    encoding = stdout_encoding()
    return text.encode(encoding, "backslashreplace").decode(encoding)


def _escaped_cell(cell: RenderableType | None) -> RenderableType | None:
    """A table cell as :func:`escaped` writes it, its styles kept on the same
    characters."""
    if isinstance(cell, str):
        return escaped(cell)
    if not isinstance(cell, Text) or escaped(cell.plain) == cell.plain:
        return cell
    pieces = [escaped(char) for char in cell.plain]
    starts = list(itertools.accumulate(map(len, pieces), initial=0))
    shown = cell.copy()
    shown.plain = "".join(pieces)
    shown.spans = [Span(starts[span.start], starts[span.end], span.style) for span in cell.spans]
    return shown


class _Table(Table):
    """A table that measures its columns on the text standard output will write: an
    id escaped there (``\\u65e5``, six cells where ``日`` takes two) stays aligned."""

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        cells = [_escaped_cell(cell) for cell in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


def table(*columns: str) -> Table:
    """A table whose cells wrap on a narrow terminal, never cut: an id shortened to
    ``…`` could not be copied. Wide characters (``日``, emoji) take the two cells a
    terminal gives them: rich measures text by cells, not by len()."""
    shown = _Table(*columns, box=None, pad_edge=False, header_style="bold")
    for column in shown.columns:
        column.overflow = "fold"
    return shown


def print_table(table: Table) -> None:
    """Print a table without the padding rich leaves at the end of each line."""
    out = console()
    with out.capture() as captured:
        out.print(table)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))
