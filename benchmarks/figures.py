"""Every figure a run reports, with its goal from issue #8, and the results of a run.

The catalog is fixed: a run reports each figure (or says why it could not), so the
smoke test can check that none went missing.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs

from benchmarks.profiles import LOOPS
from sessionstore.bulk import DEFAULT_CONCURRENCY, PAGE_SIZE

RATE = "\N{MULTIPLICATION SIGN} ops/s"
"""Unit of a throughput ratio: the library's ops/s ÷ the baseline's (higher is better)."""
TIME = "\N{MULTIPLICATION SIGN} time"
"""Unit of a time ratio: the library's time ÷ the baseline's (lower is better)."""
MEMORY = "\N{MULTIPLICATION SIGN} bytes"
CLOUDS = ("s3", "gcs", "azure")
PURGE_LATENCY_MS = 20
"""Added to each request for the purge figure: a cloud round trip from outside the
provider's region (the emulators answer in well under 1 ms)."""
LOCAL = ("file", "memory")
SIZES = ("small", "medium", "large")
"""The three session counts of the scale figures (1k, 10k, 100k in the full run)."""
ROUND_TRIP_GOALS: dict[str, float | None] = {
    "load": 1,
    "store": 1,
    "conditional_store": 1,
    "exists": 1,
    "metadata": 1,
    "list_page": 1,
    "delete_session_5_files": 2,
    "update_session": 2,
}


@attrs.frozen
class Goal:
    op: Literal["<=", ">="]
    limit: float

    def met(self, value: float) -> bool:
        return value <= self.limit if self.op == "<=" else value >= self.limit

    def __str__(self) -> str:
        return f"{'≤' if self.op == '<=' else '≥'} {self.limit:g}"


def at_most(limit: float) -> Goal:
    return Goal("<=", limit)


def at_least(limit: float) -> Goal:
    return Goal(">=", limit)


@attrs.frozen
class Spec:
    key: str
    section: str
    title: str
    unit: str
    goal: Goal | None = None


def _catalog() -> list[Spec]:
    specs: list[Spec] = []

    def add(key: str, section: str, title: str, unit: str, goal: Goal | None = None) -> None:
        specs.append(Spec(key, section, title, unit, goal))

    for loop in LOOPS:
        section = "Overhead over raw storage"
        add(
            f"file.store.one_task.{loop}",
            section,
            "file store_session (durable), 1 task ÷ raw durable write through one thread hop",
            RATE,
            at_least(0.90),
        )
        add(
            f"file.store.sixteen_tasks.{loop}",
            section,
            "file store_session, 16 tasks ÷ plain synchronous raw durable write",
            RATE,
            at_least(1.2),
        )
        add(
            f"file.store.sixteen_tasks.raw_hops.{loop}",
            section,
            "raw durable write through one thread hop each, 16 tasks ÷ plain synchronous "
            "raw durable write (what offloading leaves a library)",
            RATE,
        )
        add(
            f"file.load.one_task.{loop}",
            section,
            "file load_session, 1 task ÷ raw read + decode through one thread hop",
            RATE,
            at_least(0.90),
        )
        for op, raw in (("store", "raw durable write"), ("load", "raw read + decode")):
            add(
                f"file.{op}.hook_alone.{loop}",
                section,
                f"the file backend's {op} hook alone (no store around it) ÷ {raw}, "
                "through one thread hop each",
                RATE,
            )
        add(f"file.hops.store.{loop}", section, "file: thread hops per store", "hops", at_most(1))
        add(f"file.hops.load.{loop}", section, "file: thread hops per load", "hops", at_most(1))
        add(
            f"memory.pair.ratio.{loop}",
            section,
            "memory store+load ÷ a dict of orjson bytes (dumps + loads)",
            RATE,
            at_least(0.4),
        )
        add(
            f"memory.pair.time.{loop}",
            section,
            "memory store+load pair (absolute: the one goal given in time)",
            "µs",
            at_most(20),
        )
        add(
            f"memory.hops.{loop}",
            section,
            "memory: thread hops per store+load",
            "hops",
            at_most(0),
        )
        for cloud in CLOUDS:
            add(
                f"{cloud}.store.{loop}",
                section,
                f"{cloud} store_session time ÷ the raw fsspec write on the same emulator",
                TIME,
                at_most(1.2),
            )
            add(
                f"{cloud}.load.{loop}",
                section,
                f"{cloud} load_session time ÷ the raw fsspec read + decode on the same emulator",
                TIME,
                at_most(1.2),
            )

    for cloud in CLOUDS:
        for operation, limit in ROUND_TRIP_GOALS.items():
            add(
                f"{cloud}.round_trips.{operation}",
                "Round trips per operation (counted at the server)",
                f"{cloud}: {operation.replace('_', ' ')}",
                "requests",
                None if limit is None else at_most(limit),
            )

    for loop in LOOPS:
        section = "Scale"
        add(
            f"file.list_all.{loop}",
            section,
            "file list_sessions of the large tree ÷ os.scandir of the same tree",
            TIME,
            at_most(1.5),
        )
        add(
            f"file.list_all.sorted_floor.{loop}",
            section,
            "os.scandir keeping directories, sorted ÷ os.scandir (an ordered listing's floor)",
            TIME,
        )
        add(
            f"memory.list_all.{loop}",
            section,
            "memory list_sessions of the large store ÷ sorting the ids of a dict",
            TIME,
        )
        for size in SIZES:
            add(
                f"file.first_page.{size}.{loop}",
                section,
                f"file first page of 100 ids, {size} tree ÷ full scan + sort (pages are ordered)",
                TIME,
                at_most(1.2) if size == "large" else None,
            )
        add(
            f"memory.first_page.flatness.{loop}",
            section,
            "memory first page of 100 ids: large store ÷ small store (flat in N)",
            TIME,
            at_most(2.0),
        )
        add(
            f"memory.first_page.time.{loop}",
            section,
            "memory first page of 100 ids in the large store (absolute)",
            "ms",
            at_most(5.0),
        )
        for backend in LOCAL:
            add(
                f"{backend}.iter_memory.flatness.{loop}",
                section,
                f"{backend} peak memory iterating iter_sessions: large ÷ medium (flat in N)",
                MEMORY,
                at_most(1.5),
            )
            add(
                f"{backend}.list_memory.per_id.{loop}",
                section,
                f"{backend} peak memory of list_sessions per id, large (grows with N)",
                "bytes",
            )
        add(
            f"file.iter_all.{loop}",
            section,
            f"file iter_sessions (pages of {PAGE_SIZE:,}) of the large tree ÷ list_sessions",
            TIME,
        )
        for backend in LOCAL:
            add(
                f"{backend}.purge.{loop}",
                section,
                f"{backend} purge_expired over the large tree ÷ raw read + decode of every "
                "state.json",
                TIME,
            )
            add(
                f"{backend}.purge.missed.{loop}",
                section,
                f"{backend} purge_expired: expired sessions left + live sessions deleted",
                "sessions",
                at_most(0),
            )

    for loop in LOOPS:
        section = "Concurrency"
        for backend in (*LOCAL, *CLOUDS):
            add(
                f"{backend}.concurrent_store.{loop}",
                section,
                f"{backend}: concurrent store_session tasks ÷ the same stores in sequence",
                RATE,
            )
            add(
                f"{backend}.concurrent_update.{loop}",
                section,
                f"{backend}: concurrent update_session tasks ÷ the same updates in sequence",
                RATE,
            )
            add(
                f"{backend}.concurrent.lost.{loop}",
                section,
                f"{backend}: failed tasks + lost writes + lost updates",
                "count",
                at_most(0),
            )
        for cloud in CLOUDS:
            add(
                f"{cloud}.purge_concurrency.{loop}",
                section,
                f"{cloud} purge_expired with {PURGE_LATENCY_MS} ms added to each request: "
                f"{DEFAULT_CONCURRENCY} sessions at a time (the default) ÷ one at a time",
                TIME,
            )

    section = "Event loops"
    for workload in ("file.store", "file.load", "memory.pair", "s3.load"):
        add(
            f"trio_vs_asyncio.{workload}",
            section,
            f"{workload}: trio ÷ asyncio",
            RATE,
            at_least(0.75),
        )

    section = "Start-up"
    add(
        "startup.extra",
        section,
        "import sessionstore + available_backends() with 50 dummy plugins, over bare import anyio",
        "ms",
        at_most(50),
    )
    add(
        "startup.ratio",
        section,
        "the same ÷ bare import anyio",
        TIME,
    )
    add("startup.dummies_imported", section, "dummy plugins imported", "count", at_most(0))
    add("startup.dummies_listed", section, "dummy plugins listed (of 50)", "count", at_least(50))

    section = "JSON codec"
    for key, size, limit in (("json.small", "2 KB", 5.0), ("json.large", "1 MB", 3.5)):
        add(
            key,
            section,
            f"codec encode + decode of a {size} state (with its envelope) ÷ stdlib json",
            RATE,
            at_least(limit),
        )
        add(
            f"{key}.bare",
            section,
            f"orjson.dumps + msgspec decode of the bare {size} state ÷ stdlib json "
            "(the codec's ceiling)",
            RATE,
        )
    for loop in LOOPS:
        add(
            f"json.large_off_loop.{loop}",
            section,
            "store_session of a 1 MB state: encodings run in a worker thread",
            "count",
            at_least(1),
        )
        add(
            f"json.offload_stall.{loop}",
            section,
            "longest event-loop stall while encoding 1 MB: in a worker thread ÷ on the loop",
            TIME,
        )
    return specs


CATALOG = _catalog()
SPECS = {spec.key: spec for spec in CATALOG}


@attrs.define
class Figure:
    value: float | None = None
    detail: str = ""
    skipped: str | None = None


class Results:
    """The figures of one run, filled in section by section."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}

    def record(self, key: str, value: float, detail: str = "") -> None:
        if key not in SPECS:
            raise KeyError(f"{key!r} is not in the catalog (benchmarks/figures.py)")
        if not math.isfinite(value):
            raise ValueError(f"{key}: {value!r} is not a finite number")
        self.figures[key] = Figure(value=float(value), detail=detail)
        spec = SPECS[key]
        verdict = "" if spec.goal is None else ("ok" if spec.goal.met(value) else "MISS")
        print(f"  {key:48} {value:10.3f} {spec.unit:8} {verdict} {detail}", flush=True)

    def skip(self, prefix: str, reason: str) -> None:
        """Mark every figure whose key starts with ``prefix`` as not measured."""
        for key in SPECS:
            if key.startswith(prefix) and key not in self.figures:
                self.figures[key] = Figure(skipped=reason)
        print(f"  {prefix}* skipped: {reason}", flush=True)

    def as_json(self) -> list[dict[str, Any]]:
        rows = []
        for spec in CATALOG:
            figure = self.figures.get(spec.key, Figure(skipped="not measured in this run"))
            rows.append(
                {
                    "key": spec.key,
                    "section": spec.section,
                    "title": spec.title,
                    "unit": spec.unit,
                    "value": figure.value,
                    "goal": None if spec.goal is None else str(spec.goal),
                    "met": None
                    if spec.goal is None or figure.value is None
                    else spec.goal.met(figure.value),
                    "detail": figure.detail,
                    "skipped": figure.skipped,
                }
            )
        return rows
