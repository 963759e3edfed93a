"""``sessionstore doctor``: check plugins, configuration, connection and permissions,
and say what to fix."""

from __future__ import annotations

import math
import os
import secrets
from datetime import timedelta
from typing import Any, Literal

import anyio
import attrs
import click
from rich.text import Text

from sessionstore.cli import failures, output
from sessionstore.cli.app import cli
from sessionstore.cli.loop import run
from sessionstore.cli.options import json_option, open_store, target_options
from sessionstore.errors import SessionStoreError
from sessionstore.registry import available_backends
from sessionstore.settings import ENV_BACKEND, ENV_URL
from sessionstore.store import SessionStore

Status = Literal["ok", "warn", "fail"]
SHOWN_OPTIONS = frozenset(
    {"root", "endpoint_url", "region", "prefix", "project", "account_name", "create_bucket"}
)
"""Options whose values doctor prints; any other may be a credential and is hidden."""
MARK = {"ok": ("✔", "green"), "warn": ("!", "yellow"), "fail": ("✘", "red")}


@attrs.frozen
class Check:
    """One thing doctor looked at."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    exit_code: int = failures.OK


def _seconds(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    if math.isnan(value):  # FloatRange lets NaN through: no comparison fails
        raise click.BadParameter("nan is not a number of seconds")
    return value


@cli.command("doctor")
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    callback=_seconds,
    help="Seconds for the connection.",
)
@click.option(
    "--write/--no-write",
    default=True,
    show_default=True,
    help="Check write, read and delete with a short-lived probe session.",
)
@target_options
@json_option
def doctor_command(timeout: float, write: bool, as_json: bool, **target: Any) -> None:
    """Check the installed plugins, the configuration, the connection to the
    storage and the permissions on the bucket, and say what to fix."""
    checks = [_plugins()]
    try:
        store = open_store(**target)
    except click.UsageError as error:
        checks.append(Check("configuration", "fail", _one_line(error), exit_code=failures.USAGE))
    except (SessionStoreError, ValueError) as error:
        hint = failures.from_error(error, suggest_doctor=False).hint
        checks.append(
            Check("configuration", "fail", _one_line(error), hint, exit_code=failures.USAGE)
        )
    else:
        description: dict[str, str] = {}
        storage = run(lambda: _storage_checks(store, timeout, write, description))
        checks.append(Check("configuration", "ok", _describe(store, target, description)))
        checks += storage
    _report(checks, as_json)
    failed = [check for check in checks if check.status == "fail"]
    if failed:
        raise SystemExit(failed[0].exit_code)


def _plugins() -> Check:
    backends = available_backends(check=True)
    broken = [info for info in backends if info.status == "broken"]
    names = ", ".join(f"{info.name} ({info.status})" for info in backends) or "none"
    if not broken:
        return Check("plugins", "ok", f"installed backends: {names}")
    problems = "; ".join(f"{info.name}: {info.error}" for info in broken)
    return Check(
        "plugins",
        "warn",
        f"installed backends: {names}. Broken: {problems}",
        "upgrade or uninstall the broken distribution, or name it in "
        "SESSIONSTORE_DISABLE_BACKENDS to hide it",
    )


def _describe(store: SessionStore, target: dict[str, Any], description: dict[str, str]) -> str:
    """The configuration line: backend, bucket, where they came from, the options
    (credentials hidden), what the backend says of the bucket (its
    ``sessionstore_describe``, once the connection worked) and the default ttl."""
    if target.get("url"):
        source = "--url"
    elif target.get("backend"):
        source = "--backend"
    elif os.environ.get(ENV_URL):
        source = f"${ENV_URL}"
    elif os.environ.get(ENV_BACKEND):
        source = f"${ENV_BACKEND}"
    else:
        source = "the default (no --url, no environment)"
    options = store.settings.options
    shown = ", ".join(
        f"{key}={value if key in SHOWN_OPTIONS else '<hidden>'}"
        for key, value in sorted(options.items())
    )
    described = "".join(f"; {label}: {_one_line(value)}" for label, value in description.items())
    return (
        f"backend {store.backend!r}, bucket {store.bucket!r} from {source}"
        + (f"; options: {shown}" if shown else "")
        + described
        + (f"; default ttl {store.settings.default_ttl:g} s" if store.settings.default_ttl else "")
    )


async def _storage_checks(
    store: SessionStore, seconds: float, write: bool, description: dict[str, str]
) -> list[Check]:
    """Connect, list, probe; fills ``description`` with the backend's own account of
    the bucket once the connection worked. A backend failing to describe it is
    warned of: the store itself works."""
    checks = []
    try:
        with anyio.fail_after(seconds):
            async with store:
                page = await store.list_sessions_page(limit=1)
                more = "" if page.session_ids else " (no sessions yet)"
                checks.append(Check("connection", "ok", f"listed the bucket{more}"))
                try:
                    description.update(await store.describe())
                except SessionStoreError as error:
                    checks.append(
                        Check(
                            "description",
                            "warn",
                            f"the backend could not say where it keeps the bucket: "
                            f"{failures.from_error(error).message}",
                            "report it to the backend's authors (sessionstore_describe)",
                        )
                    )
                if write:
                    checks.append(await _probe(store))
    except TimeoutError:
        checks.append(
            Check(
                "connection",
                "fail",
                f"no answer within {seconds:g} s",
                "check the endpoint and the network (firewall, proxy), or raise --timeout",
                exit_code=failures.UNAVAILABLE,
            )
        )
    except (SessionStoreError, ValueError) as error:
        failure = failures.from_error(error, suggest_doctor=False)
        name = "connection" if not checks else "permissions"
        checks.append(Check(name, "fail", failure.message, failure.hint, failure.exit_code))
    return checks


async def _probe(store: SessionStore) -> Check:
    """Write, read back and delete a session no application uses."""
    probe = f"sessionstore-doctor-{secrets.token_hex(6)}"
    written = await store.store_session(
        probe, {"probe": True}, create_only=True, ttl=timedelta(minutes=5)
    )
    loaded = await store.load_session(probe)
    await store.delete_session(probe)
    if loaded != {"probe": True}:
        return Check(
            "permissions",
            "fail",
            f"wrote {probe!r} (version {written.version}) but read back {loaded!r}",
            "another process may be rewriting the bucket; check the storage's consistency",
            exit_code=failures.CORRUPT,
        )
    return Check("permissions", "ok", "wrote, read back and deleted a probe session")


def _one_line(text: BaseException | str) -> str:
    return " ".join(str(text).split())


def _report(checks: list[Check], as_json: bool) -> None:
    if as_json:
        output.emit_json({"ok": all(check.status != "fail" for check in checks), "checks": checks})
        return
    console = output.console()
    for check in checks:
        mark, style = MARK[check.status]
        console.print(Text(f"{mark} ", style=style) + Text(f"{check.name}: {check.detail}"))
        if check.fix:
            console.print(Text(f"    fix: {check.fix}", style="dim"))
