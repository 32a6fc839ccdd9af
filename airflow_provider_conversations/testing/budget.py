"""The rate-limit budget of the fake ``GET /v2/conversations``: points per token per window.

The window rule is the fixed grid: windows aligned on multiples of ``window_seconds`` of the
server clock (``time.time()``), the budget of a token back in full at each window's start.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Budget", "Charge"]


@dataclass(frozen=True)
class Charge:
    """What charging one request gave.

    :param allowed: whether the request fits in what is left of the window (then it was charged).
    :param remaining: points left in the window after the request.
    :param wait: seconds until the window ends (the next full budget).
    """

    allowed: bool
    remaining: int
    wait: float


class Budget:
    """Points spent per token in the current window; thread-safe.

    :param limit: points per token per window.
    :param window_seconds: window length in seconds.
    """

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._spent: dict[str, tuple[int, int]] = {}  # token -> (window number, points spent in it)

    def charge(self, token: str, cost: int, now: float) -> Charge:
        """Charge ``cost`` points to ``token`` at ``now`` if they fit in what is left of its window.

        :param token: the bearer token (budgets are per token).
        :param cost: the request's cost.
        :param now: the request's time (``time.time()``).
        """
        window = int(now // self.window_seconds)
        wait = (window + 1) * self.window_seconds - now
        with self._lock:
            seen, spent = self._spent.get(token, (window, 0))
            spent = spent if seen == window else 0
            remaining = self.limit - spent
            if remaining < cost:
                return Charge(False, remaining, wait)
            self._spent[token] = (window, spent + cost)
        return Charge(True, remaining - cost, wait)

    def remaining(self, token: str, now: float) -> int:
        """Points ``token`` has left in the window of ``now``.

        :param token: the bearer token.
        :param now: the time (``time.time()``).
        """
        window = int(now // self.window_seconds)
        with self._lock:
            seen, spent = self._spent.get(token, (window, 0))
        return self.limit - (spent if seen == window else 0)

    def reset(self) -> None:
        """Forget what was spent in the current windows."""
        with self._lock:
            self._spent.clear()
