"""The documentation keeps up with the code: every hook and every public name is
documented, and the site's navigation points at pages that exist.

The strict site build (``uv run --no-sync mkdocs build --strict``) checks links and
rendering; these tests are the fast part, run with the rest of the suite.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sessionstore
from sessionstore import hookspecs
from sessionstore.contract import HOOK_NAMES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
WRITING_A_BACKEND = DOCS / "writing-a-backend.md"


def docs_text() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in sorted(DOCS.rglob("*.md")))


def nav_pages() -> list[str]:
    """The pages named in ``mkdocs.yml``'s ``nav`` (read without a YAML parser,
    which the test environment need not have)."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = re.search(r"^nav:\n((?:[ \t]+.*\n|\n)+)", config, re.MULTILINE)
    assert nav, "mkdocs.yml has no nav section"
    return re.findall(r"([\w./-]+\.md)\s*$", nav.group(1), re.MULTILINE)


def test_hooks_exist() -> None:
    assert len(HOOK_NAMES) >= 7, HOOK_NAMES


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_has_a_docstring(hook: str) -> None:
    """The hook's docstring is its contract, and the source of its reference docs."""
    assert (inspect.getdoc(getattr(hookspecs, hook)) or "").strip(), (
        f"{hook} in sessionstore/hookspecs.py has no docstring: write its contract there"
    )


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_is_in_the_hook_reference(hook: str) -> None:
    text = WRITING_A_BACKEND.read_text(encoding="utf-8")
    directive = f"::: sessionstore.hookspecs.{hook}"
    assert re.search(rf"^{re.escape(directive)}\s*$", text, re.MULTILINE), (
        f"{hook} is not in the hook reference: add the line `{directive}` to "
        f"{WRITING_A_BACKEND.relative_to(ROOT)} (and a row to its 'called by' table)"
    )


@pytest.mark.parametrize("name", sessionstore.__all__)
def test_every_public_name_is_documented(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", docs_text()), (
        f"sessionstore.{name} is public but no page under docs/ mentions it: "
        f"document it (at least in docs/api.md)"
    )


def test_nav_pages_exist() -> None:
    pages = nav_pages()
    assert pages, "found no pages in mkdocs.yml's nav"
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml's nav names pages missing from docs/: {missing}"


def test_the_example_backend_runs_its_tests_as_its_readme_says() -> None:
    """``python -m pytest examples/sessionstore-sqlite`` from the repository root, in
    an environment with only the example's ``[test]`` extra: the repository's own
    pytest settings (which name pytest-timeout's ``timeout``) must not apply, or
    pytest stops with "Unknown config option". ``-p no:timeout`` stands in for that
    environment."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:timeout", "-p", "no:cacheprovider"),
            *("-q", "examples/sessionstore-sqlite", "-k", "test_entry_point_loads_the_backend"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def code_blocks(page: Path, language: str) -> list[str]:
    """The code blocks of ``page`` in ``language``, as written."""
    text = page.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def guide_blocks(language: str) -> list[str]:
    """The code blocks of the backend guide in ``language``, as written."""
    return code_blocks(WRITING_A_BACKEND, language)


def documented_errors(block: str) -> str:
    """``block`` with each statement followed by a ``# SomeError: message`` comment
    (the docs showing what it raises) turned into a check that it raises exactly
    that: the error, and the message as printed."""

    def expect(match: re.Match[str]) -> str:
        statement, error, message = match.groups()
        return (
            f"try:\n    {statement}\nexcept sessionstore.{error} as error:\n"
            f"    assert str(error) == {message!r}, str(error)\n"
            f"else:\n    raise AssertionError({statement!r} + ' did not raise {error}')"
        )

    expected = re.sub(r"^(\S.*)\n# (\w+Error): (.+)$", expect, block, flags=re.MULTILINE)
    return expected if expected == block else "import sessionstore\n" + expected


def example_program(page: str, loop: str) -> str:
    """The Python examples of ``page`` as one program on event loop ``loop``: a
    page whose example is a whole program, as written; otherwise its blocks in
    order, in the body of ``main`` (they use ``await`` at top level), with
    ``store`` defined as their text assumes."""
    blocks = code_blocks(ROOT / page, "python")
    assert blocks, f"{page} has no Python example any more"
    if any("anyio.run(main" in block for block in blocks):
        (program,) = blocks
        return program.replace("anyio.run(main)", f"anyio.run(main, backend={loop!r})")
    body = "\n".join(documented_errors(block) for block in blocks if "session_buddy" not in block)
    if " as store:" not in body:  # the page speaks of a store made earlier
        body = "from sessionstore import SessionStore\n\nstore = SessionStore()\n" + body
    return (
        "import anyio\n\n\nasync def main():\n"
        + textwrap.indent(body, "    ")
        + f"\n\nanyio.run(main, backend={loop!r})\n"
    )


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
@pytest.mark.parametrize(
    "page",
    [
        "README.md",
        "core/README.md",
        "docs/index.md",
        "docs/using-sessions.md",
        "docs/configuration.md",
        "docs/errors.md",
        "docs/backends.md",
    ],
)
def test_the_examples_run_as_written(page: str, loop: str, tmp_path: Path) -> None:
    """A newcomer pastes them: every call exists with the arguments shown, and
    nothing raises (the README's stale-version write once ended in a ConflictError
    traceback)."""
    script = tmp_path / "example.py"
    script.write_text(example_program(page, loop), encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONSTORE_")}
    environment["SESSIONSTORE_FILE_ROOT"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{page}'s examples failed:\n{done.stderr[-3000:]}"


def test_the_guide_s_backend_passes_the_kit_as_the_guide_runs_it(
    pytester: pytest.Pytester,
) -> None:
    """Copy-paste the guide: its pyproject's entry point, its backend class, its kit
    test file and its override example, installed as a distribution, pass the kit."""
    pyproject = next(block for block in guide_blocks("toml") if "[project]" in block)
    distribution = re.search(r'^name = "(.+)"$', pyproject, re.MULTILINE)
    entry_point = re.search(r'^(\w+) = "(\w+):(\w+)"$', pyproject, re.MULTILINE)
    assert distribution, "the guide's pyproject.toml lost its name"
    assert entry_point, "the guide's pyproject.toml lost its entry point"
    backend_name, module, _ = entry_point.groups()
    python = guide_blocks("python")
    backend = next(block for block in python if "@hookimpl" in block and "class " in block)
    kit = next(block for block in python if block.startswith("# tests/test_kit.py"))
    override = next(block for block in python if "@override(" in block)
    # The override example is written for a backend called "tiny".
    override = override.replace('backend="tiny"', f'backend="{backend_name}"')
    pytester.makepyfile(**{module: backend, "test_kit": kit, "test_override": override})
    info = pytester.mkdir(f"{module}-0.1.0.dist-info")
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution.group(1)}\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[sessionstore.backends]\n{entry_point.group(0).replace(chr(34), '')}\n"
    )
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-k", "not 10MB")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes.get("passed", 0) > 100


def test_the_clock_tip_works_after_a_bare_import() -> None:
    """The tip read ``monkeypatch.setattr(sessionstore.clock, "now", fake)``: after a
    bare ``import sessionstore`` an AttributeError, since names are imported lazily
    and ``clock`` is none of them."""
    text = (DOCS / "using-sessions.md").read_text(encoding="utf-8")
    (tip,) = re.findall(r"`(monkeypatch\.setattr\(.*?\))`", text, re.DOTALL)
    program = (
        "import pytest\nimport sessionstore\n\n"
        "monkeypatch = pytest.MonkeyPatch()\nfake = lambda: 'then'\n"
        f"{tip.replace(chr(10), ' ')}\n"
        "from sessionstore import clock\nassert clock.now() == 'then'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
