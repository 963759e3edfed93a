"""``sessionstore backends`` and ``sessionstore doctor``."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from emulators.azure import Azurite, new_container_name
from emulators.s3 import new_bucket_name, store_options
from sessionstore.cli.failures import MISSING_BUCKET_HINT, from_error
from sessionstore.errors import StoragePermissionError, StorageUnavailableError
from sessionstore.storage import Storage

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
    detail = report["checks"][1]["detail"]
    assert f"root={tmp_path / 'root'}" in detail
    # What the file backend says of the bucket: its folder, and how names are told apart.
    assert detail.endswith(f"; folder: {tmp_path / 'root' / 'sessions'}; names: case-sensitive")
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
    assert detail == (
        f"backend 'file', bucket 'app' from --backend; folder: {root / 'app'}; "
        "names: case-sensitive"
    )
    # A relative root, as the backend resolved it: absolute.
    monkeypatch.chdir(tmp_path)
    human = run("doctor", "--no-write", "--backend", "file", "-o", "root=rel").stdout
    assert f"; folder: {tmp_path / 'rel' / 'sessions'}; names: case-sensitive\n" in human
    # Other backends say where they keep it in their own words.
    memory = run("doctor", "--json", "--no-write", "--backend", "memory").json()
    assert "folder" not in memory["checks"][1]["detail"]
    assert "; location: the memory of this process (pid " in memory["checks"][1]["detail"]


def test_doctor_says_when_a_file_store_is_on_a_volume_that_ignores_case(
    run: Run, folding_mount: Path
) -> None:
    """On macOS's default volume ``Chat`` and ``chat`` cannot both exist, and each
    operation lists the folder: doctor says so, as the backend learnt at init."""
    root = folding_mount / uuid.uuid4().hex
    outcome = run("doctor", "--json", "--no-write", "--url", f"file://{root}?bucket=app")
    assert outcome.exit_code == 0, outcome.stdout
    detail = outcome.json()["checks"][1]["detail"]
    assert f"; folder: {root / 'app'}; names: case-insensitive: the volume ignores case" in detail
    assert "names differing only in case cannot coexist" in detail
    assert "each operation lists the folder" in detail
    assert "case-sensitive" not in detail


def test_doctor_leaves_the_description_out_when_the_storage_cannot_be_reached(
    run: Run, tmp_path: Path
) -> None:
    """The backend describes a bucket after init: with no connection there is no
    description, and the configuration check still stands."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    outcome = run("doctor", "--json", "--backend", "file", "-o", f"root={blocker}")
    checks = {check["name"]: check for check in outcome.json()["checks"]}
    assert checks["configuration"]["status"] == "ok"
    assert "folder:" not in checks["configuration"]["detail"]
    assert checks["connection"]["status"] == "fail"


def test_doctor_warns_when_the_backend_cannot_describe_the_bucket(
    run: Run, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: Storage) -> dict[str, str]:
        raise StorageUnavailableError("no words", backend="file", bucket="sessions")

    monkeypatch.setattr(Storage, "describe", refuse)
    outcome = run("doctor", "--json", "--no-write", "--url", url)
    assert outcome.exit_code == 0, outcome.stdout
    checks = {check["name"]: check for check in outcome.json()["checks"]}
    assert checks["connection"]["status"] == "ok"
    assert checks["description"]["status"] == "warn"
    assert checks["description"]["detail"].endswith(
        "could not say where it keeps the bucket: no words"
    )
    assert "folder:" not in checks["configuration"]["detail"]


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


def test_doctor_refuses_an_endpoint_url_that_carries_credentials(run: Run) -> None:
    endpoint = quote("http://minio:hunter2@127.0.0.1:9/?X-Amz-Signature=abcdef123", safe="")
    outcome = run("doctor", "--json", "--url", f"s3://bucket?endpoint_url={endpoint}&retries=0")
    assert outcome.exit_code == 2
    checks = {check["name"]: check for check in outcome.json()["checks"]}
    assert checks["configuration"]["status"] == "fail"
    assert "without a user or password or a query" in checks["configuration"]["detail"]
    assert "connection" not in checks
    assert "hunter2" not in outcome.stdout
    assert "abcdef123" not in outcome.stdout


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


def test_doctor_on_a_missing_s3_bucket_says_to_create_it(run: Run, s3_endpoint: str) -> None:
    """Not "check the endpoint, the network": the endpoint answered, the bucket
    is not there. The hint is chosen by the error's type (the backend's
    BucketNotFoundError, a LookupError), not by its text."""
    query = urlencode(store_options(s3_endpoint, retries=0))
    outcome = run("doctor", "--json", "--url", f"s3://{new_bucket_name()}?{query}")
    assert outcome.exit_code == 4
    connection = {check["name"]: check for check in outcome.json()["checks"]}["connection"]
    assert connection["status"] == "fail"
    assert "does not exist" in connection["detail"]
    assert connection["fix"] == MISSING_BUCKET_HINT
    assert "-o create_bucket=true" in connection["fix"]
    assert "?create_bucket=true" in connection["fix"]


def test_a_missing_bucket_is_told_from_its_cause_s_type() -> None:
    """A LookupError chained (as every first-party cloud backend raises for a
    missing bucket) gets the create-it hint; a KeyError (a backend's bug) or an
    error with no such cause keeps the network hint."""

    def failure(cause: BaseException | None) -> str | None:
        error = StorageUnavailableError("failed", backend="s3", bucket="b")
        error.__cause__ = cause
        return from_error(error, suggest_doctor=False).hint

    assert failure(LookupError("the bucket does not exist")) == MISSING_BUCKET_HINT
    network = "check the endpoint, the network, and that the storage is up"
    assert failure(KeyError("x")) == network
    assert failure(ConnectionRefusedError()) == network
    assert failure(None) == network


def test_a_missing_azure_container_is_said_to_be_created(run: Run, azurite: Azurite) -> None:
    """Azure raises a plain LookupError for it (s3 and gcs a BucketNotFoundError)."""
    options = azurite.options(create_bucket=False, read_timeout=10.0)
    args = [f"--option={key}={value}" for key, value in options.items()]
    outcome = run("ls", "--json", "--backend", "azure", "--bucket", new_container_name(), *args)
    assert outcome.exit_code == 4
    assert outcome.json()["error"]["hint"].startswith(MISSING_BUCKET_HINT)


AZURE_REFUSAL = (
    "azure backend was refused access on chats: PermissionError: access refused to "
    "container 'chats': Server failed to authenticate the request.\n"
    "RequestId:4642135f-cfa9-4871-9421-0a12bca071c0\nTime:2026-12-05T18:08:37.645Z\n"
    "ErrorCode:AuthorizationFailure\nContent: <?xml ...?><Error>...</Error>"
)


def test_a_service_s_multi_line_answer_is_cut_to_its_first_line() -> None:
    """The service's RequestId, Time, ErrorCode and body were joined into the one
    line; ``--json`` keeps them, as ``detail``."""
    error = StoragePermissionError(AZURE_REFUSAL, backend="azure", bucket="chats")
    failure = from_error(error, suggest_doctor=False)
    assert failure.message == AZURE_REFUSAL.splitlines()[0]
    assert failure.json_error()["detail"] == " ".join(AZURE_REFUSAL.split())
    one_line = from_error(StorageUnavailableError("failed", backend="s3", bucket="b"))
    assert "detail" not in one_line.json_error()


def test_an_azure_refusal_is_one_short_line(run: Run, azurite: Azurite) -> None:
    wrong_key = "A" * 4 + azurite.account_key[4:]
    options = azurite.options(account_key=wrong_key, create_bucket=False, read_timeout=10.0)
    args = [f"--option={key}={value}" for key, value in options.items()]
    target = ["--backend", "azure", "--bucket", new_container_name(), *args]
    outcome = run("ls", *target)
    assert outcome.exit_code == 4
    assert outcome.stderr.count("\n") == 1
    assert "Server failed to authenticate the request" in outcome.stderr
    assert "RequestId" not in outcome.stderr
    assert "<Error>" not in outcome.stderr
    error = run("ls", "--json", *target).json()["error"]
    assert "RequestId" not in error["message"]
    assert "ErrorCode:AuthorizationFailure" in error["detail"]
    checks = {check["name"]: check for check in run("doctor", "--json", *target).json()["checks"]}
    assert "RequestId" not in checks["connection"]["detail"]
