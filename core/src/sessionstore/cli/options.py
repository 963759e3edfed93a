"""Options several commands share: the target store, ``--json``, ``--concurrency``,
durations."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click

from sessionstore.bulk import DEFAULT_CONCURRENCY
from sessionstore.errors import ConfigurationError
from sessionstore.settings import (
    DEFAULT_TTL_OPTION,
    MIN_TTL,
    configured_ttl,
    reaches_beyond_last_time,
)
from sessionstore.store import SessionStore

F = TypeVar("F", bound=Callable[..., Any])
JSON_KEY = "sessionstore.json"


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """Whether JSON was asked for, here or before the command (``sessionstore --json
    ls``: the contexts of the group and of its command share ``meta``)."""
    value = value or bool(ctx.meta.get(JSON_KEY))
    ctx.meta[JSON_KEY] = value
    return value


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    is_eager=True,
    callback=_remember_json,
    help='Print JSON for scripts instead of text (errors too, as {"error": ...}).',
)


def _remember_group_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:  # else the command's own --json decides
        ctx.meta[JSON_KEY] = True


group_json_option = click.option(
    "--json",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_remember_group_json,
    help="The command's --json: `sessionstore --json ls` is `sessionstore ls --json`.",
)


def concurrency_option(what: str) -> Callable[[F], F]:
    """``-j`` / ``--concurrency``: how many sessions ``what`` at a time."""
    return click.option(
        "-j",
        "--concurrency",
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        type=click.IntRange(min=1),
        help=f"Sessions {what} at a time.",
    )


def target_options(command: F) -> F:
    """``--url`` / ``--backend`` / ``--bucket`` / ``--option``: which store to open.

    Without them the library's own resolution applies: ``SESSIONSTORE_URL``,
    ``SESSIONSTORE_BACKEND``, ``SESSIONSTORE_BUCKET``, else local files.
    """
    for decorator in reversed(
        [
            click.option(
                "--url",
                metavar="URL",
                help="Store URL, e.g. s3://bucket/prefix or file:///var/lib/app "
                "[default: $SESSIONSTORE_URL].",
            ),
            click.option("--backend", metavar="NAME", help="Backend name (without --url)."),
            click.option("--bucket", metavar="NAME", help="Bucket (container) of the sessions."),
            click.option(
                "-o",
                "--option",
                "options",
                metavar="KEY=VALUE",
                multiple=True,
                help="A backend option, e.g. -o root=/srv/app; repeatable. "
                "-o default_ttl=SECONDS: the store's default TTL.",
            ),
        ]
    ):
        command = decorator(command)
    return command


def open_store(
    url: str | None, backend: str | None, bucket: str | None, options: tuple[str, ...]
) -> SessionStore:
    """The store the target options name."""
    parsed = store_options(options)
    for key, flag in (("backend", "--backend or the --url scheme"), ("bucket", "--bucket")):
        if key in parsed:  # the library's own argument: a TypeError, "multiple values"
            raise click.UsageError(f"--option {key}=... is not taken: give the {key} as {flag}")
    if url is not None:
        if backend is not None:
            raise click.UsageError("give either --url or --backend, not both")
        return SessionStore.from_url(url, bucket=bucket, **parsed)
    return SessionStore(backend=backend, bucket=bucket, **parsed)


def parse_options(options: tuple[str, ...], name: str = "--option") -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; a malformed one is a usage error naming
    ``name``, the command-line option it came from."""
    parsed = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{name} wants KEY=VALUE, got {option!r}")
        parsed[key] = value
    return parsed


def store_options(options: tuple[str, ...], name: str = "--option") -> dict[str, Any]:
    """``KEY=VALUE`` options as the keywords of a store, as a URL's query takes
    them: ``default_ttl`` is the store's, in seconds (the library takes a number,
    not the text); ``bucket`` sets the bucket, any other key is a backend option."""
    parsed: dict[str, Any] = parse_options(options, name)
    if DEFAULT_TTL_OPTION in parsed:
        parsed[DEFAULT_TTL_OPTION] = _default_ttl(parsed[DEFAULT_TTL_OPTION], name)
    return parsed


def _default_ttl(value: str, name: str) -> float:
    """``-o default_ttl=SECONDS`` as the number of seconds the library takes,
    checked as a URL's ``?default_ttl=`` is."""
    try:
        return configured_ttl(value, f"{name} {DEFAULT_TTL_OPTION}")
    except ConfigurationError as error:
        raise click.UsageError(str(error)) from None


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    """Seconds, or a number with a unit: ``90``, ``90s``, ``15m``, ``2h``, ``7d``."""
    if value is None:
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", value)
    if found is None:
        raise click.BadParameter(f"{value!r} is not a duration like 90, 90s, 15m, 2h or 7d")
    beyond = f"{value!r} is a duration reaching beyond the year 9999"
    try:
        span = timedelta(seconds=float(found.group(1)) * UNITS[found.group(2) or "s"])
    except OverflowError:  # beyond any timedelta
        raise click.BadParameter(beyond) from None
    if span.total_seconds() < MIN_TTL:
        what = "zero" if span.total_seconds() == 0 else "under a microsecond"
        raise click.BadParameter(f"{value!r} is a duration of {what}: a ttl must be positive")
    if reaches_beyond_last_time(span.total_seconds()):
        # Said here, in the user's words, not by the library once the store is open.
        raise click.BadParameter(beyond)
    return span
