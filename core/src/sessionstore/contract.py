"""The backend contract: a backend fits it if pluggy validates its hooks against
:mod:`sessionstore.hookspecs` and every required hook is a coroutine function."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import pluggy

from sessionstore import hookspecs
from sessionstore.errors import BackendLoadError

if TYPE_CHECKING:
    from sessionstore.registry import BackendInfo

HOOK_NAMES = tuple(name for name in vars(hookspecs) if name.startswith("sessionstore_"))
"""Every hook of the contract."""
OPTIONAL_HOOKS = ("sessionstore_close", "sessionstore_sweep", "sessionstore_describe")
"""Hooks a backend may leave out; it must implement every other one."""


def plugin_manager(plugin: object, info: BackendInfo) -> pluggy.PluginManager:
    """A new plugin manager holding just ``plugin`` (a backend class or instance),
    after checking it implements every hook, each as a coroutine function."""
    manager = pluggy.PluginManager("sessionstore")
    manager.add_hookspecs(hookspecs)
    try:
        manager.register(plugin, name=info.name)
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        problem = str(error)
    else:
        problem = _contract_problems(manager)
    if problem:
        raise BackendLoadError(
            f"backend {info.name!r} from {info.distribution} {info.version} does not fit the "
            f"sessionstore hook contract: {problem}",
            backend=info.name,
            distribution=info.distribution,
        )
    return manager


def _contract_problems(manager: pluggy.PluginManager) -> str:
    """Every missing required hook and every hook that is not an ``async def``,
    named at once (``""`` if none): an unfinished backend is fixed in one pass."""
    missing, not_async = [], []
    for hook_name in HOOK_NAMES:
        impls = getattr(manager.hook, hook_name).get_hookimpls()
        if not impls and hook_name not in OPTIONAL_HOOKS:
            missing.append(hook_name)
        elif not all(inspect.iscoroutinefunction(impl.function) for impl in impls):
            not_async.append(hook_name)
    problems = []
    if missing:
        problems.append(f"it does not implement {', '.join(missing)}")
    if not_async:
        verb = "is" if len(not_async) == 1 else "are"
        problems.append(f"its {', '.join(not_async)} {verb} not an async def")
    return "; ".join(problems)
