"""States that are not JSON are refused with SerializationError before any write:
on every backend, through store_session and update_session, the version stored
before stays byte for byte what it was."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sessionstore import SerializationError
from tests.reliability.conftest import Figures
from tests.reliability.targets import BACKENDS, Target, target_fixture


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    yield from target_fixture(request, tmp_path)


def _cycle() -> dict[str, Any]:
    state: dict[str, Any] = {"a": []}
    state["a"].append(state)
    return state


def _self_cycle() -> dict[str, Any]:
    state: dict[str, Any] = {}
    state["me"] = state
    return state


def _deep(levels: int, container: Callable[[Any], Any]) -> dict[str, Any]:
    value: Any = 0
    for _ in range(levels):
        value = container(value)
    return {"deep": value}


@dataclass
class Custom:
    x: int


BAD_STATES: dict[str, Callable[[], Any]] = {
    "set": lambda: {"s": {1, 2}},
    "frozenset": lambda: {"s": frozenset()},
    "bytes": lambda: {"b": b"\x00\xff"},
    "bytearray": lambda: {"b": bytearray(b"x")},
    "nan": lambda: {"n": math.nan},
    "inf": lambda: {"n": [math.inf]},
    "-inf": lambda: {"n": {"m": -math.inf}},
    "nan beside a big int": lambda: {"big": 2**70, "n": math.nan},
    "dict cycle": _cycle,
    "self cycle": lambda: _self_cycle(),
    "100k nested lists": lambda: _deep(100_000, lambda v: [v]),
    "100k nested dicts": lambda: _deep(100_000, lambda v: {"x": v}),
    "int key": lambda: {"d": {1: "a"}},
    "None key": lambda: {"d": {None: "a"}},
    "tuple key": lambda: {"d": {(1, 2): "a"}},
    "top-level int key": lambda: {1: "a"},
    "object": lambda: {"o": object()},
    "dataclass": lambda: {"o": Custom(1)},
    "datetime": lambda: {"t": datetime.now(timezone.utc)},
    "complex": lambda: {"c": 1j},
    "list state": lambda: [1, 2],
    "None state": lambda: None,
}


def _returning(state: Any) -> Callable[[Any], Any]:
    return lambda _current: state


async def test_unserialisable_states_write_nothing(target: Target, figures: Figures) -> None:
    """Each bad state raises SerializationError from store_session, from
    update_session, and as a new checkpoint; the stored file keeps its bytes."""
    store = target.make_store()
    async with store:
        await store.store_session("s1", {"version": 1})
        path = "s1/state.json"
        before = await target.read(path)
        assert before is not None
        for make in BAD_STATES.values():
            with pytest.raises(SerializationError):
                await store.store_session("s1", make())
            with pytest.raises(SerializationError):
                await store.update_session("s1", _returning(make()))
            with pytest.raises(SerializationError):
                await store.store_session("s1", make(), "checkpoint.json", create_only=True)
        # Any write would have changed the bytes (the envelope's stored_at at least).
        assert await target.read(path) == before
        assert await target.names() == [path]
        assert await store.load_session("s1") == {"version": 1}
    for case in BAD_STATES:
        figures.record(
            "serialisation", f"{target.kind} {case}", outcome="SerializationError", written=0
        )
