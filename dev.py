#!/usr/bin/env python3
"""Project tasks that work on a fresh clone with nothing but python3, pip, node and npm.

    python3 dev.py demo      run the demo on the default (file) backend
    python3 dev.py test      lint, type-check, build the docs and run every test,
                             storage emulators included
    python3 dev.py test -k memory --run-slow   (arguments after "test" go to pytest)
    python3 dev.py bench     run the benchmarks (a few minutes): writes
                             benchmarks/results.json and docs/benchmarks.md;
                             --smoke is the tiny run CI does (into .cache/)

Everything is installed inside the clone: uv in .cache/tools, the workspace (and
the example sqlite backend, as a third party would install it) in .venv, resolved
as of the date pinned in pyproject.toml; Azurite in node_modules from the lock file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".cache" / "tools"
UV_VERSION = "0.13.8"


def run(*command: str) -> None:
    print("+", " ".join(command), flush=True)
    completed = subprocess.run(command, cwd=ROOT, check=False)
    if completed.returncode:
        sys.exit(completed.returncode)


def uv() -> str:
    """The path of a uv pinned for this project, installed on first use."""
    bindir = TOOLS / ("Scripts" if os.name == "nt" else "bin")
    exe = bindir / "uv"
    if not exe.exists():
        venv.create(TOOLS, with_pip=True, clear=True)
        run(str(bindir / "python"), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    return str(exe)


def sync(*groups: str) -> str:
    """Install every workspace distribution and the dev tools into .venv."""
    tool = uv()
    os.environ.setdefault("UV_PYTHON", sys.executable)
    run(tool, "sync", "--all-packages", "--quiet", *(f"--group={group}" for group in groups))
    return tool


def install_emulators() -> None:
    """Azurite (Azure's storage emulator) comes from npm, pinned by package-lock.json.
    Without npm the Azure tests skip locally; in CI they fail instead."""
    npm = shutil.which("npm")
    if npm is None:
        print("npm not found: the Azure tests will skip (install node and npm to run them)")
        return
    installed = ROOT / "node_modules" / ".package-lock.json"
    lock = ROOT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")


def demo(args: list[str]) -> None:
    tool = sync()
    run(tool, "run", "--no-sync", "python", "examples/demo.py", *args)


def test(args: list[str]) -> None:
    tool = sync("docs")
    # The example backend is not a workspace member: install it as its users would.
    run(tool, "pip", "install", "--quiet", "--python", ".venv", "./examples/sessionstore-sqlite")
    install_emulators()
    run(tool, "run", "--no-sync", "ruff", "check", ".")
    run(tool, "run", "--no-sync", "ruff", "format", "--check", ".")
    run(tool, "run", "--no-sync", "mypy")
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    run(tool, "run", "--no-sync", "mkdocs", "build", "--strict", "--quiet")
    run(tool, "run", "--no-sync", "pytest", *args)


def bench(args: list[str]) -> None:
    tool = sync()
    install_emulators()
    run(tool, "run", "--no-sync", "python", "-m", "benchmarks", *args)


TASKS = {"demo": demo, "test": test, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    TASKS[sys.argv[1]](sys.argv[2:])
