"""The five first-party backends as installed distributions: listed with their
versions, and each cloud extra pulling only its own backend; and what every
backend's pyproject.toml asks of the core."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import importlib_metadata
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from sessionstore import available_backends
from sessionstore.registry import FIRST_PARTY

CLOUD_LIBRARIES = {"s3": "s3fs", "gcs": "gcsfs", "azure": "azure-storage-blob"}

ROOT = Path(__file__).resolve().parents[1]
BACKEND_PROJECTS = [
    *sorted(ROOT.glob("plugins/*/pyproject.toml")),
    ROOT / "examples" / "sessionstore-sqlite" / "pyproject.toml",
]
"""Every backend distribution in the repository, the example third-party one included."""


def test_all_five_backends_are_listed_with_their_distribution_versions() -> None:
    infos = {info.name: info for info in available_backends(check=True)}
    for name in FIRST_PARTY:
        distribution = f"sessionstore-{name}"
        assert infos[name].distribution == distribution
        assert infos[name].version == importlib_metadata.version(distribution)
        assert infos[name].status == "ok", infos[name].error


def test_listing_imports_no_backend() -> None:
    """Nor a cloud library, nor the command line's click and rich, nor what only a
    store needs (pluggy, attrs, cattrs, the JSON libraries, anyio): listing is
    start-up work (issue #8 budgets it at 50 ms over a bare ``import anyio``)."""
    script = (
        "import sys, sessionstore\n"
        "names = [info.name for info in sessionstore.available_backends()]\n"
        "loaded = [m for m in sys.modules if m.startswith('sessionstore_')]\n"
        "heavy = [m for m in ('s3fs', 'gcsfs', 'adlfs', 'azure', 'botocore', 'click', 'rich',\n"
        "                      'pluggy', 'attrs', 'cattrs', 'msgspec', 'orjson', 'anyio')\n"
        "         if m in sys.modules]\n"
        "print(sorted(names), loaded, heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[] []"), out


def requirements(distribution: str, extra: str | None = None) -> set[str]:
    """Names of what ``distribution`` (with ``extra``) requires, without versions."""
    names = set()
    for requirement in importlib_metadata.requires(distribution) or []:
        spec, _, marker = requirement.partition(";")
        wanted = f"extra == '{extra}'" if extra else None
        if (wanted is None and not marker) or (wanted and wanted in marker.replace('"', "'")):
            names.add(re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower())
    return names


@pytest.mark.parametrize("name", sorted(CLOUD_LIBRARIES))
def test_each_cloud_extra_pulls_only_what_it_needs(name: str) -> None:
    assert requirements("sessionstore", name) == {f"sessionstore-{name}"}
    backend_needs = requirements(f"sessionstore-{name}")
    assert CLOUD_LIBRARIES[name] in backend_needs
    others = {lib for other, lib in CLOUD_LIBRARIES.items() if other != name} | {"adlfs"}
    assert not backend_needs & (others - ({"adlfs"} if name == "azure" else set()))


def test_core_needs_no_backend_and_no_cloud_library() -> None:
    needs = requirements("sessionstore")
    assert not {n for n in needs if n.startswith("sessionstore")}
    assert not needs & {"s3fs", "gcsfs", "adlfs", "azure-storage-blob", "fsspec", "boto3"}


def project_table(pyproject: Path) -> Any:
    """The ``[project]`` table of ``pyproject``, read from the source (installed
    metadata is only as fresh as the last install)."""
    try:
        toml = importlib.import_module("tomllib")
    except ModuleNotFoundError:  # Python 3.10: tomli, which pytest needs there
        toml = importlib.import_module("tomli")
    return toml.loads(pyproject.read_text(encoding="utf-8"))["project"]


@pytest.mark.parametrize(
    "pyproject", BACKEND_PROJECTS, ids=[path.parent.name for path in BACKEND_PROJECTS]
)
def test_each_backend_requires_at_least_the_core_beside_it(pyproject: Path) -> None:
    """A backend here is only ever tested with the core of the same checkout, and
    imports what that core offers (SharedClient, ForkSafeLock, settings.to_path
    and check_http_url were added while its version stayed 0.1.0). A bound under the
    core's version would let an installer pair the backend with an older core,
    where it fails to load, so raising the core's version means raising these."""
    core = Version(project_table(ROOT / "core" / "pyproject.toml")["version"])
    (needed,) = [
        requirement
        for requirement in map(Requirement, project_table(pyproject)["dependencies"])
        if requirement.name == "sessionstore"
    ]
    floor = max(
        (Version(spec.version) for spec in needed.specifier if spec.operator in {">=", "=="}),
        default=Version("0"),
    )
    assert floor >= core, (
        f"{pyproject.relative_to(ROOT)} requires {needed}, which admits cores older than "
        f"{core}, the one its tests ran with: require sessionstore>={core}"
    )
