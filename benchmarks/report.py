"""Writing a run's figures: ``results.json`` and the page ``docs/benchmarks.md``."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from benchmarks.figures import CATALOG, RATE, TIME, Results
from benchmarks.findings import why
from benchmarks.profiles import LOOPS, Profile


def conditions(
    profile: Profile, started: datetime, load_before: tuple[float, ...]
) -> dict[str, Any]:
    """What the run ran on: the figures are ratios, but the machine's load still matters."""
    return {
        "profile": profile.name,
        "settings": attrs.asdict(profile),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "command": " ".join(["python3 dev.py bench", *sys.argv[1:]]),
    }


def write_json(path: Path, results: Results, meta: dict[str, Any]) -> None:
    document = {"conditions": meta, "figures": results.as_json()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


HEADER = """\
# Benchmarks

!!! note "Generated: do not edit"
    This page is written by `python3 dev.py bench` (from `benchmarks/results.json`),
    like the figures themselves. Change the harness in `benchmarks/`, then run it again.

**Run:** {profile} profile, started {started}, Python {python} ({implementation})
on {platform}, {cpus} CPUs; load average {load_before} before and {load_after}
after.
The machine was shared with other jobs while it ran, so only ratios are reported
(library against a baseline measured in the same run, the two interleaved round by
round, the median of the per-round ratios); the two goals the issue states in time
(memory store + load, first page of the memory backend) and start-up are the
exceptions, and say so.

**How to read a row:** `{rate}` is the library's throughput divided by the
baseline's (higher is better); `{time}` is the library's time divided by the
baseline's (lower is better). Where a row has two values, they are asyncio / trio.
*met* compares the figure with the goal of issue #8; rows without a goal are there
to be watched. The scale section's trees hold {sizes} sessions (small, medium,
large); concurrency runs {local} tasks on the file and memory backends and {cloud}
on each emulator: stores of distinct sessions, then update_session increments with
ten tasks per session, each against the same operations done one after another.

Listing pages are **ordered** on every backend (ascending by `"<id>/"`), so the file
backend's first page costs a full directory scan; its goal is therefore at most 1.2 times a
full scan + sort, not the 5 ms of an unordered page.
"""


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("hops", "requests", "count", "sessions"):
        return f"{value:g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _by_figure(rows: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Rows grouped by figure: the asyncio and trio rows of one figure together."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        stem, _, loop = row["key"].rpartition(".")
        groups.setdefault(f"{stem}.*" if loop in LOOPS else row["key"], []).append(row)
    return [(group[0]["title"], key, group) for key, group in groups.items()]


def _verdict(group: list[dict[str, Any]]) -> str:
    met = [row["met"] for row in group]
    if False not in met:
        return "yes" if True in met else ""
    if len(group) == 1 or True not in met:
        return "**no**"
    return (
        "**no** ("
        + ", ".join(row["key"].rpartition(".")[2] for row in group if row["met"] is False)
        + ")"
    )


def render_markdown(document: dict[str, Any]) -> str:
    meta = document["conditions"]
    extra = meta["settings"]
    lines = [
        HEADER.format(
            profile=meta["profile"],
            started=meta["started"],
            python=meta["python"],
            implementation=meta["implementation"],
            platform=meta["platform"],
            cpus=meta["cpus"],
            load_before=", ".join(map(str, meta["load_average_before"])),
            load_after=", ".join(map(str, meta["load_average_after"])),
            sizes=" / ".join(f"{size:,}" for size in extra["scale_sizes"]),
            local=f"{extra['concurrent_local']:,}",
            cloud=f"{extra['concurrent_cloud']:,}",
            rate=RATE,
            time=TIME,
        )
    ]
    rows = document["figures"]
    met = sum(1 for row in rows if row["met"] is True)
    missed = [row for row in rows if row["met"] is False]
    goals = sum(1 for row in rows if row["goal"] is not None)
    skipped = sum(1 for row in rows if row["value"] is None)
    lines.append(
        f"**Summary:** {met} of {goals} goals met, {len(missed)} missed"
        + (f", {skipped} figures not measured" if skipped else "")
        + ".\n"
    )
    section = None
    for title, key, group in _by_figure(rows):
        first = group[0]
        if first["section"] != section:
            section = first["section"]
            lines += [
                f"\n## {section}\n",
                "| figure | key | value | unit | goal | met |",
                "|---|---|---:|---|---|---|",
            ]
        values = " / ".join(
            f"- ({row['skipped']})" if row["skipped"] else _format(row["value"], row["unit"])
            for row in group
        )
        lines.append(
            f"| {title} | `{key}` | {values} | {first['unit']} | "
            f"{first['goal'] or ''} | {_verdict(group)} |"
        )
    reasons: dict[str, list[str]] = {}
    for row in missed:
        reason = why(row["key"])
        if reason is not None:
            reasons.setdefault(reason, []).append(row["key"])
    if reasons:
        lines.append("\n## Why goals are missed\n")
        for reason, keys in reasons.items():
            lines.append(f"- {', '.join(f'`{key}`' for key in keys)}: {reason}")
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(document), encoding="utf-8")


def check_catalog(document: dict[str, Any]) -> list[str]:
    """Keys of the catalog the document lacks (empty when complete)."""
    present = {row["key"] for row in document["figures"]}
    return [spec.key for spec in CATALOG if spec.key not in present]
