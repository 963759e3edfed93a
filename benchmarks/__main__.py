"""``python -m benchmarks [--smoke] [--out DIR] [--docs FILE] [--only SECTION ...] [--render]``

The full run writes ``benchmarks/results.json`` and ``docs/benchmarks.md``; the smoke
run writes both into ``.cache/benchmarks-smoke/`` unless told where.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import report, sections
from benchmarks.figures import Results
from benchmarks.profiles import FULL, SMOKE

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 dev.py bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: checks the harness")
    parser.add_argument("--out", type=Path, help="folder for results.json")
    parser.add_argument("--docs", type=Path, help="the markdown page to write")
    parser.add_argument(
        "--only", nargs="+", choices=list(sections.SECTIONS), help="run only these sections"
    )
    parser.add_argument(
        "--render", action="store_true", help="only write the page again from results.json"
    )
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    default_out = ROOT / ".cache" / "benchmarks-smoke" if args.smoke else ROOT / "benchmarks"
    out: Path = args.out or default_out
    docs: Path = args.docs or (out / "benchmarks.md" if args.smoke else ROOT / "docs/benchmarks.md")

    if args.render:
        document = json.loads((out / "results.json").read_text(encoding="utf-8"))
        report.write_markdown(docs, document)
        print(f"wrote {docs}")
        return 0

    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    results = Results()
    with tempfile.TemporaryDirectory(prefix="sessionstore-bench-") as scratch:
        for name in args.only or sections.SECTIONS:
            print(f"== {name}", flush=True)
            began = time.perf_counter()
            sections.SECTIONS[name](results, profile, Path(scratch) / name)
            print(f"   ({time.perf_counter() - began:.1f} s)", flush=True)

    meta = report.conditions(profile, started, load_before)
    report.write_json(out / "results.json", results, meta)
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    report.write_markdown(docs, document)
    print(f"wrote {out / 'results.json'} and {docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
