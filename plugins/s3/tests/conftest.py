"""A real S3 API for the tests: moto's S3 server, in this process, on 127.0.0.1.

moto's server mode speaks S3 over HTTP, so requests go through botocore, aiohttp
and the network stack exactly as against AWS. Every test gets its own bucket.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import queue
import re
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

import pytest

from sessionstore import SessionStore

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"
START_TIMEOUT = 30.0

StoreFactory = Callable[..., SessionStore]


def unavailable(reason: str) -> NoReturn:
    """Fail in CI (a missing server must never pass silently), skip elsewhere."""
    message = (
        f"the S3 test server (moto) cannot start: {reason}. Install the dev dependencies "
        "(`uv sync` at the repository root brings moto[s3], flask and flask-cors)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def aws_environment() -> Iterator[None]:
    """Keep the developer's own AWS configuration out of the tests: no profile,
    no shared config or credential files, no instance-metadata probing."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        patch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        patch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


@pytest.fixture(scope="session")
def s3_endpoint(aws_environment: None) -> Iterator[str]:
    """Start moto's S3 server on a free port of 127.0.0.1, wait until it answers,
    yield its URL, stop it at the end of the session.

    The server handles one request at a time. moto checks a PutObject's
    If-Match / If-None-Match and then stores the object in two steps with no lock,
    so its usual threaded server (``ThreadedMotoServer``, ``moto_server``) lets two
    concurrent conditional writers both win; served one request at a time, each
    conditional write is atomic, as on S3.
    """
    try:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server
    except ImportError as error:
        unavailable(f"moto's server mode is not importable ({error})")

    class RequestHandler(MotoRequestHandler):
        # Send each response at once: with Nagle's algorithm, an error response
        # (headers, then body) waits ~10 ms for the client's delayed ACK.
        disable_nagle_algorithm = True

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    try:
        server = make_server(
            "127.0.0.1",
            0,
            DomainDispatcherApplication(create_backend_app),
            threaded=False,
            request_handler=RequestHandler,
        )
    except OSError as error:
        unavailable(f"it cannot listen on 127.0.0.1 ({error})")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=START_TIMEOUT) as response:
            response.read()
    except OSError as error:
        server.shutdown()
        unavailable(f"it does not answer at {endpoint} ({error})")
    yield endpoint
    server.shutdown()
    thread.join(START_TIMEOUT)
    server.server_close()


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
        unavailable(f"moto's server process cannot start ({error})")
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
            unavailable("moto's server process did not announce its address")
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
        import ssl

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server
    except ImportError as error:
        unavailable(f"an HTTPS server needs moto and cryptography ({error})")
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
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        request_handler=MotoRequestHandler,
        ssl_context=context,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", str(certificate_path)
    server.shutdown()
    thread.join(START_TIMEOUT)
    server.server_close()


def new_bucket_name() -> str:
    return f"test-{uuid.uuid4().hex[:24]}"


@pytest.fixture
def bucket_name() -> str:
    """A bucket name no other test uses."""
    return new_bucket_name()


@pytest.fixture
def s3_options(s3_endpoint: str) -> dict[str, Any]:
    """Backend options for the test server: explicit credentials and region,
    short timeouts, one retry."""
    return {
        "endpoint_url": s3_endpoint,
        "key": ACCESS_KEY,
        "secret": SECRET_KEY,
        "region": REGION,
        "connect_timeout": 2.0,
        "read_timeout": 20.0,
        "retries": 1,
    }


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
