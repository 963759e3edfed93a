"""Render the figures of a reliability run as ``docs/reliability.md``.

The campaigns record one JSON line per case (``{"campaign": ..., "case": ...,
<figure>: <value>, ...}``, see ``conftest.py``). The report is generic: one table
per campaign, in the order campaigns first appear, with a column per figure any
of its cases recorded (in the order they first appear) and a total row summing the
integer columns. It uses the standard library only, so ``dev.py`` runs it as is::

    python3 tests/reliability/report.py FIGURES OUTPUT --command CMD [--junit XML]
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

Record = Mapping[str, Any]


def read_figures(path: Path) -> list[dict[str, Any]]:
    """The records of a figures file, in the order they were written."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            record = json.loads(line)
            if not isinstance(record, dict) or "campaign" not in record or "case" not in record:
                raise ValueError(f"{path}:{number}: not a figures record: {line!r}")
            records.append(record)
    return records


def read_outcome(junit: Path) -> dict[str, int]:
    """How many tests passed, failed (errors included) and were skipped, from a
    JUnit XML file written by ``pytest --junitxml``."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    root = ET.parse(junit).getroot()
    for suite in root.iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
    failed = counts["failures"] + counts["errors"]
    return {
        "passed": counts["tests"] - failed - counts["skipped"],
        "failed": failed,
        "skipped": counts["skipped"],
    }


def render(
    records: Sequence[Record],
    *,
    date: str,
    command: str,
    outcome: Mapping[str, int] | None = None,
    notes: Iterable[str] = (),
) -> str:
    """The report's markdown: the run's facts, a totals table, then one table per
    campaign."""
    campaigns: dict[str, list[Record]] = {}
    for record in records:
        campaigns.setdefault(str(record["campaign"]), []).append(record)
    lines = [
        "# Reliability",
        "",
        "<!-- Written by tests/reliability/report.py (python3 dev.py reliability): "
        "do not edit by hand. -->",
        "",
        "Figures of the last full run of the reliability campaigns in "
        "`tests/reliability`. Each campaign is also in the default test suite in a "
        "reduced form; the full run adds `--run-slow`.",
        "",
        f"- **Date:** {date}",
        f"- **Command:** `{command}`",
    ]
    if outcome is not None:
        tests = ", ".join(f"{count} {state}" for state, count in outcome.items())
        lines.append(f"- **Tests:** {tests}")
    lines.append(f"- **Cases recorded:** {len(records)} in {len(campaigns)} campaigns")
    lines += [f"- {note}" for note in notes]
    lines += ["", "## Totals", ""]
    lines += _table(
        ["campaign", "cases", "totals"],
        [
            [name, len(cases), ", ".join(f"{key} {_cell(value)}" for key, value in _totals(cases))]
            for name, cases in campaigns.items()
        ],
    )
    for name, cases in campaigns.items():
        columns = _columns(cases)
        rows: list[list[Any]] = [[case.get(column) for column in columns] for case in cases]
        totals = dict(_totals(cases))
        if len(cases) > 1 and totals:
            rows.append(["**total**", *(totals.get(column) for column in columns[1:])])
        lines += ["", f"## {name}", "", *_table(columns, rows)]
    return "\n".join(lines) + "\n"


def _columns(cases: Iterable[Record]) -> list[str]:
    """``case`` then every other figure, in the order they first appear."""
    columns = {"case": None}
    for case in cases:
        columns.update((key, None) for key in case if key != "campaign")
    return list(columns)


def _totals(cases: Sequence[Record]) -> list[tuple[str, int]]:
    """The sum of every column that holds integers (not booleans) only."""
    totals = []
    for column in _columns(cases)[1:]:
        values = [case[column] for case in cases if column in case]
        if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            totals.append((column, sum(values)))
    return totals


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = [_row(columns), "|" + "---|" * len(columns)]
    lines += [_row([_cell(value) for value in row]) for row in rows]
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figures", type=Path, help="the JSON lines the campaigns recorded")
    parser.add_argument("output", type=Path, help="the markdown file to write")
    parser.add_argument("--command", required=True, help="the command that ran the campaigns")
    parser.add_argument("--junit", type=Path, help="pytest's JUnit XML of the same run")
    parser.add_argument("--date", help="when the run started (default: now, UTC)")
    parser.add_argument("--note", action="append", default=[], help="a line to add to the facts")
    args = parser.parse_args(argv)
    date = args.date or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    outcome = read_outcome(args.junit) if args.junit else None
    text = render(
        read_figures(args.figures),
        date=date,
        command=args.command,
        outcome=outcome,
        notes=args.note,
    )
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
