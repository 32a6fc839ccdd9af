"""The rate-limit budget of the fake ``GET /v2/conversations``: points per token per window.

The real API documents a budget per minute, not where a minute starts. :class:`Budget` follows one of
three window rules (:data:`WINDOW_RULES`), all on the server clock (``time.time()``):

* ``calendar``: windows aligned on multiples of ``window_seconds``; a token's budget is back in full
  at each window's start (the fake's rule before there was a choice, and still its default);
* ``first_request``: a token's window opens at its first request after its previous window expired,
  and lasts ``window_seconds``;
* ``sliding``: a request's cost counts against the token for ``window_seconds`` after it was charged.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["WINDOW_RULES", "Budget", "Charge"]

#: The window rules :class:`Budget` follows.
WINDOW_RULES = ("calendar", "first_request", "sliding")


@dataclass(frozen=True)
class Charge:
    """What charging one request gave.

    :param allowed: whether the request fits in what is left of the window (then it was charged).
    :param remaining: points left in the window after the request.
    :param wait: seconds until the budget is back (in full for windows; for ``sliding``, until enough
        spending has aged out for a refused request to fit, or for the oldest charge to age out).
    """

    allowed: bool
    remaining: int
    wait: float


class _Spending:
    """One token's spending: the open window's start and points, or the charges of the last window."""

    __slots__ = ("charges", "spent", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.spent = 0
        self.charges: deque[tuple[float, int]] = deque()  # sliding: (time, cost), oldest first


class Budget:
    """Points spent per token under one window rule; thread-safe.

    :param limit: points per token per window.
    :param window_seconds: window length in seconds.
    :param rule: one of :data:`WINDOW_RULES`.
    """

    def __init__(self, limit: int, window_seconds: float, rule: str = "calendar") -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.rule = check_rule(rule)
        self._lock = threading.Lock()
        self._spent: dict[str, _Spending] = {}

    def _current(self, token: str, now: float) -> tuple[_Spending, float]:
        """The token's spending as of ``now`` (expired spending dropped) and when its window ends."""
        window = self.window_seconds
        spending = self._spent.get(token)
        if self.rule == "calendar":
            start = (now // window) * window
            if spending is None or spending.start != start:
                spending = self._spent[token] = _Spending(start)
            return spending, start + window
        if self.rule == "first_request":
            if spending is None or now >= spending.start + window:
                spending = self._spent[token] = _Spending(now)
            return spending, spending.start + window
        if spending is None:
            spending = self._spent[token] = _Spending(now)
        while spending.charges and spending.charges[0][0] <= now - window:
            spending.spent -= spending.charges.popleft()[1]
        return spending, (spending.charges[0][0] + window) if spending.charges else now + window

    def charge(self, token: str, cost: int, now: float) -> Charge:
        """Charge ``cost`` points to ``token`` at ``now`` if they fit in what is left of its window.

        :param token: the bearer token (budgets are per token).
        :param cost: the request's cost.
        :param now: the request's time (``time.time()``).
        """
        with self._lock:
            spending, end = self._current(token, now)
            remaining = self.limit - spending.spent
            if remaining < cost:
                return Charge(False, remaining, self._wait(spending, cost, now, end))
            spending.spent += cost
            if self.rule == "sliding":
                spending.charges.append((now, cost))
        return Charge(True, remaining - cost, end - now)

    def _wait(self, spending: _Spending, cost: int, now: float, end: float) -> float:
        if self.rule != "sliding":
            return end - now
        freed, short = 0, cost - (self.limit - spending.spent)
        for at, points in spending.charges:
            freed += points
            if freed >= short:
                return at + self.window_seconds - now
        return end - now

    def remaining(self, token: str, now: float) -> int:
        """Points ``token`` has left at ``now`` (a read: it opens no ``first_request`` window).

        :param token: the bearer token.
        :param now: the time (``time.time()``).
        """
        window = self.window_seconds
        with self._lock:
            spending = self._spent.get(token)
            if spending is None:
                return self.limit
            if self.rule == "sliding":
                return self.limit - sum(cost for at, cost in spending.charges if at > now - window)
            if self.rule == "calendar":
                current = spending.start == (now // window) * window
            else:
                current = now < spending.start + window
            return self.limit - spending.spent if current else self.limit

    def reset(self) -> None:
        """Forget what was spent."""
        with self._lock:
            self._spent.clear()


def check_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`WINDOW_RULES`, else a :class:`ValueError` naming the allowed ones.

    :param rule: a window rule.
    """
    if rule not in WINDOW_RULES:
        raise ValueError(f"window_rule: {rule!r} is not a window rule; allowed: {', '.join(WINDOW_RULES)}")
    return rule
