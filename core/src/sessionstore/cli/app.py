"""The ``sessionstore`` command group: turns library errors into exit codes."""

from __future__ import annotations

import errno
import sys
from typing import Any

import click

from sessionstore.cli import failures
from sessionstore.cli.options import JSON_KEY, group_json_option
from sessionstore.cli.streams import drop_unread_output
from sessionstore.errors import SessionStoreError

_ASKED_FOR_JSON = "sessionstore.asked_for_json"


class Group(click.Group):
    """Runs a command; a library error becomes a one-line message and its exit code,
    and with ``--json`` any error (usage errors too) a JSON object on standard output."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # A usage error may stop the command's parsing before its eager --json
        # option is seen: the raw arguments (up to "--") say whether it was asked.
        options = args[: args.index("--")] if "--" in args else args
        ctx.meta[_ASKED_FOR_JSON] = "--json" in options
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:  # before the command: `--bogus ls --json`
            if _wants_json(ctx):
                raise _json_usage(error) from error
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            if sys.stdout is not None:  # None: closed by the shell (>&-)
                sys.stdout.flush()  # a full disk says so here, not at exit
            return result
        except (SessionStoreError, ValueError) as error:
            raise _shown(ctx, failures.from_error(error)) from error
        except KeyboardInterrupt as error:
            raise _shown(ctx, failures.interrupted()) from error
        except OSError as error:
            if error.errno == errno.EPIPE:  # the reader has gone (| head): no message
                drop_unread_output()
                raise click.exceptions.Exit(failures.BROKEN_PIPE) from error
            # Not the store's (its failures are SessionStoreErrors): the output
            # could not be written (a full disk) or the like.
            where = f"{error.filename}: " if error.filename else ""
            failure = failures.Failure(
                f"{where}{error.strerror or error}", exit_code=failures.USAGE, kind="OSError"
            )
            raise _shown(ctx, failure) from error
        except failures.Failure as failure:
            _shown(ctx, failure)
            raise
        except click.UsageError as error:
            if _wants_json(ctx):
                raise _json_usage(error) from error
            raise  # click's own usage message, on standard error


def _wants_json(ctx: click.Context) -> bool:
    """Whether ``--json`` was given, or, where parsing stopped before it was seen,
    is among the arguments."""
    return bool(ctx.meta.get(JSON_KEY, ctx.meta.get(_ASKED_FOR_JSON)))


def _json_usage(error: click.UsageError) -> failures.Failure:
    usage = failures.from_usage_error(error)
    usage.as_json = True
    return usage


def _shown(ctx: click.Context, failure: failures.Failure) -> failures.Failure:
    """``failure``, to be shown as JSON if the command was given ``--json``."""
    failure.as_json = bool(ctx.meta.get(JSON_KEY))
    return failure


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="sessionstore", prog_name="sessionstore")
@group_json_option
def cli() -> None:
    """Look at, change and move the sessions a sessionstore application keeps.

    Every command takes the store as --url (or --backend, --bucket and -o KEY=VALUE
    options), else from SESSIONSTORE_URL / SESSIONSTORE_BACKEND / SESSIONSTORE_BUCKET,
    else local files. Exit codes: 0 ok, 1 not found, 2 usage or configuration,
    3 conflict, 4 storage unavailable or access refused, 5 corrupt stored data,
    130 interrupted, 141 standard output closed by its reader (| head).
    """
