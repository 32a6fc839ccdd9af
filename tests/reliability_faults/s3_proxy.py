"""A faulty HTTP proxy in front of an S3-protocol server (moto), for reliability tests. Stdlib only.

:class:`FaultyS3Proxy` listens on loopback and forwards every request (method, path and query,
headers, body) to the upstream server, then relays the answer. Point boto3 (or an Airflow ``aws``
connection's ``endpoint_url``) at :attr:`FaultyS3Proxy.url`.

Bodies: a request body is read whole (``Content-Length``, or de-chunked ``Transfer-Encoding:
chunked``) and forwarded as raw bytes with a ``Content-Length``; ``aws-chunked`` payloads pass through
unchanged, ``Expect: 100-continue`` is answered by the proxy itself. The proxy never re-signs: moto
does not check SigV4 signatures, and the ``Host`` header is forwarded as the client sent it.

Faults (seeded, mutable at runtime):

* ``failure_rate``: share of requests whose method is in ``fault_methods`` (PUT by default) that
  fail, each as one of ``failure_kinds``: ``"500"`` (``InternalError``) or ``"503"`` (``SlowDown``)
  answered without forwarding, ``"drop"`` (connection closed without forwarding: the request is
  lost) or ``"drop_after"`` (forwarded, so S3 applied it, then the connection is closed without an
  answer: the client cannot know it succeeded).
* :meth:`hold`: requests matching a predicate wait (outside the serialisation lock) until the test
  releases them, either forwarded or dropped. Used to stop a task at an exact point of its commit.

Observation: :attr:`log` (one :class:`Exchange` per request) and ``after_mutation``, a callback run
after every forwarded PUT/POST/DELETE while a lock serialises all mutations, so a checker that reads
the upstream directly sees each intermediate state of the bucket, one mutation at a time.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MUTATING = frozenset({"PUT", "POST", "DELETE"})
FAILURE_KINDS = ("500", "503", "drop", "drop_after")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",
    }
)
_ERROR_XML = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


@dataclass
class Exchange:
    """One request seen by the proxy, and what became of it.

    :param outcome: ``"forwarded"``, ``"500"``, ``"503"``, ``"drop"``, ``"drop_after"``, ``"held-dropped"``
        or ``"held-forwarded"``.
    :param status: the upstream status when forwarded, else ``None``.
    """

    method: str
    path: str
    headers: dict[str, str]
    body_size: int
    outcome: str = ""
    status: int | None = None
    body: bytes = b""  # kept for POST (DeleteObjects: the keys to delete), first 64 KiB


@dataclass
class Hold:
    """Requests matching ``predicate(method, path, body)`` wait until :meth:`release`.

    :attr:`arrived` is set when the first matching request arrives; :attr:`count` counts them.
    """

    predicate: Callable[[str, str, bytes], bool]
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    forward: bool = False
    once: bool = True
    count: int = 0

    def release(self, *, forward: bool) -> None:
        """Let the held requests go: forwarded upstream, or dropped (connection closed, nothing sent)."""
        self.forward = forward
        self.released.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: FaultyS3Proxy) -> None:
        self.proxy = proxy
        super().__init__((proxy.host, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: clients vanish on purpose
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FaultyS3Proxy/1.0"
    timeout = 60.0
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.proxy._track(self.connection, add=True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, add=False)  # type: ignore[attr-defined]

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy: FaultyS3Proxy = self.server.proxy  # type: ignore[attr-defined]
        proxy._busy(+1)
        try:
            self._serve(proxy)
        finally:
            proxy._busy(-1)

    def _serve(self, proxy: FaultyS3Proxy) -> None:
        body = self._read_body()
        exchange = Exchange(
            self.command,
            self.path,
            dict(self.headers.items()),
            len(body),
            body=body[:65536] if self.command == "POST" else b"",
        )
        proxy._record(exchange)
        hold = proxy._match_hold(self.command, self.path, body)
        if hold is not None:
            hold.released.wait(proxy.hold_timeout)
            if not hold.forward:
                exchange.outcome = "held-dropped"
                self._drop()
                return
            exchange.outcome = "held-forwarded"
        elif self.command in proxy.fault_methods and proxy._draw_failure():
            kind = proxy._draw_kind()
            exchange.outcome = kind
            if kind in ("500", "503"):
                self._send_error(int(kind))
                return
            if kind == "drop":
                self._drop()
                return
            exchange.status, _, _ = proxy._forward(self.command, self.path, list(self.headers.items()), body)
            self._drop()
            return
        status, headers, data = proxy._forward(self.command, self.path, list(self.headers.items()), body)
        exchange.status = status
        exchange.outcome = exchange.outcome or "forwarded"
        try:
            self.send_response_only(status)
            length_sent = False
            for name, value in headers:
                lname = name.lower()
                if lname == "content-length" and self.command == "HEAD":
                    self.send_header(name, value)  # a HEAD tells the object's size, without a body
                    length_sent = True
                elif lname not in _HOP_BY_HOP:
                    self.send_header(name, value)
            if not length_sent:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _send_error(self, status: int) -> None:
        code, message = _ERROR_XML[status]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>faulty-proxy</RequestId></Error>"
        ).encode()
        try:
            self.send_response_only(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class FaultyS3Proxy:
    """A threaded loopback proxy in front of ``upstream`` (``http://host:port``) that can fail requests.

    :param upstream: base URL of the S3-protocol server.
    :param seed: seed of the failure draws.
    :param failure_rate: share of ``fault_methods`` requests that fail (0 to 1).
    :param failure_kinds: the kinds a failure is drawn from (see the module docstring).
    :param fault_methods: methods eligible for failures (PUT: object uploads).
    :param after_mutation: called as ``after_mutation(exchange)`` after each forwarded mutating request,
        under the lock that serialises mutations.
    :param hold_timeout: seconds a held request waits for :meth:`Hold.release` before it is dropped.
    """

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        failure_rate: float = 0.0,
        failure_kinds: tuple[str, ...] = FAILURE_KINDS,
        fault_methods: frozenset[str] | set[str] = frozenset({"PUT"}),
        after_mutation: Callable[[Exchange], None] | None = None,
        hold_timeout: float = 60.0,
        host: str = "127.0.0.1",
    ) -> None:
        unknown = set(failure_kinds) - set(FAILURE_KINDS)
        if unknown:
            raise ValueError(f"unknown failure kinds: {sorted(unknown)}")
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.host = host
        self.failure_rate = failure_rate
        self.failure_kinds = tuple(failure_kinds)
        self.fault_methods = frozenset(fault_methods)
        self.after_mutation = after_mutation
        self.hold_timeout = hold_timeout
        self.log: list[Exchange] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # state of the proxy
        self._mutation_lock = threading.Lock()  # serialises forwarded mutations and their check
        self._holds: list[Hold] = []
        self._in_flight = 0
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FaultyS3Proxy:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FaultyS3Proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        for hold in list(self._holds):
            hold.release(forward=False)
        server.shutdown()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FaultyS3Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://{self.host}:{self._server.server_address[1]}"

    # -- control ---------------------------------------------------------------------------------
    def hold(self, predicate: Callable[[str, str, bytes], bool], *, once: bool = True) -> Hold:
        """Hold requests matching ``predicate(method, path, body)`` (only the first one when ``once``)."""
        hold = Hold(predicate, once=once)
        with self._lock:
            self._holds.append(hold)
        return hold

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled (e.g. after the client was killed mid-request)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._in_flight == 0:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._in_flight} request(s) still in flight after {timeout}s")
            time.sleep(0.005)

    def outcomes(self, method: str | None = None) -> dict[str, int]:
        """Count of exchanges by outcome (optionally for one method)."""
        counts: dict[str, int] = {}
        with self._lock:
            for ex in self.log:
                if method is None or ex.method == method:
                    counts[ex.outcome] = counts.get(ex.outcome, 0) + 1
        return counts

    # -- internals -------------------------------------------------------------------------------
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def _busy(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.log.append(exchange)

    def _match_hold(self, method: str, path: str, body: bytes) -> Hold | None:
        with self._lock:
            for hold in self._holds:
                if (not hold.once or hold.count == 0) and hold.predicate(method, path, body):
                    hold.count += 1
                    hold.arrived.set()
                    return hold
        return None

    def _draw_failure(self) -> bool:
        with self._lock:
            return self.failure_rate > 0 and self._rng.random() < self.failure_rate

    def _draw_kind(self) -> str:
        with self._lock:
            return self._rng.choice(self.failure_kinds)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        mutating = method in MUTATING
        with self._mutation_lock if mutating else contextlib.nullcontext():
            conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    if name.lower() not in _HOP_BY_HOP:
                        conn.putheader(name, value)
                if body or method in ("PUT", "POST"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                response = conn.getresponse()
                data = response.read()
                status, out_headers = response.status, response.getheaders()
            finally:
                conn.close()
            if mutating and self.after_mutation is not None:
                kept = body[:65536] if method == "POST" else b""
                self.after_mutation(Exchange(method, path, dict(headers), len(body), "forwarded", status, kept))
        return status, out_headers, data
