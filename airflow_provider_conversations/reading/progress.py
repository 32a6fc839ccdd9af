"""Progress of a long range read, logged about once a minute (never once a page)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from airflow_provider_conversations.api.wire import Page

#: Seconds between two progress lines of one read.
PROGRESS_EVERY_SECONDS = 60.0


class InfoLog(Protocol):
    """Where progress lines go: anything with ``info(message, *args)``, as a logger has."""

    def info(self, msg: str, /, *args: object) -> object:
        """Log ``msg % args`` at INFO."""
        ...


class ReadProgress:
    """Count a read's answers and records, and log them with the budget left about once a minute.

    A line is written when a page is taken at least :attr:`every` seconds after the read began or after
    the last line, so a read shorter than that logs nothing here.

    :param log: where the lines go (the hook's logger, so they land in the task log).
    :param subject: what is read, for the message, e.g. ``conversations by created_at in [a, b)``.
    :param every: seconds between two lines.
    :param clock: monotonic clock in seconds (for tests).
    """

    def __init__(
        self,
        log: InfoLog,
        subject: str,
        *,
        every: float = PROGRESS_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.subject, self.every, self._clock = log, subject, every, clock
        #: Records taken, pages answered, and the rate-limit points they cost.
        self.records = self.pages = self.points = 0
        #: ``x-ratelimit-remaining-minute`` of the latest answer that sent it.
        self.budget_left: int | None = None
        #: Progress lines written.
        self.lines = 0
        self._last_line = clock()

    def answered(self, page: Page) -> None:
        """Count an answer the read asked for (checked or not yet).

        :param page: the answer.
        """
        self.pages += 1
        self.points += page.cost if page.cost is not None else 1
        if page.remaining is not None:
            self.budget_left = page.remaining

    def taken(self, records: int) -> None:
        """Count the records a page added, and log the progress if a line is due.

        :param records: how many.
        """
        self.records += records
        now = self._clock()
        if now - self._last_line < self.every:
            return
        self._last_line = now
        self.lines += 1
        budget = "unknown" if self.budget_left is None else str(self.budget_left)
        self.log.info(
            "Still reading %s: %d records, %d pages (%d points) so far; rate-limit budget left this minute: %s",
            self.subject,
            self.records,
            self.pages,
            self.points,
            budget,
        )
