"""Pace requests on the API's rate-limit headers so the budget is used fully but 429s stay rare.

The API grants a team a budget of cost points per minute, shared by all of its integrations, and
reports what is left in ``x-ratelimit-remaining-minute``. :class:`RateLimitPacer` is thread-safe and
transport-free: call :meth:`acquire` for the wait before a request, :meth:`observe` with the answer.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from airflow_provider_conversations.retry import retry_after_seconds


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    for key, value in headers.items():
        if key.lower() == name:
            try:
                return int(float(value))
            except ValueError:
                return None
    return None


class RateLimitPacer:
    """Hold requests back when the minute's budget is spent, until the next minute starts.

    :param window_seconds: length of the rate-limit window (60 on the real API).
    :param budget_per_minute: the team's budget per window (600 on the real API).
    :param budget_share: share of ``budget_per_minute`` this client may spend per window (0 < x <= 1);
        leaves the rest to the team's other integrations.
    :param reserve: points to leave untouched in every window, as a safety margin.
    :param clock: monotonic clock (for tests).
    """

    def __init__(
        self,
        *,
        window_seconds: float = 60.0,
        budget_per_minute: int = 600,
        budget_share: float = 1.0,
        reserve: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < budget_share <= 1:
            raise ValueError(f"budget_share: {budget_share} is out of range; allowed: 0 < budget_share <= 1")
        self.window_seconds = window_seconds
        # Our own spending is only capped when we must leave part of the budget to others; with the whole
        # budget ours, the API's remaining-budget header is the better guide.
        self.cap: int | None = max(1, int(budget_per_minute * budget_share)) if budget_share < 1 else None
        self.reserve = reserve
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._remaining: int | None = None
        self._window_end: float | None = None
        self._spent = 0
        self._in_flight = 0
        self._blocked_until = 0.0
        self.last_remaining: int | None = None
        self.waits = 0
        self.waited_seconds = 0.0

    def _roll_window(self, now: float) -> None:
        if self._window_end is not None and now >= self._window_end:
            # A new minute: the budget is back. Keep the phase of the window.
            periods = int((now - self._window_end) // self.window_seconds) + 1
            self._window_end += periods * self.window_seconds
            self._remaining = None
            self._spent = 0

    def acquire(self, cost: int = 1) -> float:
        """Reserve ``cost`` points and return the seconds to wait before sending (0 to go now)."""
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:  # the API said when to come back (Retry-After)
                self._in_flight += cost
                self.waits += 1
                self.waited_seconds += self._blocked_until - now
                return self._blocked_until - now
            self._roll_window(now)
            over_cap = self.cap is not None and self._spent + self._in_flight + cost > self.cap
            blocked = over_cap or (
                self._remaining is not None and self._remaining - self._in_flight - cost < self.reserve
            )
            if blocked and self._window_end is not None:
                wait = max(0.0, self._window_end - now) + self._rng.uniform(0.0, 0.02 * self.window_seconds)
                # The request goes out in the next window: count it there.
                self._window_end += self.window_seconds
                self._remaining = None
                self._spent = 0
                self._in_flight = cost
                self.waits += 1
                self.waited_seconds += wait
                return wait
            self._in_flight += cost
            return 0.0

    def release(self, cost: int = 1) -> None:
        """Give back a reservation whose request got no answer (a connection error)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - cost)

    def observe(self, headers: Mapping[str, str], *, reserved: int = 1, status: int = 200) -> None:
        """Update the budget from a response's headers.

        :param headers: response headers.
        :param reserved: the cost reserved by :meth:`acquire` for this request.
        :param status: response status; a 429 means the window is exhausted.
        """
        remaining = _header_int(headers, "x-ratelimit-remaining-minute")
        cost = _header_int(headers, "x-ratelimit-endpoint-cost")
        retry_after = retry_after_seconds(headers) if status == 429 else None
        with self._lock:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - reserved)
            if retry_after is not None:
                # The API named the moment the budget is back: trust it over our own estimate.
                self._blocked_until = max(self._blocked_until, now + retry_after)
                return
            if status != 429:
                self._spent += cost if cost is not None else reserved
            if remaining is None:
                return
            if (
                self._window_end is not None
                and self._remaining is not None
                and remaining > self._remaining + max(1, self._in_flight) + 1
            ):
                # The budget went up: a new window has just started on the server.
                self._window_end = now + self.window_seconds
                self._spent = cost or 0
            elif self._window_end is None:
                self._window_end = now + self._seconds_to_window_end(headers)
            self._remaining = 0 if status == 429 else remaining
            self.last_remaining = remaining

    def _seconds_to_window_end(self, headers: Mapping[str, str]) -> float:
        for key, value in headers.items():
            if key.lower() == "date":
                try:
                    ts = parsedate_to_datetime(value).timestamp()
                except (TypeError, ValueError):
                    break
                return self.window_seconds - (ts % self.window_seconds)
        return self.window_seconds
