"""What a :class:`~airflow_provider_conversations.testing.FakeConversationsAPI` lets a test observe.

* :class:`Stats`: thread-safe counters (requests, budget spent, statuses, faults, unknown names).
* :class:`RequestLogEntry`: one received request, as kept in ``api.request_log``.
* Events passed to the observers registered with ``api.add_observer``: :class:`ChargeEvent` for
  each request charged against (or refused by) the rate-limit budget, :class:`ConnectionEvent` for
  each connection opened or closed. Benchmarks build per-window spending and concurrency from them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .faults import FAULT_KINDS

__all__ = ["ChargeEvent", "ConnectionEvent", "Event", "Observer", "RequestLogEntry", "Stats"]


class Stats:
    """Thread-safe counters of a :class:`FakeConversationsAPI`.

    Attributes: ``requests`` (every request received), ``total_cost`` (budget spent),
    ``status_counts`` (status -> count), ``throttled`` (429 answers, budget or injected),
    ``faults`` (kind -> count, keys :data:`FAULT_KINDS`), ``unknown_params`` (names ignored),
    ``encodings`` (answers by ``Content-Encoding``: ``gzip`` or ``identity``), ``chunked`` (answers
    sent with ``Transfer-Encoding: chunked``), ``body_bytes`` (body bytes sent, as on the wire).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.total_cost = 0
        self.throttled = 0
        self.status_counts: dict[int, int] = {}
        self.faults: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self.unknown_params: set[str] = set()
        self.encodings: dict[str, int] = {}
        self.chunked = 0
        self.body_bytes = 0

    def reset(self) -> None:
        """Zero every counter in place."""
        with self._lock:
            self.requests = self.total_cost = self.throttled = 0
            self.status_counts.clear()
            self.faults.update(dict.fromkeys(FAULT_KINDS, 0))
            self.unknown_params.clear()
            self.encodings.clear()
            self.chunked = self.body_bytes = 0

    def _count(self, *, status: int | None = None, fault: str | None = None, n: int = 1) -> None:
        with self._lock:
            if status is not None:
                self.status_counts[status] = self.status_counts.get(status, 0) + 1
                self.throttled += status == 429
            if fault is not None:
                self.faults[fault] += n

    def _sent(self, encoding: str, chunked: bool, size: int) -> None:
        with self._lock:
            self.encodings[encoding] = self.encodings.get(encoding, 0) + 1
            self.chunked += chunked
            self.body_bytes += size

    def _add(self, *, requests: int = 0, cost: int = 0, unknown: list[str] | None = None) -> None:
        with self._lock:
            self.requests += requests
            self.total_cost += cost
            self.unknown_params.update(unknown or ())

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
                "encodings": dict(self.encodings),
                "chunked": self.chunked,
                "body_bytes": self.body_bytes,
            }


@dataclass(frozen=True)
class RequestLogEntry:
    """One received request. ``headers`` has a correct Authorization value masked as ``***``."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    time: float


@dataclass(frozen=True)
class ChargeEvent:
    """A request to the endpoint charged against its token's budget, or refused for lack of it.

    :param time: when the request arrived (``time.time()`` of the server); it places the charge in
        a rate-limit window.
    :param cost: the request's cost in budget points.
    :param allowed: whether it was charged (``False``: answered 429, nothing charged).
    :param remaining: the points left in the window after it.
    """

    time: float
    cost: int
    allowed: bool
    remaining: int


@dataclass(frozen=True)
class ConnectionEvent:
    """A client connection opened or closed.

    :param time: when (``time.time()`` of the server).
    :param opened: ``True`` when it opened, ``False`` when it closed.
    :param open_connections: connections open right after the change.
    """

    time: float
    opened: bool
    open_connections: int


#: What observers receive.
Event = ChargeEvent | ConnectionEvent
#: An observer: called on the server's threads, so it must be quick and thread-safe.
Observer = Callable[[Event], None]
