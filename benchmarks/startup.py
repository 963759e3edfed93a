"""Start-up: ``import sessionstore`` + ``available_backends()`` with 50 dummy backend
distributions installed, against a bare ``import anyio``, each in a fresh interpreter.

The dummies are ``.dist-info`` folders with a ``sessionstore.backends`` entry point
and a module that would show up in ``sys.modules`` if anything imported it, put on
the child's ``sys.path`` through ``PYTHONPATH``.

Imports are timed with bytecode caches in place, as after ``pip install`` (which
compiles them): the first, untimed round writes any that are missing, even where
``PYTHONDONTWRITEBYTECODE`` is set (it is on some machines, and compiling every
module on each start would be timed instead of importing it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.figures import Results
from benchmarks.measure import median
from benchmarks.profiles import Profile

DUMMIES = 50
MODULE_PREFIX = "bench_dummy_backend_"

CHILD = """
import json, sys, time
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "listed": listed,
    "imported": sorted(m for m in sys.modules if m.startswith({prefix!r}))}}))
"""
WITH_PLUGINS = """
import sessionstore
listed = sum(1 for b in sessionstore.available_backends() if b.name.startswith("dummy"))
"""
BARE = """
import anyio
listed = 0
"""


def make_dummies(site: Path, count: int = DUMMIES) -> None:
    """``count`` installed-looking distributions, each declaring one backend."""
    site.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        module = f"{MODULE_PREFIX}{index:02}"
        dist = site / f"{module}-1.0.dist-info"
        dist.mkdir(exist_ok=True)
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n",
            encoding="utf-8",
        )
        (dist / "entry_points.txt").write_text(
            f"[sessionstore.backends]\ndummy{index:02} = {module}:Backend\n", encoding="utf-8"
        )
        (site / f"{module}.py").write_text("class Backend:\n    pass\n", encoding="utf-8")


def _child(body: str, site: Path) -> dict[str, object]:
    environment = {**os.environ, "PYTHONPATH": os.fspath(site)}
    environment.pop("SESSIONSTORE_DISABLE_BACKENDS", None)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    code = CHILD.format(body=body, prefix=MODULE_PREFIX)
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run(results: Results, profile: Profile, scratch: Path) -> None:
    site = scratch / "site"
    make_dummies(site)
    timings: dict[str, list[float]] = {"plugins": [], "bare": []}
    listed, imported = 0, 0
    for index in range(profile.startup_runs + 1):
        order = ("plugins", "bare") if index % 2 else ("bare", "plugins")
        for name in order:
            outcome = _child(WITH_PLUGINS if name == "plugins" else BARE, site)
            if index == 0:
                continue  # warms the file system and bytecode caches for both
            timings[name].append(float(outcome["seconds"]))  # type: ignore[arg-type]
            if name == "plugins":
                listed = int(outcome["listed"])  # type: ignore[call-overload]
                imported = max(imported, len(outcome["imported"]))  # type: ignore[arg-type]
    extra = [p - b for p, b in zip(timings["plugins"], timings["bare"], strict=True)]
    ratios = [p / b for p, b in zip(timings["plugins"], timings["bare"], strict=True)]
    results.record("startup.extra", median(extra) * 1e3)
    results.record("startup.ratio", median(ratios))
    results.record("startup.dummies_imported", imported)
    results.record("startup.dummies_listed", listed)
