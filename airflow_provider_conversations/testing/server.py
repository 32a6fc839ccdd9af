"""A local fake of ``GET /v2/conversations`` served over real HTTP on loopback (stdlib only).

See the package docstring (:mod:`airflow_provider_conversations.testing`) for usage and for the
exact wire names, encodings and rate-limit behaviour.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .data import (
    Query,
    QueryError,
    Row,
    copy_record,
    generate_conversations,
    parse_query,
    request_cost,
    run_query,
)
from .data import to_row as _to_row

if TYPE_CHECKING:  # typing.Self needs Python 3.11
    from typing_extensions import Self

__all__ = ["ENDPOINT", "FAULT_KINDS", "FakeConversationsAPI", "Faults", "RequestLogEntry", "Stats"]

#: The only path served.
ENDPOINT = "/v2/conversations"
#: Keys of :attr:`Stats.faults`.
FAULT_KINDS = ("error", "throttle", "drop", "slow", "non_json", "delete", "boundary_quirk", "redirect")
_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"


@dataclass
class Faults:
    """Fault injection knobs; mutate the server's instance at runtime (draws use the server's seed).

    Rates are shares in [0, 1] drawn per authenticated request to the endpoint, in the order drop,
    error, throttle, non_json, slow (at most one of these per request). Injected faults cost no budget.

    :param error_rate: answer 500/502/503 with a JSON or an HTML body.
    :param throttle_rate: answer an injected 429 (``Retry-After: throttle_retry_after``).
    :param throttle_retry_after: seconds sent in the injected 429's ``Retry-After``.
    :param drop_rate: close the connection without sending any response.
    :param slow_rate: answer normally but only after ``slow_seconds`` (to exceed a client timeout).
    :param slow_seconds: delay of a slow answer.
    :param non_json_rate: answer 200 with an HTML body.
    :param delete_per_request: after each successful data request delete this many random records.
    :param boundary_quirk_rate: when ``created_at[gte]``/``[gt]`` is given, prepend the record just
        before the lower bound (the real API's known quirk).
    :param redirect_to: if set, answer every request with 302 to ``redirect_to + path?query``.
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_retry_after: float = 0.05
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    non_json_rate: float = 0.0
    delete_per_request: int = 0
    boundary_quirk_rate: float = 0.0
    redirect_to: str | None = None


class Stats:
    """Thread-safe counters of a :class:`FakeConversationsAPI`.

    Attributes: ``requests`` (every request received), ``total_cost`` (budget spent),
    ``status_counts`` (status -> count), ``throttled`` (429 answers, budget or injected),
    ``faults`` (kind -> count, keys :data:`FAULT_KINDS`), ``unknown_params`` (names ignored).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.total_cost = 0
        self.throttled = 0
        self.status_counts: dict[int, int] = {}
        self.faults: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self.unknown_params: set[str] = set()

    def reset(self) -> None:
        """Zero every counter in place."""
        with self._lock:
            self.requests = self.total_cost = self.throttled = 0
            self.status_counts.clear()
            self.faults.update(dict.fromkeys(FAULT_KINDS, 0))
            self.unknown_params.clear()

    def _count(self, *, status: int | None = None, fault: str | None = None, n: int = 1) -> None:
        with self._lock:
            if status is not None:
                self.status_counts[status] = self.status_counts.get(status, 0) + 1
                self.throttled += status == 429
            if fault is not None:
                self.faults[fault] += n

    def snapshot(self) -> dict[str, Any]:
        """Return a consistent copy of all counters as a plain dict."""
        with self._lock:
            return {
                "requests": self.requests,
                "total_cost": self.total_cost,
                "throttled": self.throttled,
                "status_counts": dict(self.status_counts),
                "faults": dict(self.faults),
                "unknown_params": set(self.unknown_params),
            }


@dataclass(frozen=True)
class RequestLogEntry:
    """One received request. ``headers`` has a correct Authorization value masked as ``***``."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    time: float


@dataclass
class _Response:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = _JSON
    delay: float = 0.0


def _error(status: int, message: str) -> dict[str, str]:
    return {"error": HTTPStatus(status).phrase, "message": message}


def _retry_after(seconds: float, integer: bool) -> str:
    return str(max(1, math.ceil(seconds))) if integer else f"{max(seconds, 0.001):.3f}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: FakeConversationsAPI) -> None:
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
    def api(self) -> FakeConversationsAPI:
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
        payload = response.payload
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-request-id", str(uuid.uuid4()))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away (e.g. timed out on a slow answer)
            self.close_connection = True

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.api.verbose:
            super().log_message(fmt, *args)


class FakeConversationsAPI:
    """A fake ``GET /v2/conversations`` server on loopback; use as a context manager or start()/stop().

    :param records: the records, a number of records to generate with ``seed``, or None (no records).
    :param token: the accepted bearer token (``Authorization: Bearer <token>``).
    :param host: interface to bind.
    :param port: port to bind; 0 picks a free one (see :attr:`port`).
    :param seed: seed of generated records and of fault draws.
    :param rate_limit_per_minute: cost budget per token per window.
    :param minute_seconds: window length in seconds (scale it down in tests).
    :param latency: seconds every answered request waits before answering.
    :param retry_after: send ``Retry-After`` on 429 answers (the real API documents none).
    :param strict_params: answer 400 on unknown parameter names instead of ignoring them.
    :param faults: fault injection knobs (default: none); mutable at runtime via :attr:`faults`.
    :param verbose: log each request and handler errors to stderr.
    """

    def __init__(
        self,
        records: list[dict[str, Any]] | int | None = None,
        *,
        token: str = "test-token",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        rate_limit_per_minute: int = 600,
        minute_seconds: float = 60.0,
        latency: float = 0.0,
        retry_after: bool = True,
        strict_params: bool = False,
        faults: Faults | None = None,
        verbose: bool = False,
    ) -> None:
        if minute_seconds <= 0:
            raise ValueError("minute_seconds must be > 0")
        self.token, self.host, self.seed = token, host, seed
        self.rate_limit_per_minute, self.minute_seconds = rate_limit_per_minute, minute_seconds
        self.latency, self.retry_after, self.strict_params = latency, retry_after, strict_params
        self.faults = faults if faults is not None else Faults()
        self.verbose = verbose
        self.stats = Stats()
        self._requested_port = port
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._rows: dict[str, Row] = {}
        self._sorted: tuple[list[Row], list[datetime]] | None = None
        self._budget: dict[str, tuple[int, int]] = {}
        self._log: deque[RequestLogEntry] = deque(maxlen=100_000)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        if isinstance(records, int):
            records = generate_conversations(records, seed=seed)
        self.add_records(records or [])

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind and serve in a background thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeConversationsAPI:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections, join all threads and close the socket (idempotent)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        with self._lock:
            self._stopping.set()
        httpd.shutdown()
        with self._lock:
            for conn in list(self._connections):
                _shutdown(conn)
        httpd.server_close()  # joins the handler threads
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._httpd is None:
            raise RuntimeError("not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (append ``/v2/conversations``)."""
        return f"http://{self.host}:{self.port}"

    # -- data ------------------------------------------------------------------------------------
    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        """Add (or replace, by ``id``) records; each needs a string ``id`` and ``created_at``.

        :param records: the records; they are copied.
        """
        rows = [_to_row(record) for record in records]
        with self._lock:
            for row in rows:
                self._rows[row.rid] = row
            self._sorted = None

    def delete_records(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many existed.

        :param ids: the ids to delete.
        """
        with self._lock:
            return self._delete_locked(set(ids))

    def records(self) -> list[dict[str, Any]]:
        """Snapshot (copies) of all records sorted by ``created_at`` then ``id``."""
        rows, _ = self._snapshot()
        return [copy_record(r.record) for r in rows]

    def ids_in_range(self, gte: datetime, lt: datetime) -> set[str]:
        """Ids of the records with ``gte <= created_at < lt`` (naive datetimes are UTC).

        :param gte: inclusive lower bound.
        :param lt: exclusive upper bound.
        """
        rows, keys = self._snapshot()
        lo, hi = bisect.bisect_left(keys, _aware(gte)), bisect.bisect_left(keys, _aware(lt))
        return {row.rid for row in rows[lo:hi]}

    # -- observation -----------------------------------------------------------------------------
    @property
    def request_log(self) -> list[RequestLogEntry]:
        """Received requests, oldest first (the last 100,000)."""
        with self._lock:
            return list(self._log)

    def reset_stats(self) -> None:
        """Clear :attr:`stats` and :attr:`request_log`."""
        self.stats.reset()
        with self._lock:
            self._log.clear()

    def reset_budget(self) -> None:
        """Forget the budget spent in the current window."""
        with self._lock:
            self._budget.clear()

    # -- internals -------------------------------------------------------------------------------
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if not add:
                self._connections.discard(conn)
            elif self._stopping.is_set():
                _shutdown(conn)
            else:
                self._connections.add(conn)

    def _snapshot(self) -> tuple[list[Row], list[datetime]]:
        with self._lock:
            if self._sorted is None:
                rows = sorted(self._rows.values(), key=lambda r: (r.created, r.rid))
                self._sorted = (rows, [r.created for r in rows])
            return self._sorted

    def _delete_locked(self, ids: set[str]) -> int:
        gone = {rid for rid in ids if self._rows.pop(rid, None) is not None}
        if gone and self._sorted is not None:  # copy-on-write keeps readers' snapshots intact
            rows = [r for r in self._sorted[0] if r.rid not in gone]
            self._sorted = (rows, [r.created for r in rows])
        return len(gone)

    def _draw(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def _respond(self, response: _Response | None, fault: str | None = None) -> _Response | None:
        if fault is not None:
            self.stats._count(fault=fault)
        if response is not None:
            response.delay += self.latency
            self.stats._count(status=response.status)
        return response

    def _dispatch(self, method: str, target: str, headers: list[tuple[str, str]]) -> _Response | None:
        now = time.time()
        split = urlsplit(target)
        query = parse_qsl(split.query, keep_blank_values=True)
        auth = next((v for k, v in headers if k.lower() == "authorization"), None)
        scheme, _, presented = (auth or "").partition(" ")
        authorized = scheme.lower() == "bearer" and presented.strip() == self.token
        logged = {k: "***" if authorized and k.lower() == "authorization" else v for k, v in headers}
        with self._lock:
            self._log.append(RequestLogEntry(method, split.path, query, logged, now))
        with self.stats._lock:
            self.stats.requests += 1
        faults = self.faults
        if faults.redirect_to:
            location = faults.redirect_to.rstrip("/") + target
            body = _error(302, f"Moved to {location}")
            return self._respond(_Response(302, body, {"Location": location}), "redirect")
        if not authorized:
            body = _error(401, "Missing or invalid bearer token")
            return self._respond(_Response(401, body, {"WWW-Authenticate": 'Bearer realm="api"'}))
        token = presented.strip()
        if method != "GET" or split.path.rstrip("/") != ENDPOINT:
            rate = {"x-ratelimit-endpoint-cost": "0", "x-ratelimit-remaining-minute": self._remaining(token)}
            return self._respond(_Response(404, _error(404, f"No route for {method} {split.path}"), rate))
        hit, injected = self._inject(faults)
        if hit:
            return injected
        delay = 0.0
        if self._draw(faults.slow_rate):
            delay = faults.slow_seconds
            self.stats._count(fault="slow")
        try:
            q, unknown = parse_query(query, self.strict_params)
            cost, error = request_cost(q.page), None
        except QueryError as exc:
            q, unknown, cost, error = Query(), [], 1, exc
        with self.stats._lock:
            self.stats.unknown_params.update(unknown)
        allowed, remaining, wait = self._charge(token, cost, now)
        headers_out = {"x-ratelimit-endpoint-cost": str(cost), "x-ratelimit-remaining-minute": str(remaining)}
        if not allowed:
            if self.retry_after:
                headers_out["Retry-After"] = _retry_after(wait, self.minute_seconds >= 60)
            message = f"Rate limit of {self.rate_limit_per_minute} per minute exceeded"
            return self._respond(_Response(429, _error(429, message), headers_out, delay=delay))
        if error is not None:
            return self._respond(_Response(error.status, _error(error.status, str(error)), headers_out))
        rows, keys = self._snapshot()
        quirk = bool(q.lower) and self._draw(faults.boundary_quirk_rate)
        payload, quirked = run_query(rows, keys, q, quirk=quirk)
        if quirked:
            self.stats._count(fault="boundary_quirk")
        if faults.delete_per_request > 0:
            with self._lock:
                victims = self._rng.sample(list(self._rows), min(faults.delete_per_request, len(self._rows)))
                self.stats._count(fault="delete", n=self._delete_locked(set(victims)))
        return self._respond(_Response(200, payload, headers_out, delay=delay))

    def _inject(self, faults: Faults) -> tuple[bool, _Response | None]:
        """Draw the request-level faults: ``(True, answer or None for a drop)`` when one hits."""
        if self._draw(faults.drop_rate):
            self.stats._count(fault="drop")
            return True, None
        if self._draw(faults.error_rate):
            with self._lock:
                status, html = self._rng.choice((500, 502, 503)), self._rng.random() < 0.5
            if html:
                text = f"<html><body><h1>{status} {_error(status, '')['error']}</h1></body></html>"
                return True, self._respond(_Response(status, text.encode(), content_type=_HTML), "error")
            return True, self._respond(_Response(status, _error(status, "Injected server error")), "error")
        if self._draw(faults.throttle_rate):
            headers = {"x-ratelimit-endpoint-cost": "1", "x-ratelimit-remaining-minute": "0"}
            if self.retry_after:
                seconds = faults.throttle_retry_after
                headers["Retry-After"] = _retry_after(seconds, float(seconds).is_integer() and seconds >= 1)
            message = _error(429, "Rate limit exceeded (injected)")
            return True, self._respond(_Response(429, message, headers), "throttle")
        if self._draw(faults.non_json_rate):
            body = b"<!DOCTYPE html><html><body><h1>Service maintenance</h1></body></html>"
            return True, self._respond(_Response(200, body, content_type=_HTML), "non_json")
        return False, None

    def _remaining(self, token: str) -> str:
        window = int(time.time() // self.minute_seconds)
        with self._lock:
            seen, spent = self._budget.get(token, (window, 0))
        return str(self.rate_limit_per_minute - (spent if seen == window else 0))

    def _charge(self, token: str, cost: int, now: float) -> tuple[bool, int, float]:
        window = int(now // self.minute_seconds)
        wait = (window + 1) * self.minute_seconds - now
        with self._lock:
            seen, spent = self._budget.get(token, (window, 0))
            spent = spent if seen == window else 0
            remaining = self.rate_limit_per_minute - spent
            if remaining < cost:
                return False, remaining, wait
            self._budget[token] = (window, spent + cost)
        with self.stats._lock:
            self.stats.total_cost += cost
        return True, remaining - cost, wait


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
