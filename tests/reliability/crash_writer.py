"""The writers the crash campaign kills, and the schedule they follow.

Run as a script (``python crash_writer.py ROOT``), this is a fork server: it
imports sessionstore once, prints ``ready``, then obeys its stdin, a command a
line:

- ``go FIRST LOOP`` forks a writer that opens a file store at ``ROOT`` on the
  ``LOOP`` event loop (``asyncio`` or ``trio``), prints ``open``, and performs
  step after step from ``FIRST``, printing each step's number once its write has
  returned;
- ``kill`` SIGKILLs that writer, reaps it and prints ``dead STATUS``.

The fork server and its writers share stdout, so every step a writer printed comes
before its ``dead`` line. The parent imports the same schedule to know what each
file may hold after the kill: the state of the last acknowledged write to it, or
of the write in flight.

Steps cycle through three writes: a session's state, that session's checkpoint,
and the first state of a brand-new session (create-only, so a new folder).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any

SESSIONS = 4
"""Sessions overwritten in turn; every third step creates a new one besides."""
CHECKPOINT = "checkpoint.json"
STATE = "state.json"


def target(step: int) -> tuple[str, str]:
    """The session and file that ``step`` writes."""
    kind = step % 3
    if kind == 2:
        return f"new-{step:07}", STATE
    return f"s{(step // 3) % SESSIONS}", STATE if kind == 0 else CHECKPOINT


def creates(step: int) -> bool:
    """Whether ``step`` creates its session (``create_only``)."""
    return step % 3 == 2


def state(step: int) -> dict[str, Any]:
    """What ``step`` writes: 0-20 kB, so a torn file cannot pass for a whole one."""
    return {"step": step, "pad": "x" * (step * 7919 % 20_000), "tail": list(range(step % 64))}


def _write_forever(root: str, first: int, loop: str) -> None:
    import anyio

    from sessionstore import SessionStore

    async def main() -> None:
        async with SessionStore(backend="file", root=root) as store:
            os.write(1, b"open\n")
            step = first
            while True:
                session, filename = target(step)
                await store.store_session(session, state(step), filename, create_only=creates(step))
                os.write(1, b"%d\n" % step)
                step += 1

    anyio.run(main, backend=loop)


def _serve(root: str) -> None:
    # Import everything a writer needs before forking: a fork costs milliseconds.
    import anyio

    from sessionstore import SessionStore

    SessionStore(backend="file", root=root)
    for loop in ("asyncio", "trio"):
        anyio.run(anyio.sleep, 0, backend=loop)
    os.write(1, b"ready\n")
    writer = 0
    for line in sys.stdin:
        command, *args = line.split()
        if command == "go":
            writer = os.fork()
            if writer == 0:
                try:
                    _write_forever(root, int(args[0]), args[1])
                except BaseException:
                    traceback.print_exc()
                os._exit(1)
        elif command == "kill":
            os.kill(writer, signal.SIGKILL)
            _, status = os.waitpid(writer, 0)
            os.write(1, b"dead %d\n" % status)


if __name__ == "__main__":
    _serve(sys.argv[1])
