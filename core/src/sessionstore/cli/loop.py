"""Runs a command's coroutine on an event loop of its own, Ctrl-C included."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar, cast

import anyio

from sessionstore.cli.failures import INTERRUPTED

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main``; Ctrl-C cancels it, so it winds down (a purge still names what it
    deleted) before KeyboardInterrupt is raised here, and a second Ctrl-C exits at once.

    Ctrl-C is taken as a signal, not as a KeyboardInterrupt raised wherever the
    loop happens to be: that would stop the loop before anyio stops its worker
    threads, and the process would hang at exit.
    """
    if threading.current_thread() is not threading.main_thread():
        return anyio.run(main)  # signals reach the main thread only

    async def until_ctrl_c() -> tuple[T | None, bool]:
        result = failed = None
        command = anyio.CancelScope()
        with anyio.open_signal_receiver(signal.SIGINT) as presses:
            async with anyio.create_task_group() as tasks:

                async def cancel_on_ctrl_c() -> None:
                    async for _ in presses:
                        if command.cancel_called:
                            _exit_at_once()
                        command.cancel()

                tasks.start_soon(cancel_on_ctrl_c)
                with command:
                    try:
                        result = await main()
                    except anyio.get_cancelled_exc_class():
                        raise
                    except BaseException as error:  # raised as itself, not in a group
                        failed = error
                tasks.cancel_scope.cancel()
        if failed is not None:
            raise failed
        return result, command.cancelled_caught  # not by a Ctrl-C after it finished

    result, interrupted = anyio.run(until_ctrl_c)
    if interrupted:
        raise KeyboardInterrupt
    return cast(T, result)


def _exit_at_once() -> NoReturn:
    """A second Ctrl-C: leave without waiting for the command to wind down."""
    sys.stdout.flush()
    print("sessionstore: interrupted again: exiting at once", file=sys.stderr, flush=True)
    os._exit(INTERRUPTED)
