"""A local fake of the Conversations API served over real HTTP on loopback (stdlib only).

See the package docstring (:mod:`airflow_provider_conversations.testing`) for usage and for the
exact wire names, encodings and rate-limit behaviour. This module holds the server and its request
dispatch (authentication, routing, faults, budget); the parts it composes have their own modules:
:mod:`.query` (the pure query engine), :mod:`.routes` (the paths served), :mod:`.store` and
:mod:`.transcript_store` (the records), :mod:`.budget` (rate-limit
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
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .answers import Answer, error_body, fault_answer, retry_after_value
from .budget import Budget, Charge, check_rule
from .dataset import FakeDataset
from .faults import FAULT_KINDS, Faults
from .handler import _HTTPServer
from .observe import ChargeEvent, ConnectionEvent, Event, Observer, RequestLogEntry, Stats
from .query import Query, QueryError, parse_query, request_cost, run_query
from .records import NON_ASCII_SHARE
from .routes import CONVERSATIONS_PATH, TRANSCRIPTIONS_PATH, Route, answer_transcription, resolve

if TYPE_CHECKING:  # typing.Self needs Python 3.11
    from typing_extensions import Self

__all__ = [
    "ENDPOINT",
    "FAULT_KINDS",
    "TRANSCRIPTIONS_ENDPOINT",
    "FakeConversationsAPI",
    "Faults",
    "RequestLogEntry",
    "Stats",
]

#: The conversations list.
ENDPOINT = CONVERSATIONS_PATH
#: The transcriptions list; also served: ``/{id}``, ``/{id}/sentences`` and ``/{id}/artifact``.
TRANSCRIPTIONS_ENDPOINT = TRANSCRIPTIONS_PATH


class FakeConversationsAPI(FakeDataset):
    """A fake Conversations API on loopback; use as a context manager or start()/stop().

    It serves ``GET /v2/conversations`` and ``GET /v2/transcriptions`` with one transcription's
    ``/{id}``, ``/{id}/sentences`` and ``/{id}/artifact`` (see :mod:`.routes`), from the data and
    with the changes of :class:`~.dataset.FakeDataset`.

    :param records: the conversations, a number of them to generate with ``seed``, or None (none).
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
    :param transcriptions: also serve the transcription of every conversation given or generated that
        refers to one (``transcription.id``), with its sentences, deterministic from ``seed``.
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
        transcriptions: bool = True,
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
        self._requested_port = port
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._log: deque[RequestLogEntry] = deque(maxlen=100_000)
        self._connections: set[socket.socket] = set()
        self._observers: list[Observer] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        super().__init__(
            records,
            seed=seed,
            title_chars=title_chars,
            non_ascii_share=non_ascii_share,
            transcriptions=transcriptions,
        )

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
        route = resolve(method, split.path)
        if route is None:
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
            q, unknown = parse_query(query, self.strict_params, route.spec)
            cost, error = request_cost(q.page) if route.paged else 1, None
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
        if route.listing:
            status, body = 200, self._list(route, q, faults)
        else:
            status, body = answer_transcription(route, q, self._transcripts)
        if status == 200:
            self._changes.answered(self)
        return self._respond(Answer(status, body, headers_out, delay=delay))

    def _list(self, route: Route, q: Query, faults: Faults) -> dict[str, Any]:
        """Answer a list route from its store, with the boundary quirk and the deletion fault."""
        store = self._store if route.kind == "conversations" else self._transcripts.rows
        rows, keys = store.snapshot()
        quirk = bool(q.lower or q.updated_lower) and self._draw(faults.boundary_quirk_rate)
        result = run_query(rows, q, keys=keys, quirk="prepend" if quirk else None)
        if result.quirked:
            self.stats._count(fault="boundary_quirk")
        if faults.delete_per_request > 0:
            deleting = self._store if route.kind == "conversations" else self._transcripts
            with self._lock:  # the fault draws share one seeded generator
                self.stats._count(fault="delete", n=deleting.delete_random(self._rng, faults.delete_per_request))
        return result.body

    def _inject(self, faults: Faults) -> tuple[bool, Answer | None]:
        """Draw the request-level faults: ``(True, answer or None for a drop)`` when one hits."""
        kind = next((kind for kind, rate in faults.request_rates() if self._draw(rate)), None)
        if kind is None:
            return False, None
        if kind == "drop":
            self.stats._count(fault="drop")
            return True, None
        status, html = 500, False
        if kind == "error":
            with self._lock:
                status, html = self._rng.choice((500, 502, 503)), self._rng.random() < 0.5
        retry = faults.throttle_retry_after if self.retry_after else None
        return True, self._respond(fault_answer(kind, status=status, html=html, retry_after=retry), kind)


def _shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
