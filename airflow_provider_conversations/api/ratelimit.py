"""Pace requests on the API's rate-limit headers so the budget is used fully but 429s stay rare.

The API grants a team a budget of cost points per minute, shared by all of its integrations, and
reports what is left in ``x-ratelimit-remaining-minute``; it does not say where a minute starts
(calendar minutes, a minute opened by the first request after the last one expired, a sliding
minute). The pacer needs no answer to that. It rests on one fact true of each of them: **a point
comes back at most one window after it was charged**, so each of our own points is certainly back
one window after its answer came. The pacer keeps the remaining budget the answers report, less its
requests in flight and a margin, and adds its own points back as they come due; when the budget is
short it waits until enough of them are due. When an answer reports more than that account explains,
the server gave points back early (a window turned, or other tasks' points came back): the pacer
takes the answer's figure and forgets the points the answer shows returned, so none is counted twice.

Under calendar windows the first answer after the turn shows the whole budget back; under windows
opened by a request, our first point of a window is due exactly when the window ends; under a
sliding window each point is due when it returns. :class:`RateLimitPacer` is thread-safe and
transport-free: call :meth:`~RateLimitPacer.acquire` for the wait before a request and
:meth:`~RateLimitPacer.observe` with the answer.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from airflow_provider_conversations.api.headers import int_header, retry_after_seconds


class PointLedger:
    """Our charged points, oldest first: each with when its answer came and when it is certainly back
    (one window after that answer), and their sum.
    """

    def __init__(self) -> None:
        self._entries: deque[tuple[float, float, int]] = deque()  # (due, answered, points)
        #: The points held.
        self.points = 0

    def charge(self, points: int, answered: float, due: float) -> None:
        """Hold ``points`` answered at ``answered``, back by ``due``.

        :param points: the points charged.
        :param answered: when the answer came.
        :param due: when they are certainly back.
        """
        self._entries.append((due, answered, points))
        self.points += points

    def settle(self, now: float) -> int:
        """Drop the points due back by ``now``; return how many.

        :param now: the clock.
        """
        back = 0
        while self._entries and self._entries[0][0] <= now:
            back += self._entries.popleft()[2]
        self.points -= back
        return back

    def clear(self) -> None:
        """Drop every point."""
        self._entries.clear()
        self.points = 0

    def due_for(self, short: int) -> float | None:
        """When ``short`` more of the points held are back, or ``None`` if the ledger holds fewer.

        :param short: points needed.
        """
        for due, _, points in self._entries:
            short -= points
            if short <= 0:
                return due
        return None

    def answered_by(self, sent: float) -> int:
        """The points whose answers came by ``sent``.

        :param sent: a moment.
        """
        return sum(points for _, answered, points in self._entries if answered <= sent)

    def forget_answered_by(self, sent: float, *, limit: int | None = None, due_by: float | None = None) -> None:
        """Drop the oldest points whose answers came by ``sent``: all of them, or about ``limit`` of them among
        those due back by ``due_by``.

        :param sent: a moment.
        :param limit: drop entries until at least this many points went (``None``: no limit).
        :param due_by: drop only entries due back by then.
        """
        while self._entries and self._entries[0][1] <= sent and (limit is None or limit > 0):
            if due_by is not None and self._entries[0][0] > due_by:
                return
            points = self._entries.popleft()[2]
            self.points -= points
            if limit is not None:
                limit -= points


class RateLimitPacer:
    """Hold requests back while the budget is spent, until enough of it is certainly back.

    Thread-safe and transport-free: call :meth:`acquire` before a request (it returns how long to wait
    and a ticket), then :meth:`observe` with the answer's headers (or :meth:`release` when none came).
    Reservations of requests in flight count against the budget, so concurrent requests overlap the
    API's latency without overdrawing. See the module docstring for the mechanism.

    Two ledgers hold the same points of ours, for two questions: ``_unreturned`` holds those the
    remaining-budget account has taken off and not yet added back (an answer showing them back early
    removes them), ``_window_spend`` all of them until they are certainly back (``budget_share``
    caps it; nothing removes them early).

    :param window_seconds: length of the rate-limit window (60 on the real API).
    :param budget_per_minute: the team's budget per window (600 on the real API).
    :param budget_share: share of ``budget_per_minute`` this pacer may have spent within any window
        (0 < x <= 1); leaves the rest to the team's other integrations.
    :param reserve: points to leave unspent, as a safety margin for other tasks' requests in flight
        (the hook keeps ``2 x max_concurrency``).
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
        # The remaining budget the answers show, less our points charged since and plus our points due back
        # since; None until the first answer. Requests in flight are counted apart, in _in_flight.
        self._remaining: int | None = None
        self._unreturned = PointLedger()
        self._window_spend = PointLedger()
        self._in_flight = 0
        self._peak_in_flight = 0  # our most requests in flight at once
        self._tickets = 0
        self._sent: dict[int, float] = {}  # ticket -> when the request goes out
        self._answered: deque[float] = deque()  # when recent answers came, oldest first
        # By when everything the answers counted is back: one window after the last answer, or a Retry-After.
        self._all_back: float | None = None
        self._rise_sent = float("-inf")  # when the request whose answer last showed points back early went out
        self._blocked_until = 0.0  # a Retry-After: no request goes before it
        # Other tasks' requests in flight (estimated), and when an answer last showed them spending.
        self._others_in_flight = 0
        self._others_seen = float("-inf")

    @property
    def margin(self) -> int:
        """Points left unspent: :attr:`reserve`, plus an estimate (up to another :attr:`reserve`) of other
        tasks' requests in flight, which the last answer cannot show yet; alone, the reserve."""
        return self.reserve + self._others_in_flight

    def acquire(self, cost: int = 1) -> tuple[float, int]:
        """Reserve ``cost`` points; return the seconds to wait before sending (0: now) and a ticket.

        :param cost: the request's cost.
        """
        with self._lock:
            now = self._clock()
            self._settle_due(now)
            go = max(now, self._blocked_until)
            if self._remaining is not None:
                short = cost + self._in_flight + self.margin - self._remaining
                if short > 0:
                    go = max(go, self._back_by(self._unreturned, short))
            if self.cap is not None:
                short = self._window_spend.points + self._in_flight + cost - self.cap
                if short > 0:
                    go = max(go, self._back_by(self._window_spend, short))
            self._in_flight += cost
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            self._tickets += 1
            self._sent[self._tickets] = go
            return go - now, self._tickets

    def _back_by(self, ledger: PointLedger, short: int) -> float:
        """When ``short`` more of the ``ledger``'s points are certainly back, or one window after the last
        answer, by when everything that answer counted is back, if that is sooner."""
        fallback = self._all_back if self._all_back is not None else self._clock()
        due = ledger.due_for(short)
        return fallback if due is None else min(due, fallback)

    def _settle_due(self, now: float) -> None:
        """Add our points due back by ``now`` to the remaining budget."""
        self._window_spend.settle(now)
        if self._all_back is not None and now >= self._all_back:
            # Everything the last answer counted was charged within the window before it, so it is back now.
            self._unreturned.clear()
            self._remaining = None if self._remaining is None else self.budget_per_minute
            self._all_back = None
            return
        back = self._unreturned.settle(now)
        if back and self._remaining is not None:
            self._remaining = min(self.budget_per_minute, self._remaining + back)

    def release(self, ticket: int, cost: int = 1) -> None:
        """Give back the reservation of a request that got no answer.

        :param ticket: what :meth:`acquire` returned for this request.
        :param cost: the cost reserved by :meth:`acquire`.
        """
        with self._lock:
            self._sent.pop(ticket, None)
            self._in_flight = max(0, self._in_flight - cost)

    def observe(self, headers: Mapping[str, str], ticket: int, *, reserved: int = 1, status: int = 200) -> None:
        """Settle a request's reservation and learn the budget from its answer's headers.

        :param headers: response headers.
        :param ticket: what :meth:`acquire` returned for this request.
        :param reserved: the cost reserved by :meth:`acquire`.
        :param status: response status; a 429 means the budget is exhausted.
        """
        remaining = int_header(headers, "x-ratelimit-remaining-minute")
        cost = int_header(headers, "x-ratelimit-endpoint-cost")
        retry_after = retry_after_seconds(headers) if status == 429 else None
        with self._lock:
            now = self._clock()
            sent = self._sent.pop(ticket, now)
            self._in_flight = max(0, self._in_flight - reserved)
            self._settle_due(now)
            later = self._note_answer(sent, now, retry_after)
            self._charge(0 if status == 429 else (cost if cost is not None else reserved), now)
            if sent < self._rise_sent:
                return  # it left before the answer that showed points back early: its figure is older news
            if status == 429:
                self._remaining = 0
            elif remaining is not None:
                self._reconcile(remaining - later, remaining, sent, now, later)

    def _note_answer(self, sent: float, now: float, retry_after: float | None) -> int:
        """Note an answer that came at ``now`` (and by when all it counted is back); return how many answers
        came while its request was out (their requests may have been charged after it)."""
        later = len(self._answered) - bisect.bisect_right(self._answered, sent)
        self._answered.append(now)
        while len(self._answered) > 256:
            self._answered.popleft()
        self._all_back = now + self.window_seconds
        if retry_after is not None:
            # The API named the moment the budget is back: trust it over our own account.
            self._blocked_until = max(self._blocked_until, now + retry_after)
            self._all_back = now + retry_after
        return later

    def _charge(self, points: int, now: float) -> None:
        """Take ``points`` answered at ``now`` off the remaining budget; both ledgers hold them."""
        if points:
            self._unreturned.charge(points, now, now + self.window_seconds)
            self._window_spend.charge(points, now, now + self.window_seconds)
        if self._remaining is not None:
            self._remaining -= points

    def _reconcile(self, shown: int, remaining: int, sent: float, now: float, later: int) -> None:
        """Bring the account to what an answer shows.

        :param shown: the most the answer can tell is left now (``remaining`` less the answers that came
            while its request was out: their requests may have been charged after it).
        :param remaining: the answer's ``x-ratelimit-remaining-minute``.
        :param sent: when its request went out.
        :param now: when it came.
        :param later: answers that came while its request was out.
        """
        if self._remaining is None:
            self._remaining = shown
        elif shown > self._remaining:
            # More than our account holds: the server gave points back early.
            self._points_back(shown - self._remaining, sent, now, later + self._in_flight)
            self._remaining = shown
        elif remaining + self._in_flight < self._remaining:
            # Less than our account: others spent meanwhile. The figure may already count some of ours in
            # flight, which are counted apart.
            self._remaining = remaining + self._in_flight
            self._others_seen = now
        self._measure_others(now, remaining)

    def _measure_others(self, now: float, remaining: int) -> None:
        """Estimate other tasks' requests in flight, which the answers cannot show yet, while others were seen
        spending within the last window: the team's points in force beyond ours, with as many of them in flight
        per point as ours (other tasks are like us)."""
        if now - self._others_seen > self.window_seconds:
            self._others_in_flight = 0
            return
        mine = self._window_spend.points
        others = max(0, self.budget_per_minute - remaining - mine)
        share = self._peak_in_flight / max(mine, self._peak_in_flight, 1)
        self._others_in_flight = min(self.reserve, math.ceil(others * share))

    def _points_back(self, back: int, sent: float, now: float, unsure: int) -> None:
        """The server shows ``back`` points more than our account: points came back early. Forget those of
        ours charged before this request that it shows back, so that none is added back again: all of them
        when ``back`` covers them (give or take our ``unsure`` points in flight around it: a window turned),
        else as many as ``back`` of those that may be back by now (others' points came back too)."""
        self._rise_sent = sent
        if back + unsure >= self._unreturned.answered_by(sent):
            self._unreturned.forget_answered_by(sent)
        else:
            soon = now + (now - sent)  # due within a round trip: the server may have given it back already
            self._unreturned.forget_answered_by(sent, limit=back, due_by=soon)
