"""The report renderer turns a figures file into the expected markdown, whatever
figures each campaign recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability import report

RECORDS = [
    {"campaign": "crash", "case": "file: SIGKILL x 2", "kills": 2, "torn": 0, "seconds": 0.5},
    {"campaign": "faults", "case": "refuse | upload", "outcome": "StorageUnavailableError"},
    {"campaign": "crash", "case": "file: SIGKILL x 3", "kills": 3, "torn": 0, "lost": 0},
    {"campaign": "faults", "case": "stall", "outcome": "timeout", "hung": False, "ops": [1, 2]},
]

EXPECTED = """\
# Reliability

<!-- Written by tests/reliability/report.py (python3 dev.py reliability): do not edit by hand. -->

Figures of the last full run of the reliability campaigns in `tests/reliability`. \
Each campaign is also in the default test suite in a reduced form; the full run adds \
`--run-slow`.

- **Date:** 2026-11-25 10:00 UTC
- **Command:** `python3 dev.py reliability`
- **Tests:** 7 passed, 1 failed, 2 skipped
- **Cases recorded:** 4 in 2 campaigns

## Totals

| campaign | cases | totals |
|---|---|---|
| crash | 2 | kills 5, torn 0, lost 0 |
| faults | 2 |  |

## crash

| case | kills | torn | seconds | lost |
|---|---|---|---|---|
| file: SIGKILL x 2 | 2 | 0 | 0.5 |  |
| file: SIGKILL x 3 | 3 | 0 |  | 0 |
| **total** | 5 | 0 |  | 0 |

## faults

| case | outcome | hung | ops |
|---|---|---|---|
| refuse \\| upload | StorageUnavailableError |  |  |
| stall | timeout | no | [1, 2] |
"""

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="2" tests="10">
</testsuite></testsuites>
"""


def test_figures_file_becomes_one_table_per_campaign(tmp_path: Path) -> None:
    figures = tmp_path / "figures.jsonl"
    figures.write_text("".join(json.dumps(record) + "\n" for record in RECORDS) + "\n")
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    output = tmp_path / "reliability.md"
    argv = [str(figures), str(output), "--command", "python3 dev.py reliability"]
    assert report.main([*argv, "--junit", str(junit), "--date", "2026-11-25 10:00 UTC"]) == 0
    assert output.read_text() == EXPECTED


def test_a_line_that_is_not_a_record_is_refused(tmp_path: Path) -> None:
    figures = tmp_path / "figures.jsonl"
    figures.write_text('{"campaign": "crash", "case": "a"}\n{"case": "no campaign"}\n')
    with pytest.raises(ValueError, match=r"figures\.jsonl:2"):
        report.read_figures(figures)
