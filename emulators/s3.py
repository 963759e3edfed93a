"""moto's S3 server in this process, one request at a time, on 127.0.0.1.

moto checks a PutObject's If-Match / If-None-Match and then stores the object in
two steps with no lock, so its threaded server (``ThreadedMotoServer``,
``moto_server``) lets two concurrent conditional writers both win; served one
request at a time, each conditional write is atomic, as on S3.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from emulators import EmulatorUnavailable

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"
START_TIMEOUT = 30.0
INSTALL_HINT = "`uv sync` at the repository root brings moto[s3], flask and flask-cors"


@contextlib.contextmanager
def isolated_environment() -> Iterator[None]:
    """Keep the developer's own AWS configuration out: no profile, no shared
    config or credential files, no instance-metadata probing; test credentials."""
    saved = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        yield
    finally:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(saved)


@contextlib.contextmanager
def moto_server(*, ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """Start moto's S3 server on a free port, wait until it answers, yield its URL."""
    try:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server
    except ImportError as error:
        raise EmulatorUnavailable(
            f"the S3 test server (moto) is not importable ({error}): {INSTALL_HINT}"
        ) from error

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
            ssl_context=ssl_context,
        )
    except OSError as error:
        raise EmulatorUnavailable(f"moto cannot listen on 127.0.0.1 ({error})") from error
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    scheme = "https" if ssl_context else "http"
    endpoint = f"{scheme}://127.0.0.1:{server.server_port}"
    try:
        if ssl_context is None:
            try:
                with urllib.request.urlopen(endpoint + "/", timeout=START_TIMEOUT) as response:
                    response.read()
            except OSError as error:
                raise EmulatorUnavailable(
                    f"moto does not answer at {endpoint} ({error})"
                ) from error
        yield endpoint
    finally:
        server.shutdown()
        thread.join(START_TIMEOUT)
        server.server_close()


def new_bucket_name() -> str:
    """A bucket name no other test uses."""
    return f"test-{uuid.uuid4().hex[:24]}"


def store_options(endpoint: str, **overrides: Any) -> dict[str, Any]:
    """Backend options for the test server: explicit credentials and region,
    short timeouts, one retry."""
    return {
        "endpoint_url": endpoint,
        "key": ACCESS_KEY,
        "secret": SECRET_KEY,
        "region": REGION,
        "connect_timeout": 2.0,
        "read_timeout": 20.0,
        "retries": 1,
        **overrides,
    }
