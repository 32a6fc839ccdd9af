"""A local fake of ``GET /v2/conversations`` served over real HTTP on loopback (stdlib only).

See the package docstring (:mod:`airflow_provider_conversations.testing`) for usage and for the
exact wire names, encodings and rate-limit behaviour. This module holds the server and its request
dispatch (authentication, routing, faults, budget); the parts it composes have their own modules:
:mod:`.query` (the pure query engine), :mod:`.store` (the records), :mod:`.budget` (rate-limit
windows), :mod:`.faults`, :mod:`.observe` (stats, request log, observer events), :mod:`.answers`
and :mod:`.handler` (the HTTP side).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .answers import HTML, Answer, error_body, retry_after_value
from .budget import Budget, Charge, check_rule
from .changes import ChangeSchedule
from .faults import FAULT_KINDS, Faults
from .handler import _HTTPServer
from .observe import ChargeEvent, ConnectionEvent, Event, Observer, RequestLogEntry, Stats
from .query import Query, QueryError, parse_query, request_cost, run_query
from .records import NON_ASCII_SHARE, generate_conversations
from .store import RecordStore

if TYPE_CHECKING:  # typing.Self needs Python 3.11
    from typing_extensions import Self

__all__ = ["ENDPOINT", "FAULT_KINDS", "FakeConversationsAPI", "Faults", "RequestLogEntry", "Stats"]

#: The only path served.
ENDPOINT = "/v2/conversations"


class FakeConversationsAPI:
    """A fake ``GET /v2/conversations`` server on loopback; use as a context manager or start()/stop().

    :param records: the records, a number of records to generate with ``seed``, or None (no records).
    :param token: the accepted bearer token (``Authorization: Bearer <token>``).
    :param host: interface to bind.
    :param port: port to bind; 0 picks a free one (see :attr:`port`).
    :param seed: seed of generated records and of fault draws.
    :param rate_limit_per_minute: cost budget per token per window.
    :param minute_seconds: window length in seconds (scale it down in tests).
    :param window_rule: where rate-limit windows start, one of :data:`~.budget.WINDOW_RULES`:
        ``calendar`` (multiples of ``minute_seconds``), ``first_request`` (a window opens at the first
        request after the last one expired) or ``sliding`` (a cost counts for ``minute_seconds``).
    :param latency: seconds every answered request waits before answering.
    :param retry_after: send ``Retry-After`` on 429 answers (the real API documents none).
    :param strict_params: answer 400 on unknown parameter names instead of ignoring them.
    :param title_chars: generated records only: lengthen titles to this many characters (the record size).
    :param non_ascii_share: generated records only: share of titles with non-ASCII text (0: ASCII only).
    :param gzip: compress answers (``Content-Encoding: gzip``) to requests that accept gzip.
    :param chunked: send answers with ``Transfer-Encoding: chunked`` instead of a ``Content-Length``.
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
        window_rule: str = "calendar",
        latency: float = 0.0,
        retry_after: bool = True,
        strict_params: bool = False,
        title_chars: int = 0,
        non_ascii_share: float = NON_ASCII_SHARE,
        gzip: bool = False,
        chunked: bool = False,
        faults: Faults | None = None,
        verbose: bool = False,
    ) -> None:
        if minute_seconds <= 0:
            raise ValueError("minute_seconds must be > 0")
        self.token, self.host, self.seed = token, host, seed
        self.latency, self.retry_after, self.strict_params = latency, retry_after, strict_params
        self.gzip, self.chunked = gzip, chunked  # the answers' shape on the wire; read per answer
        self.faults = faults if faults is not None else Faults()
        self.verbose = verbose
        self.stats = Stats()
        self._budget = Budget(rate_limit_per_minute, minute_seconds, window_rule)
        self._store = RecordStore()
        self._changes: ChangeSchedule[FakeConversationsAPI] = ChangeSchedule()
        self._requested_port = port
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._log: deque[RequestLogEntry] = deque(maxlen=100_000)
        self._connections: set[socket.socket] = set()
        self._observers: list[Observer] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        if isinstance(records, int):
            records = generate_conversations(
                records, seed=seed, title_chars=title_chars, non_ascii_share=non_ascii_share
            )
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

    # -- rate limit (read per request: may change between requests) -----------------------------
    @property
    def rate_limit_per_minute(self) -> int:
        """Cost budget per token per window."""
        return self._budget.limit

    @rate_limit_per_minute.setter
    def rate_limit_per_minute(self, value: int) -> None:
        self._budget.limit = value

    @property
    def minute_seconds(self) -> float:
        """Window length in seconds."""
        return self._budget.window_seconds

    @minute_seconds.setter
    def minute_seconds(self, value: float) -> None:
        if value <= 0:
            raise ValueError("minute_seconds must be > 0")
        self._budget.window_seconds = value

    @property
    def window_rule(self) -> str:
        """Where rate-limit windows start (see :data:`~.budget.WINDOW_RULES`); set it between runs."""
        return self._budget.rule

    @window_rule.setter
    def window_rule(self, value: str) -> None:
        self._budget.rule = check_rule(value)
        self._budget.reset()

    # -- data ------------------------------------------------------------------------------------
    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        """Add (or replace, by ``id``) records; each needs a string ``id`` and ``created_at``.

        :param records: the records; they are copied.
        """
        self._store.add(records)

    def delete_records(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many existed.

        :param ids: the ids to delete.
        """
        return self._store.delete(ids)

    def insert_records(self, records: Iterable[dict[str, Any]], *, updated_at: datetime | str | None = None) -> None:
        """Insert new records (created now, or back-dated), with ``updated_at`` set if given.

        :param records: the records; each needs a new string ``id`` and a ``created_at``.
        :param updated_at: their ``updated_at``; default their own (or their ``created_at``).
        :raises ValueError: on an id already stored (nothing is inserted then).
        """
        self._store.insert(records, updated_at=updated_at)

    def update_record(self, rid: str, fields: Mapping[str, Any], *, updated_at: datetime | str) -> dict[str, Any]:
        """Change fields of a record (``created_at`` too: back-dating) and set its ``updated_at``.

        :param rid: the record's id.
        :param fields: the fields to set.
        :param updated_at: its new ``updated_at`` (aware datetime or ISO-8601 string).
        :return: a copy of the new version.
        :raises KeyError: if no record has this id.
        """
        return self._store.update(rid, fields, updated_at=updated_at)

    def after_request(self, n: int, change: Callable[[FakeConversationsAPI], object]) -> None:
        """Apply ``change(api)`` once ``n`` data requests have been answered (while a run is in progress).

        :param n: answered data requests (200s; counted from the server's start) before the change.
        :param change: e.g. ``lambda api: api.update_record(rid, {"title": "new"}, updated_at=ts)``.
        """
        self._changes.add(n, change)

    def records(self) -> list[dict[str, Any]]:
        """Snapshot (copies) of all records sorted by ``created_at`` then ``id``."""
        return self._store.records()

    def ids_in_range(self, gte: datetime, lt: datetime) -> set[str]:
        """Ids of the records with ``gte <= created_at < lt`` (naive datetimes are UTC).

        :param gte: inclusive lower bound.
        :param lt: exclusive upper bound.
        """
        return self._store.ids_in_range(gte, lt)

    # -- observation -----------------------------------------------------------------------------
    @property
    def request_log(self) -> list[RequestLogEntry]:
        """Received requests, oldest first (the last 100,000)."""
        with self._lock:
            return list(self._log)

    @property
    def open_connections(self) -> int:
        """Client connections open now."""
        with self._lock:
            return len(self._connections)

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer`` with a :class:`ChargeEvent` for each request charged against (or refused
        by) the budget and a :class:`ConnectionEvent` for each connection opened or closed.

        :param observer: called on the server's threads: keep it quick and thread-safe.
        """
        with self._lock:
            self._observers = [*self._observers, observer]

    def remove_observer(self, observer: Observer) -> None:
        """Stop calling ``observer``.

        :param observer: an observer added with :meth:`add_observer`.
        """
        with self._lock:
            self._observers = [o for o in self._observers if o is not observer]

    def reset_stats(self) -> None:
        """Clear :attr:`stats` and :attr:`request_log`."""
        self.stats.reset()
        with self._lock:
            self._log.clear()

    def reset_budget(self) -> None:
        """Forget the budget spent in the current window."""
        self._budget.reset()

    # -- internals -------------------------------------------------------------------------------
    def _notify(self, event: Event) -> None:
        for observer in self._observers:
            observer(event)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if not add:
                self._connections.discard(conn)
            elif self._stopping.is_set():
                _shutdown(conn)
            else:
                self._connections.add(conn)
            open_now = len(self._connections)
        if self._observers:
            self._notify(ConnectionEvent(time.time(), add, open_now))

    def _charge(self, token: str, cost: int, now: float) -> Charge:
        charge = self._budget.charge(token, cost, now)
        if charge.allowed:
            self.stats._add(cost=cost)
        if self._observers:
            self._notify(ChargeEvent(now, cost, charge.allowed, charge.remaining))
        return charge

    def _draw(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def _respond(self, response: Answer | None, fault: str | None = None) -> Answer | None:
        if fault is not None:
            self.stats._count(fault=fault)
        if response is not None:
            response.delay += self.latency
            self.stats._count(status=response.status)
        return response

    def _dispatch(self, method: str, target: str, headers: list[tuple[str, str]]) -> Answer | None:
        now = time.time()
        split = urlsplit(target)
        query = parse_qsl(split.query, keep_blank_values=True)
        auth = next((v for k, v in headers if k.lower() == "authorization"), None)
        scheme, _, presented = (auth or "").partition(" ")
        authorized = scheme.lower() == "bearer" and presented.strip() == self.token
        logged = {k: "***" if authorized and k.lower() == "authorization" else v for k, v in headers}
        with self._lock:
            self._log.append(RequestLogEntry(method, split.path, query, logged, now))
        self.stats._add(requests=1)
        faults = self.faults
        if faults.redirect_to:
            location = faults.redirect_to.rstrip("/") + target
            body = error_body(302, f"Moved to {location}")
            return self._respond(Answer(302, body, {"Location": location}), "redirect")
        if not authorized:
            body = error_body(401, "Missing or invalid bearer token")
            return self._respond(Answer(401, body, {"WWW-Authenticate": 'Bearer realm="api"'}))
        token = presented.strip()
        if method != "GET" or split.path.rstrip("/") != ENDPOINT:
            remaining = str(self._budget.remaining(token, time.time()))
            rate = {"x-ratelimit-endpoint-cost": "0", "x-ratelimit-remaining-minute": remaining}
            return self._respond(Answer(404, error_body(404, f"No route for {method} {split.path}"), rate))
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
        self.stats._add(unknown=unknown)
        charge = self._charge(token, cost, now)
        headers_out = {"x-ratelimit-endpoint-cost": str(cost), "x-ratelimit-remaining-minute": str(charge.remaining)}
        if not charge.allowed:
            if self.retry_after:
                headers_out["Retry-After"] = retry_after_value(charge.wait, self.minute_seconds >= 60)
            message = f"Rate limit of {self.rate_limit_per_minute} per minute exceeded"
            return self._respond(Answer(429, error_body(429, message), headers_out, delay=delay))
        if error is not None:
            return self._respond(Answer(error.status, error_body(error.status, str(error)), headers_out))
        rows, keys = self._store.snapshot()
        quirk = bool(q.lower or q.updated_lower) and self._draw(faults.boundary_quirk_rate)
        result = run_query(rows, q, keys=keys, quirk="prepend" if quirk else None)
        if result.quirked:
            self.stats._count(fault="boundary_quirk")
        if faults.delete_per_request > 0:
            with self._lock:  # the fault draws share one seeded generator
                self.stats._count(fault="delete", n=self._store.delete_random(self._rng, faults.delete_per_request))
        self._changes.answered(self)
        return self._respond(Answer(200, result.body, headers_out, delay=delay))

    def _inject(self, faults: Faults) -> tuple[bool, Answer | None]:
        """Draw the request-level faults: ``(True, answer or None for a drop)`` when one hits."""
        if self._draw(faults.drop_rate):
            self.stats._count(fault="drop")
            return True, None
        if self._draw(faults.error_rate):
            with self._lock:
                status, html = self._rng.choice((500, 502, 503)), self._rng.random() < 0.5
            if html:
                text = f"<html><body><h1>{status} {error_body(status, '')['error']}</h1></body></html>"
                return True, self._respond(Answer(status, text.encode(), content_type=HTML), "error")
            return True, self._respond(Answer(status, error_body(status, "Injected server error")), "error")
        if self._draw(faults.throttle_rate):
            headers = {"x-ratelimit-endpoint-cost": "1", "x-ratelimit-remaining-minute": "0"}
            if self.retry_after:
                seconds = faults.throttle_retry_after
                headers["Retry-After"] = retry_after_value(seconds, float(seconds).is_integer() and seconds >= 1)
            message = error_body(429, "Rate limit exceeded (injected)")
            return True, self._respond(Answer(429, message, headers), "throttle")
        if self._draw(faults.non_json_rate):
            body = b"<!DOCTYPE html><html><body><h1>Service maintenance</h1></body></html>"
            return True, self._respond(Answer(200, body, content_type=HTML), "non_json")
        return False, None


def _shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
