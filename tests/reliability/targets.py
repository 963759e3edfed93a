"""Every backend as a test target: a store factory over a fresh bucket, plus direct
access to what the storage holds, bypassing sessionstore (the file tree itself, or
the emulator's own API), so a campaign can check or corrupt the stored bytes.

The servers' session fixtures are requested only for the backends a test runs on,
so a test of the file backend never starts an emulator.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import pytest

from sessionstore import SessionStore

BACKENDS = ("memory", "file", "s3", "gcs", "azure")
CLOUDS = ("s3", "gcs", "azure")


class Target:
    """One backend over one fresh bucket.

    ``make_store(endpoint=None, **overrides)`` builds a store (optionally through
    another endpoint, such as a proxy); ``names``, ``read`` and ``write`` see and
    change the bucket's objects directly.
    """

    kind: str
    bucket: str
    endpoint: str | None = None

    def make_store(
        self, endpoint: str | None = None, *, bucket: str | None = None, **overrides: Any
    ) -> SessionStore:
        """A store over this target's bucket (or ``bucket``), through ``endpoint``
        if given, with ``overrides`` on top of the test options."""
        raise NotImplementedError

    def _names(self) -> list[str]:
        raise NotImplementedError

    def _read(self, name: str) -> bytes | None:
        raise NotImplementedError

    def _write(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    async def names(self) -> list[str]:
        """Every object name in the bucket, sorted, as the storage itself lists them."""
        return sorted(await anyio.to_thread.run_sync(self._names))

    async def read(self, name: str) -> bytes | None:
        """The stored bytes of ``name``, ``None`` if absent."""
        return await anyio.to_thread.run_sync(self._read, name)

    async def write(self, name: str, data: bytes) -> None:
        """Store ``data`` as ``name`` without going through sessionstore."""
        await anyio.to_thread.run_sync(self._write, name, data)

    def close(self) -> None:
        """Release direct clients."""


class MemoryTarget(Target):
    """Memory has no outside: one store is shared, and "direct" goes to its backend
    plugin under the codec (raw bytes, no envelope)."""

    kind = "memory"

    def __init__(self) -> None:
        self.bucket = "fuzz"
        self.store = SessionStore(backend="memory", bucket=self.bucket)

    def make_store(
        self, endpoint: str | None = None, *, bucket: str | None = None, **overrides: Any
    ) -> SessionStore:
        return self.store

    async def names(self) -> list[str]:
        storage = self.store._storage
        found: list[str] = []
        todo = [""]
        while todo:
            prefix = todo.pop()
            page = await storage.list(prefix, None, None)
            for entry in page.entries:
                (todo if entry.endswith("/") else found).append(entry)
        return sorted(found)

    async def read(self, name: str) -> bytes | None:
        try:
            return (await self.store._storage.download(name)).data
        except FileNotFoundError:
            return None

    async def write(self, name: str, data: bytes) -> None:
        await self.store._storage.upload(name, data)


class FileTarget(Target):
    """The file backend under ``tmp_path/root``: objects are files of ``root/bucket``."""

    kind = "file"

    def __init__(self, tmp_path: Path) -> None:
        self.bucket = "fuzz"
        self.root = tmp_path / "root"

    def make_store(
        self, endpoint: str | None = None, *, bucket: str | None = None, **overrides: Any
    ) -> SessionStore:
        return SessionStore(
            backend="file", bucket=bucket or self.bucket, root=str(self.root), **overrides
        )

    def everything(self) -> list[Path]:
        """Every file and folder under the root (the root's own parent stays clean)."""
        return [
            Path(top) / name for top, dirs, files in os.walk(self.root) for name in dirs + files
        ]

    def _names(self) -> list[str]:
        base = self.root / self.bucket
        return [
            path.relative_to(base).as_posix()
            for path in self.everything()
            if path.is_file() and not path.is_symlink()
        ]

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.root / self.bucket / name).read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, name: str, data: bytes) -> None:
        path = self.root / self.bucket / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


class S3Target(Target):
    kind = "s3"

    def __init__(self, endpoint: str) -> None:
        import botocore.session  # type: ignore[import-untyped]

        from emulators.s3 import ACCESS_KEY, REGION, SECRET_KEY, new_bucket_name

        self.endpoint = endpoint
        self.bucket = new_bucket_name()
        self.client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        self.client.create_bucket(Bucket=self.bucket)

    def make_store(
        self, endpoint: str | None = None, *, bucket: str | None = None, **overrides: Any
    ) -> SessionStore:
        from emulators.s3 import store_options

        options = store_options(endpoint or self.endpoint or "", **overrides)
        return SessionStore(backend="s3", bucket=bucket or self.bucket, **options)

    def _names(self) -> list[str]:
        names: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            names += [item["Key"] for item in page.get("Contents", ())]
        return names

    def _read(self, name: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        except self.client.exceptions.NoSuchKey:
            return None
        with response["Body"] as body:
            data: bytes = body.read()
        return data

    def _write(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=name, Body=data)

    def close(self) -> None:
        self.client.close()


class GcsTarget(Target):
    kind = "gcs"

    def __init__(self, endpoint: str) -> None:
        from emulators.gcs import JsonApi

        self.endpoint = endpoint
        self.api = JsonApi(endpoint)
        self.bucket = self.api.new_bucket()

    def make_store(
        self, endpoint: str | None = None, *, bucket: str | None = None, **overrides: Any
    ) -> SessionStore:
        from emulators.gcs import store_options

        options = store_options(endpoint or self.endpoint or "", bucket or self.bucket, **overrides)
        return SessionStore(backend="gcs", **options)

    def _names(self) -> list[str]:
        names: list[str] = []
        token = ""
        while True:
            query = f"?pageToken={quote(token)}" if token else ""
            status, answer = self.api.call("GET", f"/storage/v1/b/{self.bucket}/o{query}")
            assert status == 200, answer
            names += [item["name"] for item in answer.get("items", ())]
            token = answer.get("nextPageToken") or ""
            if not token:
                return names

    def _read(self, name: str) -> bytes | None:
        url = f"{self.endpoint}/storage/v1/b/{self.bucket}/o/{quote(name, safe='')}?alt=media"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 404:
                return None
            raise

    def _write(self, name: str, data: bytes) -> None:
        self.api.upload(self.bucket, name, data)


class AzureTarget(Target):
    kind = "azure"

    def __init__(self, server: Any) -> None:
        from azure.storage.blob import BlobServiceClient

        from emulators.azure import new_container_name

        self.server = server
        self.endpoint = f"http://127.0.0.1:{server.port}"
        self.bucket = new_container_name()
        self.service = BlobServiceClient(
            server.endpoint_url,
            credential={"account_name": server.account_name, "account_key": server.account_key},
        )
        self.container = self.service.get_container_client(self.bucket)
        self.container.create_container()

    def make_store(
        self, endpoint: str | None = None, *, bucket: str | None = None, **overrides: Any
    ) -> SessionStore:
        options = self.server.options(**overrides)
        account_url = f"{endpoint}/{self.server.account_name}" if endpoint else None
        if options.get("connection_string"):
            if account_url:  # the connection string names the endpoint itself
                options["connection_string"] = options["connection_string"].replace(
                    self.server.endpoint_url, account_url
                )
        elif account_url:
            options["endpoint_url"] = account_url
        options = {name: value for name, value in options.items() if value is not None}
        return SessionStore(backend="azure", bucket=bucket or self.bucket, **options)

    def _names(self) -> list[str]:
        return [blob.name for blob in self.container.list_blobs()]

    def _read(self, name: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            data: bytes = self.container.download_blob(name).readall()
        except ResourceNotFoundError:
            return None
        return data

    def _write(self, name: str, data: bytes) -> None:
        self.container.upload_blob(name, data, overwrite=True)

    def close(self) -> None:
        self.service.close()


def open_target(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A target of backend ``kind``, starting its server if it is an emulator."""
    if kind == "memory":
        return MemoryTarget()
    if kind == "file":
        return FileTarget(tmp_path)
    if kind == "s3":
        return S3Target(request.getfixturevalue("s3_endpoint"))
    if kind == "gcs":
        return GcsTarget(request.getfixturevalue("gcs_endpoint"))
    if kind == "azure":
        return AzureTarget(request.getfixturevalue("azurite"))
    raise ValueError(kind)


def target_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Body of a ``target`` fixture parametrized by backend name."""
    target = open_target(str(request.param), request, tmp_path)
    try:
        yield target
    finally:
        target.close()
