"""Backend discovery through entry points: lazy listing, loading, broken and disabled plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from sessionstore import (
    BackendLoadError,
    BackendNotFoundError,
    SessionStore,
    available_backends,
)
from sessionstore.cli import cli
from sessionstore.registry import ENV_DISABLE, FIRST_PARTY, _not_found_message, load_backend

InstallPlugin = Callable[..., str]


def by_name(name: str) -> dict[str, object]:
    infos = {info.name: info for info in available_backends()}
    return {"status": infos[name].status, "distribution": infos[name].distribution}


def test_listing_reads_metadata_without_importing(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    module = install_plugin("lazy", working_backend, distribution="lazy-dist")
    infos = {info.name: info for info in available_backends()}
    assert infos["lazy"].distribution == "lazy-dist"
    assert infos["lazy"].version == "1.2.3"
    assert infos["lazy"].status == "installed"
    assert module not in sys.modules
    assert {"memory", "file"} <= set(infos)


def test_listing_and_creating_a_store_parse_no_distribution_metadata() -> None:
    """Parsing metadata imports the email parser: a third of listing 50 backends'
    start-up. Only asking for a distribution or version does it (in a fresh
    interpreter, as at start-up)."""
    script = """
import sys
import sessionstore
infos = {info.name: info for info in sessionstore.available_backends()}
sessionstore.SessionStore(backend="memory")
print("email.parser" in sys.modules)
print(infos["memory"].distribution, infos["memory"].version)
print("email.parser" in sys.modules)
print(repr(infos["memory"]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    parsed_before, distribution, parsed_after, shown = done.stdout.splitlines()
    assert parsed_before == "False"
    assert distribution.startswith("sessionstore-memory ")
    assert parsed_after == "True"
    assert "distribution='sessionstore-memory'" in shown


async def test_a_store_imports_only_its_backend(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    used = install_plugin("used", working_backend)
    unused = install_plugin("unused", working_backend)
    store = SessionStore(backend="used", bucket="sessions", greeting="hello")
    assert used in sys.modules
    assert unused not in sys.modules
    await store.store_session("a", {"x": 1})
    assert await store.load_session("a") == {"x": 1}


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "async def sessionstore_delete(self, bucket, paths, if_match):",
            "async def sessionstore_delete(self, bucket, paths):",
            "its sessionstore_delete does not take if_match",
        ),
        (
            "async def sessionstore_delete(self, bucket, paths, if_match):",
            "async def sessionstore_delete(self, bucket, paths, if_match=None):",
            "its sessionstore_delete gives if_match a default, so pluggy never passes it",
        ),
        (
            "async def sessionstore_upload(self, bucket, path, data, if_match, create_only):",
            "async def sessionstore_upload(self, path, data, **options):",
            "its sessionstore_upload does not take bucket, if_match, create_only",
        ),
    ],
    ids=["left out", "with a default", "in **kwargs"],
)
def test_a_hook_leaving_out_parameters_of_its_spec_is_refused(
    install_plugin: InstallPlugin, working_backend: str, old: str, new: str, problem: str
) -> None:
    """pluggy lets an implementation take some of its spec's parameters, and passes
    none with a default: a delete without ``if_match`` deleted unconditionally."""
    source = working_backend.replace(old, new)
    assert source != working_backend
    install_plugin("partial", source, distribution="partial-dist")
    with pytest.raises(BackendLoadError, match="partial-dist") as caught:
        load_backend("partial")
    assert problem in str(caught.value)
    assert str(caught.value).endswith(
        "a hook takes every parameter of its spec, none with a default"
    )


def test_a_hook_without_hookimpl_is_refused(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    """An optional hook left unmarked was never called (a close leaking clients),
    and a required one was reported as not implemented, though it is there."""
    source = working_backend.replace(
        "@hookimpl\n        async def sessionstore_stat", "async def sessionstore_stat"
    ) + (
        "\n        async def sessionstore_close(self):"
        "\n            raise RuntimeError('never called')\n"
    )
    install_plugin("unmarked", source)
    with pytest.raises(BackendLoadError) as caught:
        load_backend("unmarked")
    assert str(caught.value).endswith(
        "its sessionstore_stat, sessionstore_close are not marked @hookimpl "
        "(pluggy calls only marked hooks)"
    )


def test_a_misspelt_hook_without_hookimpl_is_refused(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    """Marked, pluggy refuses a name the contract lacks; unmarked, a misspelt close
    was silently never called."""
    source = working_backend + (
        "\n        async def sessionstore_closee(self):"
        "\n            raise RuntimeError('never called')\n"
    )
    install_plugin("misspelt", source)
    with pytest.raises(BackendLoadError) as caught:
        load_backend("misspelt")
    assert str(caught.value).endswith(
        "its sessionstore_closee is no hook of the contract (misspelt?)"
    )


def test_broken_plugin_is_reported_and_others_still_work(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    install_plugin("broken", "raise RuntimeError('boom at import')", distribution="broken-dist")
    install_plugin("fine", working_backend)
    infos = {info.name: info for info in available_backends(check=True)}
    assert infos["broken"].status == "broken"
    assert "broken-dist" in (infos["broken"].error or "")
    assert "boom at import" in (infos["broken"].error or "")
    assert infos["fine"].status == "ok"
    assert infos["memory"].status == "ok"
    with pytest.raises(BackendLoadError, match="broken-dist") as caught:
        SessionStore(backend="broken")
    assert caught.value.distribution == "broken-dist"
    assert isinstance(caught.value.__cause__, RuntimeError)
    SessionStore(backend="fine")


@pytest.mark.parametrize(
    ("metadata", "distribution", "version"),
    [
        (None, "<unknown>", "<unknown>"),
        ("Metadata-Version: 2.1\nVersion: 2.0\n", "<unknown>", "2.0"),
    ],
    ids=["no METADATA file", "no Name field"],
)
async def test_a_distribution_with_broken_metadata_is_listed_and_loads(
    install_plugin: InstallPlugin,
    working_backend: str,
    tmp_path: Path,
    metadata: str | None,
    distribution: str,
    version: str,
) -> None:
    """Regression: one distribution without (complete) metadata made listing raise,
    for every backend."""
    install_plugin("damaged", working_backend, distribution="damaged-dist")
    install_plugin("fine", working_backend, distribution="fine-dist")
    damaged = tmp_path / "site" / "damaged_dist-1.2.3.dist-info" / "METADATA"
    if metadata is None:
        damaged.unlink()
    else:
        damaged.write_text(metadata)
    infos = {info.name: info for info in available_backends()}
    assert (infos["damaged"].distribution, infos["damaged"].version) == (distribution, version)
    assert (infos["fine"].distribution, infos["fine"].version) == ("fine-dist", "1.2.3")
    assert {"memory", "file"} <= set(infos)
    store = SessionStore(backend="damaged", bucket="sessions")
    await store.store_session("a", {"x": 1})
    assert await store.load_session("a") == {"x": 1}


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("async def sessionstore_exists", "def sessionstore_exists", "is not an async def"),
        ("async def sessionstore_list", "async def sessionstore_lst", "sessionstore_lst"),
        ("bucket, paths, if_match", "bucket, paths, if_match, force", "force"),
        ("class Backend:", "Backend = 42\n    class Other:", "must name a class"),
    ],
)
def test_plugin_that_breaks_the_contract_is_refused(
    install_plugin: InstallPlugin, working_backend: str, old: str, new: str, problem: str
) -> None:
    install_plugin("bad", working_backend.replace(old, new), distribution="bad-dist")
    with pytest.raises(BackendLoadError, match="bad-dist") as caught:
        load_backend("bad")
    assert problem in str(caught.value)
    infos = {info.name: info for info in available_backends(check=True)}
    assert infos["bad"].status == "broken"


def test_missing_hook_is_refused(install_plugin: InstallPlugin, working_backend: str) -> None:
    source = working_backend.replace(
        "@hookimpl\n        async def sessionstore_stat", "async def x"
    )
    install_plugin("partial", source)
    with pytest.raises(BackendLoadError, match="does not implement sessionstore_stat"):
        load_backend("partial")


def test_every_contract_problem_is_named_at_once(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    """An unfinished backend learns all it lacks from one error, not one per fix."""
    source = (
        working_backend.replace("@hookimpl\n        async def sessionstore_stat", "async def x")
        .replace("@hookimpl\n        async def sessionstore_delete", "async def y")
        .replace("async def sessionstore_exists", "def sessionstore_exists")
        .replace("async def sessionstore_list", "def sessionstore_list")
    )
    install_plugin("unfinished", source)
    with pytest.raises(BackendLoadError) as caught:
        load_backend("unfinished")
    assert str(caught.value).endswith(
        "it does not implement sessionstore_stat, sessionstore_delete; "
        "its sessionstore_exists, sessionstore_list are not an async def"
    )


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_missing_first_party_backend_names_the_pip_command(name: str) -> None:
    # Every first-party backend is installed in this workspace, so ask for the
    # message as it reads where one is not.
    message = _not_found_message(name, frozenset())
    assert f"pip install sessionstore-{name}" in message
    assert f"no sessionstore backend named {name!r}" in message


@pytest.mark.parametrize("backend", [5, b"memory"])
def test_a_backend_that_is_not_a_string_is_a_type_error(backend: object) -> None:
    """It raised AttributeError: 'int' object has no attribute 'lower'."""
    with pytest.raises(TypeError, match=f"backend must be a str .*, got {type(backend).__name__}"):
        SessionStore(backend=backend)  # type: ignore[arg-type]


def test_unknown_backend_lists_the_installed_ones() -> None:
    with pytest.raises(
        BackendNotFoundError, match="no sessionstore backend named 'nope'"
    ) as caught:
        SessionStore(backend="nope")
    message = str(caught.value)
    assert "installed: " in message
    assert "file" in message
    assert "memory" in message
    assert "pip install sessionstore-<" in message
    assert isinstance(caught.value, ValueError)


def test_disable_without_uninstalling(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = install_plugin("noisy", "raise SystemError('never import me')")
    monkeypatch.setenv(ENV_DISABLE, " noisy , other")
    infos = {info.name: info for info in available_backends(check=True)}
    assert infos["noisy"].status == "disabled"
    assert module not in sys.modules
    with pytest.raises(BackendNotFoundError, match=ENV_DISABLE):
        SessionStore(backend="noisy")


@pytest.mark.parametrize(
    ("name", "listed"), [("noisy", " NOISY ,other"), ("noisy", "Noisy"), ("Loud", "loud, other")]
)
def test_disabling_ignores_case_and_spaces(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch, name: str, listed: str
) -> None:
    """A name is disabled in any case, as a URL's scheme names a backend in any case
    (SESSIONSTORE_DISABLE_BACKENDS=S3 disables s3)."""
    module = install_plugin(name, "raise SystemError('never import me')")
    monkeypatch.setenv(ENV_DISABLE, listed)
    infos = {info.name: info for info in available_backends(check=True)}
    assert infos[name].status == "disabled"
    assert module not in sys.modules
    with pytest.raises(BackendNotFoundError, match=ENV_DISABLE):
        load_backend(name)


def test_a_backend_is_named_in_any_case_and_reported_as_it_spells_itself(
    install_plugin: InstallPlugin, working_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a URL's scheme is read in any case (MEMORY:// is memory://), so are
    --backend and SESSIONSTORE_BACKEND; and a backend named with capitals can be
    reached from a URL at all."""
    install_plugin("MixedCase", working_backend)
    assert SessionStore(backend="MEMORY").backend == "memory"
    assert SessionStore.from_url("mixedcase://").backend == "MixedCase"
    monkeypatch.setenv("SESSIONSTORE_BACKEND", "File")
    assert SessionStore().settings.backend == "file"
    monkeypatch.setenv(ENV_DISABLE, "memory")
    with pytest.raises(BackendNotFoundError, match=ENV_DISABLE):
        SessionStore(backend="Memory")


def test_a_backend_spelt_exactly_wins_over_one_in_another_case(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    install_plugin("twin", working_backend, distribution="lower-twin")
    install_plugin("TWIN", working_backend, distribution="upper-twin")
    assert load_backend("TWIN")[0].distribution == "upper-twin"
    assert load_backend("twin")[0].distribution == "lower-twin"


def test_two_distributions_claiming_one_name(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    install_plugin("twin", working_backend, distribution="twin-a")
    install_plugin("twin", working_backend, distribution="twin-b")
    with pytest.raises(BackendLoadError, match="twin-a, twin-b"):
        load_backend("twin")


def test_the_backends_command_says_why_a_plugin_is_broken(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    install_plugin("broken", "raise RuntimeError('boom at import')", distribution="broken-dist")
    install_plugin("fine", working_backend)
    runner = CliRunner()
    listed = runner.invoke(cli, ["backends", "--json"])
    backends = {info["name"]: info for info in json.loads(listed.stdout)["backends"]}
    assert backends["broken"]["status"] == "broken"
    assert backends["broken"]["distribution"] == "broken-dist"
    assert backends["broken"]["version"] == "1.2.3"
    assert "boom at import" in backends["broken"]["error"]
    assert backends["fine"]["status"] == "ok"
    # doctor warns about it (exit 0: the store in use works) and says what to do.
    doctor = runner.invoke(cli, ["doctor", "--json", "--backend", "memory"])
    assert doctor.exit_code == 0, doctor.stdout
    plugins = json.loads(doctor.stdout)["checks"][0]
    assert plugins["status"] == "warn"
    assert "boom at import" in plugins["detail"]
    assert "SESSIONSTORE_DISABLE_BACKENDS" in plugins["fix"]
    # Using it is a usage error naming the distribution to fix.
    used = runner.invoke(cli, ["ls", "--backend", "broken"])
    assert used.exit_code == 2
    assert "broken-dist" in used.stderr


def test_the_backends_table_prints_plugin_metadata_as_it_is(
    install_plugin: InstallPlugin, working_backend: str
) -> None:
    """A distribution's name and version come from its metadata, not from us: the
    table must print them, not read them as rich markup (which dropped ``[red]``)."""
    install_plugin("odd", working_backend, distribution="[red]odd-dist")
    table = CliRunner().invoke(cli, ["backends"], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "[red]odd-dist" in table.stdout


def test_the_backends_table_prints_a_long_problem_whole(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns the PROBLEM cell was cut with an ellipsis, mid module name.
    Piped (as here), a table's lines are neither cut nor wrapped, whatever
    ``COLUMNS`` says (tests/cli/test_output.py checks a terminal's wrapping)."""
    module = "sessionstore_missing_module_with_a_long_name_" + "x" * 30
    install_plugin("gone", f"import {module}")
    monkeypatch.setenv("COLUMNS", "80")
    table = CliRunner().invoke(cli, ["backends"])
    assert table.exit_code == 0, table.output
    assert "…" not in table.stdout
    [line] = [line for line in table.stdout.splitlines() if line.startswith("gone")]
    assert module in line
