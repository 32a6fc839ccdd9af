"""The HTTP side of the fake ``GET /v2/conversations``: a threading server and its request handler.

The handler reads a request, hands it to the API's dispatcher and writes the :class:`.Answer` it
gets back (or closes the connection without a byte for a dropped one). HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .answers import Answer, accepts_gzip, chunks, encode_body, gzip_body
from .observe import Stats


class Dispatcher(Protocol):
    """What the HTTP side needs of the API behind it (:class:`.FakeConversationsAPI` is one)."""

    gzip: bool
    chunked: bool
    verbose: bool
    stats: Stats
    _stopping: threading.Event

    def _track(self, conn: socket.socket, *, add: bool) -> None: ...

    def _dispatch(self, method: str, target: str, headers: list[tuple[str, str]]) -> Answer | None: ...


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Dispatcher) -> None:
        self.api = api
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.api.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall
    server_version = "FakeConversationsAPI/1.0"
    timeout = 60.0

    def version_string(self) -> str:
        return self.server_version

    @property
    def api(self) -> Dispatcher:
        assert isinstance(self.server, _HTTPServer)
        return self.server.api

    def setup(self) -> None:
        super().setup()
        self.api._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.api._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self.close_connection = True  # the body is not read
        self._serve()

    def do_PUT(self) -> None:
        self.do_POST()

    def do_PATCH(self) -> None:
        self.do_POST()

    def do_DELETE(self) -> None:
        self.do_POST()

    def _serve(self) -> None:
        api = self.api
        response = api._dispatch(self.command, self.path, list(self.headers.items()))
        if response is None:  # dropped: close without a byte
            self.close_connection = True
            return
        if response.delay > 0:
            api._stopping.wait(response.delay)
        body = encode_body(response.payload)
        gzipped = api.gzip and accepts_gzip(self.headers.get("Accept-Encoding"))
        if gzipped:
            body = gzip_body(body)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            if api.gzip:
                self.send_header("Vary", "Accept-Encoding")
            if api.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("x-request-id", str(uuid.uuid4()))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            api.stats._sent("gzip" if gzipped else "identity", api.chunked, len(body))  # before the client has it
            for frame in chunks(body) if api.chunked else (body,):
                self.wfile.write(frame)
        except OSError:  # the client went away (e.g. timed out on a slow answer)
            self.close_connection = True

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.api.verbose:
            super().log_message(fmt, *args)
