"""The keyset fallback of a range read: one request at a time, the lower bound moving with the records.

Pure logic, no I/O; the second strategy of :class:`~airflow_provider_conversations.reading.walk.RangeWalk`.
It runs :class:`~airflow_provider_conversations.reading.cursor.KeysetCursor` from where the numbered chunks
stopped (the last key taken, its ids dropped), so no record is read twice or skipped at the hand-over.
"""

from __future__ import annotations

from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.reading.cursor import KeysetCursor
from airflow_provider_conversations.reading.ranges import record_time
from airflow_provider_conversations.reading.state import Fallback, PageRequest, RequestKind, TimedRecord, WalkProgress


class KeysetRead:
    """The keyset strategy: the rest of the range, sequentially, each request at cost 1.

    :param progress: the range and how far it has been read.
    :param counted: start the cursor in its counted mode (see :mod:`~airflow_provider_conversations.reading.ranges`).
    """

    kind = RequestKind.KEYSET
    #: Never set: this strategy reads to the end of the range.
    fallback: Fallback | None = None

    def __init__(self, progress: WalkProgress, *, counted: bool) -> None:
        self.progress = progress
        self.cursor = KeysetCursor(
            progress.bound(),
            progress.end,
            progress.filters,
            progress.per_page,
            counted=counted,
            key=progress.key,
            taken=progress.ids_at_last if progress.last_ts is not None else (),
            endpoint=progress.endpoint,
        )
        self.done = False
        self._serial = 0
        self._sent = False
        self._page: Page | None = None

    def requests(self, limit: int, lookahead: int) -> list[PageRequest]:
        """Return the next request, unless one is in flight (the cursor is sequential).

        :param limit: free request slots (at least 1).
        :param lookahead: unused (one request at a time).
        """
        if self.done or self._sent or limit <= 0:
            return []
        self._sent = True
        self._serial += 1
        params = tuple(self.cursor.params())
        page = int(dict(params).get("page", "1"))
        return [PageRequest(self.kind, self._serial, page, params, self.progress.endpoint.path)]

    def is_live(self, request: PageRequest) -> bool:
        """Whether ``request`` is the one awaited.

        :param request: a keyset request.
        """
        return request.serial == self._serial

    def receive(self, request: PageRequest, page: Page) -> None:
        """Take the answer to the awaited request.

        :param request: the request.
        :param page: its answer.
        """
        self._page = page

    def ready(self) -> bool:
        """Whether the awaited answer has arrived."""
        return not self.done and self._page is not None

    def pop(self) -> tuple[Page, list[TimedRecord]]:
        """Consume the answer; return it with the records it adds (new, in range, in order)."""
        assert self._page is not None
        page, self._page, self._sent = self._page, None, False
        records = self.cursor.advance(page.records, has_next=page.has_next, total=page.total_count)
        fresh: list[TimedRecord] = []
        for record in records:
            ts = record_time(record, self.progress.key)
            fresh.append((record, ts))
            self.progress.note(record["id"], ts)
        self.progress.accepted_pages += 1
        self.done = self.cursor.done
        return page, fresh
