"""The fake API of the benchmarks, recording each charge and the connections open, through its observers.

The public ``stats`` give totals; the budget-bound share needs points per server window and the
concurrency figure the most connections open at once, so every :class:`ChargeEvent` is kept and
every :class:`ConnectionEvent` updates a high-water mark. Imported by the driver only (``run.py``),
so task processes do not load it.
"""

from __future__ import annotations

import threading
from typing import Any

from airflow_provider_conversations.testing import ChargeEvent, ConnectionEvent, FakeConversationsAPI


class RecordingAPI(FakeConversationsAPI):
    """:class:`FakeConversationsAPI` that logs each charge and the most connections open at once.

    :param args: positional arguments of :class:`FakeConversationsAPI`.
    :param kwargs: keyword arguments of :class:`FakeConversationsAPI`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.charges: list[tuple[float, int, bool]] = []  # (server time, cost, allowed)
        self._conn_lock = threading.Lock()
        self.max_open_connections = 0
        self.add_observer(self._record)

    def _record(self, event: ChargeEvent | ConnectionEvent) -> None:
        if isinstance(event, ChargeEvent):
            self.charges.append((event.time, event.cost, event.allowed))
        else:
            with self._conn_lock:
                self.max_open_connections = max(self.max_open_connections, event.open_connections)

    def reset_run(self) -> None:
        """Zero stats, budget, charge log and the connection high-water mark before a run."""
        self.reset_stats()
        self.reset_budget()
        self.charges = []
        with self._conn_lock:
            self.max_open_connections = self.open_connections

    def configure(
        self, *, rate_limit: int = 10**9, minute_seconds: float = 60.0, latency: float = 0.0, retry_after: bool
    ) -> None:
        """Switch regime between runs (these knobs are read per request).

        :param rate_limit: points per token per window.
        :param minute_seconds: the window, in seconds.
        :param latency: seconds before every answer.
        :param retry_after: send ``Retry-After`` on 429.
        """
        self.rate_limit_per_minute = rate_limit
        self.minute_seconds = minute_seconds
        self.latency = latency
        self.retry_after = retry_after
