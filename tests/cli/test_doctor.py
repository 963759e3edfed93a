"""``sessionstore backends`` and ``sessionstore doctor``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Run

FIRST_PARTY = {"memory", "file", "s3", "gcs", "azure"}


def test_backends_lists_every_installed_plugin(run: Run) -> None:
    outcome = run("backends", "--json")
    assert outcome.exit_code == 0
    backends = {info["name"]: info for info in outcome.json()["backends"]}
    assert set(backends) >= FIRST_PARTY
    for name in FIRST_PARTY:
        assert backends[name]["distribution"] == f"sessionstore-{name}"
        assert backends[name]["status"] == "ok"
        assert backends[name]["error"] is None
    table = run("backends").stdout
    assert "sessionstore-s3" in table
    assert "DISTRIBUTION" in table


def test_backends_shows_disabled_ones_without_importing(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONSTORE_DISABLE_BACKENDS", "gcs")
    listed = {info["name"]: info["status"] for info in run("backends", "--json").json()["backends"]}
    assert listed["gcs"] == "disabled"
    unchecked = run("backends", "--no-check", "--json").json()["backends"]
    assert {info["status"] for info in unchecked} <= {"installed", "disabled"}


def test_doctor_on_a_working_store(run: Run, url: str, tmp_path: Path) -> None:
    outcome = run("doctor", "--json", "--url", url)
    assert outcome.exit_code == 0, outcome.stdout
    report = outcome.json()
    assert report["ok"] is True
    assert [(c["name"], c["status"]) for c in report["checks"]] == [
        ("plugins", "ok"),
        ("configuration", "ok"),
        ("connection", "ok"),
        ("permissions", "ok"),
    ]
    assert f"root={tmp_path / 'root'}" in report["checks"][1]["detail"]
    # The probe session is gone again.
    assert run("ls", "--url", url).stdout == ""
    human = run("doctor", "--url", url).stdout
    assert "✔ permissions: wrote, read back and deleted a probe session" in human


def test_doctor_shows_where_a_file_store_keeps_its_files(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONSTORE_FILE_ROOT", str(tmp_path / "from-env"))
    outcome = run("doctor", "--json", "--no-write", "--backend", "file", "--bucket", "app")
    assert outcome.exit_code == 0, outcome.stdout
    detail = outcome.json()["checks"][1]["detail"]
    root = tmp_path / "from-env"
    assert detail.endswith(f"; files in {root / 'app'} (root folder {root})")
    # A relative root, as the backend resolved it: absolute.
    monkeypatch.chdir(tmp_path)
    human = run("doctor", "--no-write", "--backend", "file", "-o", "root=rel").stdout
    assert f"files in {tmp_path / 'rel' / 'sessions'} (root folder {tmp_path / 'rel'})" in human
    # Other backends have no folder.
    memory = run("doctor", "--json", "--no-write", "--backend", "memory").json()
    assert "folder" not in memory["checks"][1]["detail"]


def test_doctor_hides_credentials_and_says_what_to_fix(run: Run) -> None:
    url = "s3://bucket?endpoint_url=http://127.0.0.1:9&key=AKIDEXAMPLE&secret=hunter2&retries=0"
    outcome = run("doctor", "--json", "--url", url)
    assert outcome.exit_code == 4
    checks = {check["name"]: check for check in outcome.json()["checks"]}
    assert "key=<hidden>" in checks["configuration"]["detail"]
    assert "endpoint_url=http://127.0.0.1:9" in checks["configuration"]["detail"]
    assert checks["connection"]["status"] == "fail"
    assert "check the endpoint" in checks["connection"]["fix"]
    assert "hunter2" not in outcome.stdout
    assert "AKIDEXAMPLE" not in outcome.stdout


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["--backend", "nosuch"], "`sessionstore backends` lists the installed backends"),
        (["--url", "file:///tmp/x?colour=blue"], None),
    ],
)
def test_doctor_on_a_bad_configuration(run: Run, args: list[str], fix: str | None) -> None:
    outcome = run("doctor", "--json", *args)
    assert outcome.exit_code == 2
    checks = {check["name"]: check for check in outcome.json()["checks"]}
    assert checks["configuration"]["status"] == "fail"
    assert checks["configuration"]["fix"] == fix
    assert "connection" not in checks


def test_doctor_read_only_check_writes_nothing(run: Run, url: str, tmp_path: Path) -> None:
    outcome = run("doctor", "--no-write", "--json", "--url", url)
    assert [c["name"] for c in outcome.json()["checks"]] == [
        "plugins",
        "configuration",
        "connection",
    ]
    assert not any(path.is_file() for path in (tmp_path / "root").rglob("*"))


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_doctor_timeout_must_be_a_positive_number(run: Run, timeout: str) -> None:
    outcome = run("doctor", "--url", "memory://", "--timeout", timeout, "--json")
    assert outcome.exit_code == 2
    assert outcome.json()["error"]["type"] == "UsageError"
    assert "--timeout" in outcome.json()["error"]["message"]
