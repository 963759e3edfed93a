"""The states the benchmarks store, and what they share: a thread-hop counter and the
raw file operations the file backend is compared with."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import orjson

SMALL = 2 * 1024
LARGE = 1024 * 1024


def make_state(size: int) -> dict[str, Any]:
    """A chat-like session state whose JSON is about ``size`` bytes (a little more),
    with the mix of strings, numbers and nulls real states have."""
    turns: list[dict[str, Any]] = []
    state: dict[str, Any] = {"user": "ada", "step": 0, "flags": {"beta": True}, "turns": turns}
    while (current := len(orjson.dumps(state))) < size:
        # Add about half of what is missing (at least one turn) before measuring again.
        average = (current - 60) / len(turns) if turns else 100
        for _ in range(max(1, int((size - current) / average / 2))):
            index = len(turns)
            turns.append(
                {
                    "role": "user" if index % 2 else "assistant",
                    "text": f"message {index}: " + "lorem ipsum dolor sit amet " * 2,
                    "tokens": [index, index * 7 % 101, 3.25],
                    "reply_to": index - 1 if index % 2 else None,
                }
            )
    return state


@contextlib.contextmanager
def count_thread_hops() -> Iterator[list[int]]:
    """Count calls of ``anyio.to_thread.run_sync`` (what every offload goes through)
    while the block runs; the count is ``counter[0]``."""
    counter = [0]
    original = anyio.to_thread.run_sync

    async def counting(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return await original(function, *args, **kwargs)

    anyio.to_thread.run_sync = counting  # type: ignore[assignment]
    try:
        yield counter
    finally:
        anyio.to_thread.run_sync = original


def durable_write(directory: str, name: str, data: bytes) -> None:
    """The raw durable write: temporary file, fsync, rename, fsync of the directory."""
    temp = os.path.join(directory, f".tmp-{name}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, os.path.join(directory, name))
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_and_decode(path: str) -> Any:
    """The raw read: ``open().read()`` and a JSON decode."""
    with open(path, "rb") as file:
        return orjson.loads(file.read())
