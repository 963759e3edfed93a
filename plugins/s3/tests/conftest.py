"""S3 test fixtures over moto (started by :mod:`emulators.pytest_plugin`): every
test gets its own bucket; a few tests need a moto that checks credentials or
speaks HTTPS.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from emulators import EmulatorUnavailable
from emulators.pytest_plugin import unavailable
from emulators.s3 import INSTALL_HINT, START_TIMEOUT, moto_server, new_bucket_name, store_options
from sessionstore import SessionStore

StoreFactory = Callable[..., SessionStore]


@pytest.fixture(scope="session")
def s3_endpoint_with_auth(aws_environment: None) -> Iterator[str]:
    """A second moto server, in its own process, that checks credentials
    (``INITIAL_NO_AUTH_ACTION_COUNT=0``); started only by the tests that need it."""
    environment = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as error:
        unavailable(
            EmulatorUnavailable(f"moto's server process cannot start ({error}); {INSTALL_HINT}")
        )
    assert process.stderr is not None
    stderr = process.stderr
    announced: queue.Queue[str | None] = queue.Queue()

    def read_stderr() -> None:
        """Find the address werkzeug announces, then keep draining the pipe so the
        server's access log can never fill it and block the server."""
        for line in stderr:
            found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                announced.put(found.group(1))
        announced.put(None)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        try:
            endpoint = announced.get(timeout=START_TIMEOUT)
        except queue.Empty:
            endpoint = None
        if endpoint is None:
            unavailable(EmulatorUnavailable("moto's server process did not announce its address"))
        yield endpoint
    finally:
        process.terminate()
        process.wait(START_TIMEOUT)
        reader.join(START_TIMEOUT)
        stderr.close()


@pytest.fixture(scope="session")
def s3_tls_endpoint(
    aws_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """moto over HTTPS with a throw-away self-signed certificate for 127.0.0.1:
    yields the endpoint and the certificate's path (for ``AWS_CA_BUNDLE``).

    Over HTTPS botocore uploads as AWS expects it, with ``aws-chunked`` encoding
    and a trailing checksum, a path plain HTTP never takes.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as error:
        unavailable(EmulatorUnavailable(f"an HTTPS server needs cryptography ({error})"))
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = folder / "certificate.pem", folder / "key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_path, key_path)
    try:
        with moto_server(ssl_context=context) as endpoint:
            yield endpoint, str(certificate_path)
    except EmulatorUnavailable as error:
        unavailable(error)


@pytest.fixture
def bucket_name() -> str:
    """A bucket name no other test uses."""
    return new_bucket_name()


@pytest.fixture
def s3_options(s3_endpoint: str) -> dict[str, Any]:
    """Backend options for the test server: explicit credentials and region,
    short timeouts, one retry."""
    return store_options(s3_endpoint)


@pytest.fixture
def make_store(s3_options: dict[str, Any], bucket_name: str) -> StoreFactory:
    """``make_store(**options)``: a store on the test server, by default over this
    test's bucket, with ``s3_options`` overridden by ``options``."""

    def make(bucket: str = bucket_name, **options: Any) -> SessionStore:
        return SessionStore(backend="s3", bucket=bucket, **{**s3_options, **options})

    return make


@pytest.fixture
def store(make_store: StoreFactory) -> SessionStore:
    """A store over a fresh bucket, created on first use."""
    return make_store(create_bucket=True)
