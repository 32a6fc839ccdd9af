"""What a hook's requests did: attempts, retries, rate-limit points spent, 429s (thread-safe counters)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

__all__ = ["RequestStats"]


@dataclass
class RequestStats:
    """What a hook's requests did, for the hook's lifetime (shared by its threads).

    :param requests: attempts sent, retries included.
    :param retries: attempts that were retries.
    :param cost: rate-limit points spent (``x-ratelimit-endpoint-cost``; 1 when the API does not say).
    :param throttled: 429 answers.
    """

    requests: int = 0
    retries: int = 0
    cost: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (thread-safe).

        :param name: ``requests``, ``retries``, ``cost`` or ``throttled``.
        :param n: the amount.
        """
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        """The counters as a dict."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}
