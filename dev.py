#!/usr/bin/env python3
"""Project tasks that work on a fresh clone with nothing but python3 and pip.

    python3 dev.py demo      run the demo on the default (file) backend
    python3 dev.py test      lint, type-check and run the whole test suite
    python3 dev.py test -k memory --run-slow   (arguments after "test" go to pytest)

Everything is installed inside the clone: uv in .cache/tools, the workspace in
.venv (resolved as of the date pinned in pyproject.toml).
"""

from __future__ import annotations

import os
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


def sync() -> str:
    """Install every workspace distribution and the dev tools into .venv."""
    tool = uv()
    os.environ.setdefault("UV_PYTHON", sys.executable)
    run(tool, "sync", "--all-packages", "--quiet")
    return tool


def demo(args: list[str]) -> None:
    tool = sync()
    run(tool, "run", "--no-sync", "python", "examples/demo.py", *args)


def test(args: list[str]) -> None:
    tool = sync()
    run(tool, "run", "--no-sync", "ruff", "check", ".")
    run(tool, "run", "--no-sync", "ruff", "format", "--check", ".")
    run(tool, "run", "--no-sync", "mypy")
    run(tool, "run", "--no-sync", "pytest", *args)


TASKS = {"demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    TASKS[sys.argv[1]](sys.argv[2:])
