"""A tour of sessionstore on the default backend (local files), start to finish.

Run it with ``python3 dev.py demo``. It writes under a temporary folder and
removes it at the end; pass a folder to keep the files and look at them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio

from sessionstore import ConflictError, SessionStore


async def tour(root: Path) -> None:
    # No backend named: the default is the file backend ("sessions" bucket).
    async with SessionStore(root=root) as store:
        print(f"store: {store!r}, files under {root}")

        meta = await store.store_session("chat-42", {"user": "ada", "turns": []})
        print(f"stored chat-42 (version {meta.version}, {meta.size} bytes)")
        print("loaded:", await store.load_session("chat-42"))

        await store.store_session("chat-42", {"step": 1, "notes": "draft"}, "checkpoint-001.json")
        await store.store_session("chat-43", {"user": "grace", "turns": []})
        print("sessions:", await store.list_sessions())
        print("files of chat-42:", await store.list_files("chat-42"))

        def add_turn(state: dict[str, Any] | None) -> dict[str, Any]:
            state = state or {"turns": []}
            state["turns"].append("hello")
            return state

        print("updated:", await store.update_session("chat-42", add_turn))

        try:
            await store.store_session("chat-42", {"stale": True}, if_match=meta.version)
        except ConflictError as error:
            print(f"stale write refused: {error}")

        metadata = await store.get_session_metadata("chat-42")
        assert metadata is not None
        print(f"metadata: size={metadata['size']} modified={metadata.modified.isoformat()}")

        print("deleted chat-42:", await store.delete_session("chat-42"))
        print("sessions now:", await store.list_sessions())
        print("chat-42 exists:", await store.session_exists("chat-42"))

        await store.store_session("chat-44", {"user": "alan"}, ttl=timedelta(hours=2))
        expiring = await store.get_session_metadata("chat-44", full=True)
        assert expiring is not None
        print(f"chat-44 expires at {expiring.expires_at}")


def command_line(root: Path) -> None:
    """The same sessions, seen from the ``sessionstore`` command."""
    url = f"file://{root}"
    for command in (["ls", "--long"], ["show", "chat-44"], ["purge", "--dry-run"]):
        print(f"\n$ sessionstore {' '.join(command)} --url {url}", flush=True)
        subprocess.run([sys.executable, "-m", "sessionstore", *command, "--url", url], check=True)


def main() -> None:
    if len(sys.argv) > 1:
        anyio.run(tour, Path(sys.argv[1]))
        command_line(Path(sys.argv[1]))
        return
    with tempfile.TemporaryDirectory(prefix="sessionstore-demo-") as folder:
        anyio.run(tour, Path(folder))
        command_line(Path(folder))


if __name__ == "__main__":
    main()
