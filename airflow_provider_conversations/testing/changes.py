"""Changes to the fake's records scheduled while a run is in progress: after the Nth answered request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ChangeSchedule"]

_Api = TypeVar("_Api")


class ChangeSchedule(Generic[_Api]):
    """Callbacks to run once a given number of data requests has been answered.

    The server calls :meth:`answered` after each successful (200) data answer has been computed;
    a change due after request ``n`` runs then, so request ``n`` still sees the records before it
    and request ``n + 1`` sees them after (as when a user edits a conversation between two pages).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answered = 0
        self._due: list[tuple[int, Callable[[_Api], object]]] = []

    @property
    def answered_count(self) -> int:
        """Data requests answered so far."""
        with self._lock:
            return self._answered

    def add(self, after: int, change: Callable[[_Api], object]) -> None:
        """Run ``change(api)`` right after the ``after``-th answered data request (1-based, counted from
        the server's start; a number already passed runs after the next answer).

        :param after: the request count.
        :param change: the callback, e.g. ``lambda api: api.update_record(...)``.
        :raises ValueError: if ``after`` is not a positive integer.
        """
        if not isinstance(after, int) or isinstance(after, bool) or after < 1:
            raise ValueError(f"after: expected a request count >= 1, got {after!r}")
        with self._lock:
            self._due.append((after, change))

    def answered(self, api: _Api) -> None:
        """Count one answered data request and run the changes now due, in the order they were added.

        :param api: passed to each change.
        """
        with self._lock:
            self._answered += 1
            now = [change for after, change in self._due if after <= self._answered]
            self._due = [(after, change) for after, change in self._due if after > self._answered]
        for change in now:
            change(api)
