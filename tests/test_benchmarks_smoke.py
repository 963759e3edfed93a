"""The benchmark harness never rots: its smoke run reports every figure, and the
committed results and page are what the harness writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.figures import CATALOG, CLOUDS
from benchmarks.report import render_markdown

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
PAGE = ROOT / "docs" / "benchmarks.md"


def test_smoke_run_reports_every_figure(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    document = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    rows = {row["key"]: row for row in document["figures"]}
    assert list(rows) == [spec.key for spec in CATALOG]
    unmeasured = {key: row["skipped"] for key, row in rows.items() if row["value"] is None}
    # Without an emulator (no node, say) its figures are skipped locally; the run
    # itself fails in CI, like the tests.
    cloud = (*(f"{name}." for name in CLOUDS), "trio_vs_asyncio.s3.")
    if os.environ.get("CI") == "true":
        assert not unmeasured
    else:
        assert all(key.startswith(cloud) for key in unmeasured), unmeasured
    assert (tmp_path / "benchmarks.md").read_text(encoding="utf-8") == render_markdown(document)


def test_committed_results_match_the_catalog_and_the_page() -> None:
    """``benchmarks/results.json`` is a full run of this harness, and
    ``docs/benchmarks.md`` is generated from it, not edited: rerun
    ``python3 dev.py bench`` after changing the catalog or the page's layout."""
    document = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert document["conditions"]["profile"] == "full"
    assert [row["key"] for row in document["figures"]] == [spec.key for spec in CATALOG]
    assert PAGE.read_text(encoding="utf-8") == render_markdown(document)
