"""The storage servers as pytest fixtures, each started once per test session
when a test first asks for it.

A server that cannot start skips the tests that need it locally and fails them
in CI (``CI=true``): a missing server must never pass silently. The folding
volumes skip in CI too: whether FUSE can be mounted is the host's choice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from emulators import EmulatorUnavailable
from emulators.azure import Azurite
from emulators.azure import azurite as start_azurite
from emulators.folding_volume import Fold, folding_volume
from emulators.gcs import JsonApi, fake_gcs_server
from emulators.s3 import isolated_environment, moto_server


def unavailable(error: EmulatorUnavailable) -> NoReturn:
    """Fail in CI, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(str(error), pytrace=False)
    pytest.skip(str(error))


@pytest.fixture(scope="session")
def aws_environment() -> Iterator[None]:
    """No AWS configuration of the developer's; the test credentials."""
    with isolated_environment():
        yield


@pytest.fixture(scope="session")
def s3_endpoint(aws_environment: None) -> Iterator[str]:
    """The URL of moto's S3 server (one request at a time: conditional writes are
    atomic, as on S3)."""
    try:
        with moto_server() as endpoint:
            yield endpoint
    except EmulatorUnavailable as error:
        unavailable(error)


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """The URL of fake-gcs-server."""
    try:
        with fake_gcs_server() as endpoint:
            yield endpoint
    except EmulatorUnavailable as error:
        unavailable(error)


@pytest.fixture(scope="session")
def json_api(gcs_endpoint: str) -> JsonApi:
    """Plain JSON API requests to fake-gcs-server, bypassing the backend."""
    return JsonApi(gcs_endpoint)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A running Azurite blob service."""
    try:
        with start_azurite(tmp_path_factory.mktemp("azurite")) as server:
            yield server
    except EmulatorUnavailable as error:
        unavailable(error)


def _mounted(factory: pytest.TempPathFactory, fold: Fold) -> Iterator[Path]:
    source, mountpoint = factory.mktemp(f"{fold}-source"), factory.mktemp(f"{fold}-volume")
    try:
        with folding_volume(source, mountpoint, fold):
            yield mountpoint
    except EmulatorUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def folding_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A volume that ignores case as APFS does (case and normalization), mounted."""
    yield from _mounted(tmp_path_factory, "casefold")


@pytest.fixture(scope="session")
def upper_folding_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A volume that ignores case as NTFS does (each character upper-cased), mounted."""
    yield from _mounted(tmp_path_factory, "upper")
