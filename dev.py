#!/usr/bin/env python3
"""Project tasks that work on a fresh clone with nothing but python3, pip, node and npm.

    python3 dev.py demo      run the demo on the default (file) backend
    python3 dev.py test      lint, type-check, build the docs and run every test,
                             storage emulators included
    python3 dev.py test -k memory --run-slow   (arguments after "test" go to pytest;
                             in CI, the full crash campaign too if the file backend
                             changed since docs/reliability.md was written)
    python3 dev.py test --python /path/to/python3.13 [pytest arguments]   the same on
                             another interpreter, in .cache/venv-3.13 (.venv untouched)
    python3 dev.py reliability   run the full reliability campaigns (tests/reliability
                                 with --run-slow, emulators included) and write their
                                 figures to docs/reliability.md
    python3 dev.py bench     run the benchmarks (a few minutes): writes
                             benchmarks/results.json and docs/benchmarks.md;
                             --smoke is the tiny run CI does (into .cache/)

Everything is installed inside the clone: uv in .cache/tools, the workspace (and
the example sqlite backend, as a third party would install it) in .venv, resolved
as of the date pinned in pyproject.toml; Azurite in node_modules from the lock file.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import venv
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RELIABILITY_REPORT = ROOT / "docs" / "reliability.md"
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


def environment() -> str:
    """The environment the tasks install into and run in: .venv, or the one that
    :func:`use_python` chose."""
    return os.environ.get("UV_PROJECT_ENVIRONMENT", ".venv")


def use_python(args: list[str]) -> list[str]:
    """``args`` without a leading ``--python PATH``; given one, the task runs on that
    interpreter in an environment of its own, .cache/venv-X.Y, and .venv is left as
    it is (to try a Python the project supports but CI does not run)."""
    if args[:1] != ["--python"]:
        return args
    if len(args) < 2:
        sys.exit("--python needs an interpreter: --python /path/to/python3.13")
    python = shutil.which(args[1]) or args[1]
    try:
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"--python {args[1]}: not a Python interpreter ({error})")
    os.environ["UV_PYTHON"] = python
    os.environ["UV_PROJECT_ENVIRONMENT"] = str(TOOLS.parent / f"venv-{version}")
    print(f"Python {version} ({python}) in {os.environ['UV_PROJECT_ENVIRONMENT']}", flush=True)
    return args[2:]


def sync(*groups: str) -> str:
    """Install every workspace distribution and the dev tools into .venv (or the
    environment that :func:`use_python` chose)."""
    tool = uv()
    os.environ.setdefault("UV_PYTHON", sys.executable)
    # --inexact: keep what another task installed (the docs tools, the example backend).
    run(
        tool,
        "sync",
        "--all-packages",
        "--inexact",
        "--quiet",
        *(f"--group={group}" for group in groups),
    )
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
    args = use_python(args)
    tool = sync("docs")
    # The example backend is not a workspace member: install it as its users would.
    run(
        tool,
        "pip",
        "install",
        "--quiet",
        "--python",
        environment(),
        "./examples/sessionstore-sqlite",
    )
    install_emulators()
    run(tool, "run", "--no-sync", "ruff", "check", ".")
    run(tool, "run", "--no-sync", "ruff", "format", "--check", ".")
    run(tool, "run", "--no-sync", "mypy")
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    run(tool, "run", "--no-sync", "mkdocs", "build", "--strict", "--quiet")
    run(tool, "run", "--no-sync", "pytest", *args)
    if (
        os.environ.get("CI") == "true"
        and file_backend_digest() not in RELIABILITY_REPORT.read_text()
    ):
        # The crash figures in the report were measured on other file-backend code:
        # CI runs the full SIGKILL campaign until the report is regenerated.
        print("the file backend changed since docs/reliability.md: the full crash campaign")
        run(
            tool,
            "run",
            "--no-sync",
            "pytest",
            "--run-slow",
            "-q",
            "tests/reliability/test_crash.py",
        )


def file_backend_digest() -> str:
    """A SHA-256 of the file backend's sources, recorded in the reliability report."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "plugins" / "file" / "src").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def reliability(args: list[str]) -> None:
    """Run every reliability campaign in full and write docs/reliability.md from the
    figures they record. The report is written even when a test fails (it says
    so), then the exit status is pytest's."""
    tool = sync("docs")  # keep the docs tools: the report is a page of the site
    install_emulators()
    started = datetime.now(timezone.utc)
    runs = ROOT / ".cache" / "reliability"
    runs.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    figures, junit = runs / f"figures-{stamp}.jsonl", runs / f"junit-{stamp}.xml"
    figures.touch()
    pytest_args = ["tests/reliability", "--run-slow", *args]
    # A storage server that cannot start must fail the run, not skip its campaigns.
    env = {**os.environ, "SESSIONSTORE_FIGURES": str(figures), "CI": "true"}
    command = [tool, "run", "--no-sync", "pytest", *pytest_args, f"--junitxml={junit}"]
    print("+", " ".join(command), flush=True)
    status = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    minutes = (datetime.now(timezone.utc) - started).total_seconds() / 60
    note = (
        f"**Ran:** `pytest {' '.join(pytest_args)}` in {minutes:.1f} min, Python "
        f"{platform.python_version()} on {platform.system()} {platform.machine()}"
    )
    digest = (
        f"**File backend:** sources digest `{file_backend_digest()}`; CI runs the full "
        "crash campaign whenever `plugins/file/src` no longer matches it"
    )
    report = [sys.executable, "tests/reliability/report.py", str(figures), "docs/reliability.md"]
    report += ["--command", " ".join(["python3 dev.py reliability", *args])]
    report += ["--date", started.strftime("%Y-%m-%d %H:%M UTC"), "--note", note, "--note", digest]
    if junit.exists():  # not if pytest stopped before running anything
        report += ["--junit", str(junit)]
    run(*report)
    print(f"wrote docs/reliability.md from {figures.relative_to(ROOT)}")
    sys.exit(status)


def bench(args: list[str]) -> None:
    """Run the benchmarks; they write benchmarks/results.json and docs/benchmarks.md."""
    tool = sync("docs")  # keep the docs tools: the results are a page of the site
    install_emulators()
    run(tool, "run", "--no-sync", "python", "-m", "benchmarks", *args)


TASKS = {"demo": demo, "test": test, "reliability": reliability, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    TASKS[sys.argv[1]](sys.argv[2:])
