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

from airflow_provider_conversations.headers import int_header, retry_after_seconds, server_time


class RateLimitPacer:
    """Hold requests back when the window's budget is spent, until the next window starts.

    Thread-safe and transport-free: call :meth:`acquire` before a request (it returns how long to wait
    and a ticket), then :meth:`observe` with the answer's headers (or :meth:`release` when none came).
    Reservations of requests in flight count against the budget, so concurrent requests overlap the
    API's latency without overdrawing. Answers to requests sent in an earlier window say nothing about
    the current one and only settle their reservation.

    :param window_seconds: length of the rate-limit window (60 on the real API).
    :param budget_per_minute: the team's budget per window (600 on the real API).
    :param budget_share: share of ``budget_per_minute`` this pacer may spend per window (0 < x <= 1);
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
        self.budget_per_minute = budget_per_minute
        # Our own spending is only capped when we must leave part of the budget to others; with the whole
        # budget ours, the API's remaining-budget header is the better guide.
        self.cap: int | None = max(1, int(budget_per_minute * budget_share)) if budget_share < 1 else None
        self.reserve = reserve
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._generation = 0
        self._window_end: float | None = None
        self._remaining: int | None = None
        self._spent = 0
        self._in_flight = 0
        self._blocked_until = 0.0
        self._peak_in_flight = 1
        self.last_remaining: int | None = None
        self.waits = 0
        self.waited_seconds = 0.0

    def _new_window(self, end: float) -> None:
        self._generation += 1
        self._window_end, self._remaining, self._spent, self._in_flight = end, None, 0, 0

    def _wait(self, until: float, now: float, cost: int) -> tuple[float, int]:
        self._in_flight += cost
        self.waits += 1
        self.waited_seconds += until - now
        return until - now, self._generation

    def acquire(self, cost: int = 1) -> tuple[float, int]:
        """Reserve ``cost`` points; return the seconds to wait before sending (0: now) and a ticket."""
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                return self._wait(self._blocked_until, now, cost)
            if self._window_end is not None and now >= self._window_end:
                # A new window: the budget is back. Keep the phase.
                periods = int((now - self._window_end) // self.window_seconds) + 1
                self._new_window(self._window_end + periods * self.window_seconds)
            over_cap = self.cap is not None and self._spent + self._in_flight + cost > self.cap
            spent = self._remaining is not None and self._remaining - self._in_flight - cost < self.reserve
            if (over_cap or spent) and self._window_end is not None:
                # Everything from now on goes out in the next window, a little after it starts.
                self._blocked_until = self._window_end + self._rng.uniform(0.0, 0.01 * self.window_seconds)
                self._new_window(self._window_end + self.window_seconds)
                return self._wait(self._blocked_until, now, cost)
            self._in_flight += cost
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            return 0.0, self._generation

    def release(self, ticket: int, cost: int = 1) -> None:
        """Give back the reservation of a request that got no answer."""
        with self._lock:
            if ticket == self._generation:
                self._in_flight = max(0, self._in_flight - cost)

    def observe(self, headers: Mapping[str, str], ticket: int, *, reserved: int = 1, status: int = 200) -> None:
        """Settle a request's reservation and learn the budget from its answer's headers.

        :param headers: response headers.
        :param ticket: what :meth:`acquire` returned for this request.
        :param reserved: the cost reserved by :meth:`acquire`.
        :param status: response status; a 429 means the window is exhausted.
        """
        remaining = int_header(headers, "x-ratelimit-remaining-minute")
        cost = int_header(headers, "x-ratelimit-endpoint-cost")
        retry_after = retry_after_seconds(headers) if status == 429 else None
        with self._lock:
            now = self._clock()
            current = ticket == self._generation
            if current:
                self._in_flight = max(0, self._in_flight - reserved)
                if status != 429:
                    self._spent += cost if cost is not None else reserved
            if retry_after is not None:
                # The API named the moment the budget is back: trust it over our own estimate.
                if now + retry_after > self._blocked_until:
                    self._blocked_until = now + retry_after
                    self._new_window(now + retry_after + self.window_seconds)
                return
            if self._window_end is None:
                self._window_end = now + self._seconds_to_window_end(headers)
            if status == 429:
                if current:
                    self._remaining = 0
                return
            if remaining is None or not current:
                return
            self.last_remaining = remaining
            # Answers to concurrent requests arrive out of order, and other tasks of the team spend between
            # them: only a rise beyond both (a tenth of the budget at least) means the server started a new
            # window. A smaller reset goes unnoticed until our own estimate of the window's end, which errs on
            # the safe side.
            rise = max(self._peak_in_flight + 1, self.budget_per_minute // 10)
            if self._remaining is not None and remaining > self._remaining + rise:
                self._new_window(now + self.window_seconds)
                self._spent = cost or 0
                self._remaining = remaining
                return
            self._remaining = remaining if self._remaining is None else min(self._remaining, remaining)

    def _seconds_to_window_end(self, headers: Mapping[str, str]) -> float:
        if self.window_seconds < 10:
            # The Date header's 1 s resolution says nothing useful about so short a window.
            return self.window_seconds
        clock = server_time(headers)
        return self.window_seconds - (clock % self.window_seconds) if clock is not None else self.window_seconds
