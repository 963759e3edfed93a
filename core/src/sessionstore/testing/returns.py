"""Check what each hook returns, so that a wrong type fails with the hook's name
and the type it must return, not as an ``AttributeError`` somewhere later."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import wraps
from typing import Any

import attrs

from sessionstore.errors import SessionStoreError
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.storage import Storage


class HookReturnError(SessionStoreError, TypeError):
    """A hook returned something other than the type its specification names.

    A :class:`~sessionstore.SessionStoreError`, so the core passes it on as it is
    rather than wrapping it as a storage failure."""


Check = Callable[[Any], "str | None"]
"""Given a hook's return value, what is wrong with it, or ``None``."""


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _fields(value: Any) -> dict[str, Any]:
    """An attrs instance's fields, typed as anything: a backend may have put anything there."""
    return attrs.asdict(value, recurse=False)


def object_info_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a usable :class:`ObjectInfo`."""
    if not isinstance(value, ObjectInfo):
        return (
            f"{_shown(value)}, not a sessionstore.ObjectInfo(path=..., size=..., "
            "modified=..., created=..., version=...)"
        )
    info = _fields(value)
    if not isinstance(info["path"], str):
        return f"an ObjectInfo whose path is {_shown(info['path'])}, not the str it was given"
    size = info["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return f"an ObjectInfo whose size is {_shown(size)}, not the int length in bytes"
    for name in ("modified", "created"):
        if not isinstance(info[name], datetime):
            return (
                f"an ObjectInfo whose {name} is {_shown(info[name])}, not a "
                "timezone-aware datetime (e.g. datetime.now(timezone.utc))"
            )
    if not isinstance(info["version"], str) or not info["version"]:
        return (
            f"an ObjectInfo whose version is {_shown(info['version'])}, not a non-empty str "
            "(convert generation numbers and counters with str())"
        )
    return None


def stored_object_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a usable :class:`StoredObject`."""
    if not isinstance(value, StoredObject):
        return f"{_shown(value)}, not a sessionstore.StoredObject(data=<bytes>, info=ObjectInfo)"
    stored = _fields(value)
    if not isinstance(stored["data"], bytes):
        return f"a StoredObject whose data is {_shown(stored['data'])}, not bytes"
    return object_info_problem(stored["info"])


def bool_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a ``bool``."""
    return None if isinstance(value, bool) else f"{_shown(value)}, not a bool"


def list_page_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a usable :class:`ListPage`."""
    if not isinstance(value, ListPage):
        return f"{_shown(value)}, not a sessionstore.ListPage(entries=(...), cursor=...)"
    page = _fields(value)
    if not all(isinstance(entry, str) for entry in page["entries"]):
        return f"a ListPage whose entries are not all str: {_shown(page['entries'])}"
    if page["cursor"] is not None and not isinstance(page["cursor"], str):
        return f"a ListPage whose cursor is {_shown(page['cursor'])}, not a str or None"
    return None


def count_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a count: an ``int`` (not a bool), never negative."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{_shown(value)}, not an int"
    return None if value >= 0 else f"{value}, a negative count"


def description_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a description: a mapping of str labels to
    str values."""
    if not isinstance(value, Mapping):
        return f"{_shown(value)}, not a dict"
    for label, text in value.items():
        if not isinstance(label, str):
            return f"a dict with the label {_shown(label)}, not a str"
        if not isinstance(text, str):
            return f"a dict whose {label!r} is {_shown(text)}, not a str"
    return None


def cursor_problem(value: ListPage, arguments: dict[str, Any]) -> str | None:
    """What keeps the cursor of ``value`` from moving the listing forward."""
    if value.cursor == "":
        return "a ListPage with cursor '': only cursor=None ends a listing"
    if value.cursor is not None and value.cursor == arguments.get("cursor"):
        return (
            f"a ListPage with the cursor it was given ({value.cursor!r}), so paging would "
            "never end: resume strictly after that cursor, and return cursor=None on "
            "the last page"
        )
    return None


CHECKS: dict[str, tuple[str, Check, str]] = {
    "_upload": ("sessionstore_upload", object_info_problem, "a sessionstore.ObjectInfo"),
    "_download": ("sessionstore_download", stored_object_problem, "a sessionstore.StoredObject"),
    "_exists": ("sessionstore_exists", bool_problem, "a bool (True or False)"),
    "_stat": ("sessionstore_stat", object_info_problem, "a sessionstore.ObjectInfo"),
    "_list": ("sessionstore_list", list_page_problem, "a sessionstore.ListPage"),
}
"""Storage's bound hook attribute: the hook, its check, and the type it must return."""
SWEEP_CHECK: tuple[str, Check, str] = (
    "sessionstore_sweep",
    count_problem,
    "an int, how many entries it removed (0 when there was nothing to remove)",
)
"""The optional sweep hook, which Storage calls through its hook relay: Storage.sweep
reads None as 0 and converts "3" to 3, so only the hook's own answer shows them."""
DESCRIBE_CHECK: tuple[str, Check, str] = (
    "sessionstore_describe",
    description_problem,
    'a dict of str labels to one-line str values, e.g. {"folder": "/var/lib/app"}',
)
"""The optional describe hook, which Storage calls through its hook relay too:
Storage.describe copies what it returns into a dict, so only the hook's own answer
shows what it was."""
OPTIONAL_CHECKS = (SWEEP_CHECK, DESCRIBE_CHECK)
"""The optional hooks whose answers are checked, each where a backend has it."""
CHECKED = "_sessionstore_kit_checked"
"""Marks a Storage whose hooks are already checked."""


def _checked(call: Callable[..., Any], hook: str, check: Check, expected: str) -> Any:
    @wraps(call)
    async def checked(**arguments: Any) -> Any:
        value = await call(**arguments)
        problem = check(value)
        if problem is not None:
            raise HookReturnError(
                f"{hook} returned {problem}. It must return {expected}: see "
                "its entry in the hook reference (sessionstore.hookspecs) and the kit's "
                "test_hooks_return_the_documented_types"
            )
        if hook == "sessionstore_list":
            problem = cursor_problem(value, arguments)
            if problem is not None:
                raise HookReturnError(
                    f"{hook} returned {problem} (see the kit's "
                    "test_list_pages_have_no_duplicates_or_gaps)"
                )
        return value

    return checked


def check_returns(storage: Storage) -> Storage:
    """Make ``storage`` fail a test, naming the hook and the type it must return,
    whenever a hook returns something else."""
    if not getattr(storage, CHECKED, False):
        for attribute, (hook, check, expected) in CHECKS.items():
            call = getattr(storage, attribute)
            setattr(storage, attribute, _checked(call, hook, check, expected))
        for optional in OPTIONAL_CHECKS:
            caller = getattr(storage._hook, optional[0])
            # Without one, Storage answers itself (sweep 0, describe {}).
            if caller.get_hookimpls():
                checked = _checked(caller, *optional)  # its __wrapped__ is the HookCaller
                setattr(storage._hook, caller.name, checked)  # in place of the HookCaller
        setattr(storage, CHECKED, True)
    return storage
