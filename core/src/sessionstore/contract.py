"""The backend contract: a backend fits it if pluggy validates its hooks against
:mod:`sessionstore.hookspecs`, every required hook is a coroutine function, each
hook takes every parameter of its spec, and no hook lacks its ``@hookimpl``."""

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
        problem = _contract_problems(manager, plugin)
    if problem:
        raise BackendLoadError(
            f"backend {info.name!r} from {info.distribution} {info.version} does not fit the "
            f"sessionstore hook contract: {problem}",
            backend=info.name,
            distribution=info.distribution,
        )
    return manager


def _contract_problems(manager: pluggy.PluginManager, plugin: object) -> str:
    """Every contract problem pluggy lets through, named at once (``""`` if none):
    an unfinished backend is fixed in one pass."""
    missing, unmarked, not_async, partial = [], [], [], []
    for hook_name in HOOK_NAMES:
        caller = getattr(manager.hook, hook_name)
        impls = caller.get_hookimpls()
        if not impls and callable(getattr(plugin, hook_name, None)):
            unmarked.append(hook_name)
        elif not impls and hook_name not in OPTIONAL_HOOKS:
            missing.append(hook_name)
        elif not all(inspect.iscoroutinefunction(impl.function) for impl in impls):
            not_async.append(hook_name)
        partial.extend(_untaken_parameters(hook_name, caller, impls))
    # A marked hook the contract lacks is pluggy's error; an unmarked one is ignored.
    unknown = sorted(
        name
        for name in dir(plugin)
        if name.startswith("sessionstore_")
        and name not in HOOK_NAMES
        and callable(getattr(plugin, name, None))
    )
    problems = []
    if missing:
        problems.append(f"it does not implement {', '.join(missing)}")
    if not_async:
        verb = "is" if len(not_async) == 1 else "are"
        problems.append(f"its {', '.join(not_async)} {verb} not an async def")
    if unmarked:
        verb = "is" if len(unmarked) == 1 else "are"
        names = ", ".join(unmarked)
        problems.append(f"its {names} {verb} not marked @hookimpl (pluggy calls only marked hooks)")
    if unknown:
        verb = "is" if len(unknown) == 1 else "are"
        problems.append(f"its {', '.join(unknown)} {verb} no hook of the contract (misspelt?)")
    if partial:
        partial[-1] += ": a hook takes every parameter of its spec, none with a default"
    return "; ".join(problems + partial)


def _untaken_parameters(
    hook_name: str, caller: pluggy.HookCaller, impls: list[pluggy.HookImpl]
) -> list[str]:
    """A problem for each implementation leaving out parameters of its spec. pluggy
    allows it, and passes nothing to a parameter with a default, but a hook
    ignoring ``if_match`` or ``bucket`` silently breaks conditional writes or
    mixes buckets: every parameter carries part of the request."""
    spec_names = caller.spec.argnames if caller.spec is not None else ()
    problems = []
    for impl in impls:
        untaken = [name for name in spec_names if name not in impl.argnames]
        defaulted = [name for name in untaken if name in impl.kwargnames]
        if defaulted:
            names = ", ".join(defaulted)
            problems.append(f"its {hook_name} gives {names} a default, so pluggy never passes it")
        absent = [name for name in untaken if name not in defaulted]
        if absent:
            problems.append(f"its {hook_name} does not take {', '.join(absent)}")
    return problems
