"""Fixtures of the reliability suite: the integration fixtures, and a tiny scripted HTTP server.

The scripted server answers every request with one fixed status, body and headers, so a test can
make the API answer what the fake never does (a 403, a 422, JSON of the wrong shape, ...).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.conftest import airflow_db, bucket, s3_client, s3_endpoint  # noqa: F401


class ScriptedAPI:
    """A loopback HTTP server answering every request with ``status``, ``body`` and ``headers``.

    :param status: the HTTP status of every answer.
    :param body: a JSON-able payload, or raw bytes.
    :param headers: extra response headers (e.g. ``x-request-id``).
    """

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = dict(headers or {})
        self.requests: list[dict[str, str]] = []  # the request headers, one dict per request
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with api._lock:
                    api.requests.append(dict(self.headers.items()))
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(api.body)))
                for name, value in api.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(api.body)

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def scripted_api_factory() -> Iterator[Callable[..., ScriptedAPI]]:
    """A function ``(status, body, headers=None) -> ScriptedAPI``; every server is stopped afterwards."""
    made: list[ScriptedAPI] = []

    def factory(status: int, body: Any, headers: dict[str, str] | None = None) -> ScriptedAPI:
        made.append(ScriptedAPI(status, body, headers))
        return made[-1]

    yield factory
    for server in made:
        server.stop()
