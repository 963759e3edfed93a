"""The three emulators (from the shared :mod:`emulators` package), each with a store
factory and the raw fsspec file system (s3fs, gcsfs, adlfs) the store is compared with."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from emulators import EmulatorUnavailable, azure, gcs, s3
from sessionstore import SessionStore


@attrs.frozen
class Target:
    """One emulator: ``store(endpoint)`` builds a store on its bucket (``endpoint``:
    where to send requests, e.g. through a counting proxy); ``fs`` is the raw file
    system on the same server and ``raw_root`` the folder the raw baseline writes in."""

    name: str
    server: str
    """The server's ``http://host:port``, what a proxy forwards to."""
    store: Callable[[str], SessionStore]
    fs: Any
    raw_root: str


@contextlib.contextmanager
def _s3() -> Iterator[Target]:
    import s3fs  # type: ignore[import-untyped]

    with s3.isolated_environment(), s3.moto_server() as endpoint:
        bucket = s3.new_bucket_name()

        def store(url: str) -> SessionStore:
            return SessionStore(
                backend="s3", bucket=bucket, **s3.store_options(url, create_bucket=True)
            )

        fs = s3fs.S3FileSystem(
            endpoint_url=endpoint,
            key=s3.ACCESS_KEY,
            secret=s3.SECRET_KEY,
            skip_instance_cache=True,
            use_listings_cache=False,
        )
        yield Target("s3", endpoint, store, fs, f"{bucket}/raw")


@contextlib.contextmanager
def _gcs() -> Iterator[Target]:
    # gcsfs otherwise makes a gRPC call per bucket that times out against an emulator.
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    import gcsfs  # type: ignore[import-untyped]

    with gcs.fake_gcs_server() as endpoint:
        bucket = gcs.JsonApi(endpoint).new_bucket()

        def store(url: str) -> SessionStore:
            return SessionStore(backend="gcs", **gcs.store_options(url, bucket))

        fs = gcsfs.GCSFileSystem(
            endpoint_url=endpoint, token="anon", project="test", skip_instance_cache=True
        )
        yield Target("gcs", endpoint, store, fs, f"{bucket}/raw")


@contextlib.contextmanager
def _azure(scratch: Path) -> Iterator[Target]:
    import adlfs  # type: ignore[import-untyped]

    scratch.mkdir(parents=True, exist_ok=True)
    with azure.azurite(scratch) as server:
        container = azure.new_container_name()

        def store(url: str) -> SessionStore:
            return SessionStore(
                backend="azure",
                bucket=container,
                **server.options(endpoint_url=f"{url}/{server.account_name}"),
            )

        fs = adlfs.AzureBlobFileSystem(
            connection_string=(
                f"DefaultEndpointsProtocol=http;AccountName={server.account_name};"
                f"AccountKey={server.account_key};BlobEndpoint={server.endpoint_url};"
            ),
            skip_instance_cache=True,
        )
        yield Target("azure", f"http://127.0.0.1:{server.port}", store, fs, f"{container}/raw")


@contextlib.contextmanager
def targets(scratch: Path) -> Iterator[dict[str, Target | str]]:
    """Every emulator that starts, by name; for one that cannot, why not."""
    starters: dict[str, Callable[[], contextlib.AbstractContextManager[Target]]] = {
        "s3": _s3,
        "gcs": _gcs,
        "azure": lambda: _azure(scratch / "azurite"),
    }
    found: dict[str, Target | str] = {}
    with contextlib.ExitStack() as stack:
        for name, start in starters.items():
            try:
                found[name] = stack.enter_context(start())
            except (EmulatorUnavailable, ImportError) as error:
                found[name] = str(error)
        yield found
