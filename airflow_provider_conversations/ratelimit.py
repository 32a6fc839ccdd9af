"""Pace requests on the API's rate-limit headers so the budget is used fully but 429s stay rare.

The API grants a team a budget of cost points per minute, shared by all of its integrations, and
reports what is left in ``x-ratelimit-remaining-minute``; it does not say where a minute starts. The
pacer learns that from the answers: a window's end is placed one window after the first answer seen in
it (so it is never early, whether windows are calendar-aligned or opened by the first request after
the last one expired), and a budget that comes back only in part when a window should have turned
means a sliding window, where each point returns one window after it was spent: the pacer then waits
for its own points to age out instead of for a whole window. :class:`RateLimitPacer` is thread-safe
and transport-free: call :meth:`acquire` for the wait before a request, :meth:`observe` with the answer.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from airflow_provider_conversations.headers import int_header, retry_after_seconds, server_time


class RateLimitPacer:
    """Hold requests back when the window's budget is spent, until the next window starts.

    Thread-safe and transport-free: call :meth:`acquire` before a request (it returns how long to wait
    and a ticket), then :meth:`observe` with the answer's headers (or :meth:`release` when none came).
    Reservations of requests in flight count against the budget, so concurrent requests overlap the
    API's latency without overdrawing. Answers to requests sent in an earlier window say nothing about
    the current one and only settle their reservation. See the module docstring for how the window is
    learnt; :attr:`sliding` tells whether the budget was seen to come back gradually.

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
        # Learning the window: the first answer after a block places the window's end; our own charges
        # (when each returns to a sliding budget, and its cost) say when to wake in a sliding window.
        self._reanchor = False
        self._anchor_at: float | None = None  # our first answer in the window we believe in force
        self._charges: deque[tuple[float, int]] = deque()
        self._observed_at = float("-inf")
        self.sliding = False
        # Others' spending: (remaining, our charges so far) at our last answer, their points in this window
        # since our first answer in it, and our requests' round trip (send times, oldest first).
        self._last_seen: tuple[int, int] | None = None
        self._charged = 0
        self._others = 0.0
        self._others_since: float | None = None
        self._sent_at: deque[float] = deque()
        self._rtt = 0.0
        self.last_remaining: int | None = None
        self.waits = 0
        self.waited_seconds = 0.0

    def _new_window(self, end: float) -> None:
        self._generation += 1
        self._window_end, self._remaining, self._spent, self._in_flight = end, None, 0, 0
        self._last_seen = None
        self._others, self._others_since = 0.0, None

    @property
    def margin(self) -> int:
        """Points left unspent in every window: :attr:`reserve`, plus what other tasks of the team were
        seen to spend while one of our requests is in flight (their requests the last answer cannot show)."""
        if self._rtt <= 0 or self._others_since is None:
            return self.reserve
        span = max(self._clock() - self._others_since, self._rtt)
        return self.reserve + math.ceil(1.5 * self._others * self._rtt / span)

    def _wait(self, until: float, now: float, cost: int) -> tuple[float, int]:
        self._in_flight += cost
        self._sent_at.append(until)
        self.waits += 1
        self.waited_seconds += until - now
        return until - now, self._generation

    def acquire(self, cost: int = 1) -> tuple[float, int]:
        """Reserve ``cost`` points; return the seconds to wait before sending (0: now) and a ticket."""
        with self._lock:
            now = self._clock()
            self._age_out(now)
            if now < self._blocked_until:
                return self._wait(max(self._blocked_until, self._wake_time(now, cost) or 0.0), now, cost)
            if self._window_end is not None and now >= self._window_end and not self.sliding:
                # A new window: the budget is back. Keep the phase until an answer places it.
                periods = int((now - self._window_end) // self.window_seconds) + 1
                self._new_window(self._window_end + periods * self.window_seconds)
                self._reanchor = True
            over_cap = self.cap is not None and self._spent_now() + self._in_flight + cost > self.cap
            spent = self._remaining is not None and self._remaining - self._in_flight - cost < self.margin
            if (over_cap or spent) and self.sliding:
                wake = self._wake_time(now, cost)
                if wake is not None:
                    self._blocked_until = wake
                    return self._wait(wake, now, cost)
            if (over_cap or spent) and self._window_end is not None:
                # Everything from now on goes out in the next window, a little after it starts.
                self._blocked_until = self._window_end + self._rng.uniform(0.0, 0.01 * self.window_seconds)
                self._new_window(self._window_end + self.window_seconds)
                self._reanchor = True
                return self._wait(self._blocked_until, now, cost)
            self._in_flight += cost
            self._sent_at.append(now)
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            return 0.0, self._generation

    def _spent_now(self) -> int:
        """Our points counting against the budget now: this window's, or the last window's when sliding."""
        return sum(c for _, c in self._charges) if self.sliding else self._spent

    def _age_out(self, now: float) -> None:
        """Drop our charges that returned to a sliding budget; credit those no answer has shown back yet."""
        while self._charges and self._charges[0][0] <= now:
            back, cost = self._charges.popleft()
            if self.sliding and self._remaining is not None and back > self._observed_at:
                self._remaining += cost

    def _wake_time(self, now: float, cost: int) -> float | None:
        """When enough of our own points return to a sliding budget for this request (None: not sliding,
        or too few of ours out there to tell)."""
        if not self.sliding:
            return None
        short = cost + self._in_flight + self.margin - (self._remaining if self._remaining is not None else 0)
        if self.cap is not None:
            short = max(short, self._spent_now() + self._in_flight + cost - self.cap)
        for back, points in self._charges:
            short -= points
            if short <= 0:
                return max(back, now)
        return None

    def release(self, ticket: int, cost: int = 1) -> None:
        """Give back the reservation of a request that got no answer."""
        with self._lock:
            if self._sent_at:
                self._sent_at.popleft()
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
            if self._sent_at:
                sent = self._sent_at.popleft()
                if now >= sent:  # answers overtake each other: the mean round trip is what matters
                    self._rtt += (now - sent - self._rtt) / 8
            if current:
                self._in_flight = max(0, self._in_flight - reserved)
            if status != 429:
                charged = cost if cost is not None else reserved
                # The server charged it about half a round trip before its answer came back.
                self._charges.append((now - self._rtt / 2 + self.window_seconds, charged))
                self._charged += charged
                self._spent += charged if current else 0
            if retry_after is not None:
                # The API named the moment the budget is back: trust it over our own estimate.
                if now + retry_after > self._blocked_until:
                    self._blocked_until = now + retry_after
                    self._new_window(now + retry_after + self.window_seconds)
                return
            if self._window_end is None:
                self._window_end, self._anchor_at = now + self._seconds_to_window_end(headers), now
            if status == 429:
                if current:
                    self._remaining = 0
                return
            if remaining is None or not current:
                return
            self.last_remaining = remaining
            self._observed_at = now
            if self._reanchor:
                # The first answer after a block: the window in force began before it, so it ends at most one
                # window from now. A budget far from full where a window should have begun: a sliding window.
                self._reanchor = False
                back = remaining >= self.budget_per_minute // 2
                if not back and self._anchor_at is not None and now < self._anchor_at + self.window_seconds:
                    # The Date header placed the end (calendar windows) but the budget is not back: the window
                    # was opened by a request, at the latest by our first one in it.
                    self._window_end = self._anchor_at + self.window_seconds
                else:
                    self._window_end, self._anchor_at = now + self.window_seconds, now
                    self.sliding = not back
            # Answers to concurrent requests arrive out of order, and other tasks of the team spend between
            # them: only a rise beyond both (a tenth of the budget at least) means the server started a new
            # window. A smaller reset goes unnoticed until our own estimate of the window's end, which errs on
            # the safe side.
            rise = max(self._peak_in_flight + 1, self.budget_per_minute // 10)
            if self._remaining is not None and remaining > self._remaining + rise:
                if remaining >= self.budget_per_minute // 2:
                    self.sliding = False  # the budget came back in one piece: a window turned
                self._new_window(now + self.window_seconds)
                self._anchor_at = now
                self._spent = cost or 0
                self._remaining = remaining
                return
            if self._last_seen is not None:
                # What the budget lost since our previous answer beyond our own charges: other tasks' spending.
                before, charged = self._last_seen
                self._others += max(0, before - remaining - (self._charged - charged))
            else:
                self._others_since = now
            self._last_seen = (remaining, self._charged)
            self._remaining = remaining if self._remaining is None else min(self._remaining, remaining)

    def _seconds_to_window_end(self, headers: Mapping[str, str]) -> float:
        if self.window_seconds < 10:
            # The Date header's 1 s resolution says nothing useful about so short a window.
            return self.window_seconds
        clock = server_time(headers)
        return self.window_seconds - (clock % self.window_seconds) if clock is not None else self.window_seconds
