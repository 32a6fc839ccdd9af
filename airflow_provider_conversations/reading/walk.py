"""Read a timestamp range exactly once, with requests in flight at once, at one point per request.

Pure logic, no I/O: :class:`RangeWalk` says which requests to send, takes the answers in any order
and hands back the records in key order; :func:`~airflow_provider_conversations.reading.driver.read_walk`
sends them through a transport the caller gives.

The walk reads any list endpoint (:class:`~airflow_provider_conversations.api.endpoints.ListEndpoint`,
``/v2/conversations`` by default) with any further filters that turn into query parameters
(:class:`~airflow_provider_conversations.reading.ranges.RangeFilters`). The range ``[start, end)`` is
on a *key* the endpoint both sorts and filters by: ``created_at`` (the export) or ``updated_at``
(change capture), read sorted by that key ascending, ``per_page`` records a page. One path serves both keys, with two strategies behind one small interface
(:class:`~airflow_provider_conversations.reading.state.ReadStrategy`), one at a time:

1. **Numbered chunks** (:mod:`~airflow_provider_conversations.reading.chunks`), first: each chunk's page
   1 counts the records, its further pages are fetched by number, concurrently, and every page is
   checked before use, so that records leaving the range while it is read (deleted, or updated past
   its end), the API's boundary quirk and ties on one timestamp never make a survivor skipped or a
   record repeated.
2. **The keyset fallback** (:mod:`~airflow_provider_conversations.reading.keyset`), when the chunks
   cannot go on (no counts from the API, a whole chunk on one timestamp, checks that keep failing):
   sequential, from the last record taken.

So a range of ``n`` records costs about ``ceil(n / per_page)`` points plus one per chunk boundary
(one partial last page per 10,000 records at most), whatever the share of records that share a
timestamp, and requests overlap the API's latency. A record updated while an ``updated_at`` range is
read moves past its end (its new ``updated_at`` is later): the read may or may not return it, and the
next interval's read returns it, so consecutive intervals lose nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from airflow_provider_conversations.api.endpoints import CONVERSATIONS, ListEndpoint
from airflow_provider_conversations.api.filters import MAX_PER_PAGE, paging_params, validate_range
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.checks import check_int
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.reading.chunks import MAX_CHUNK_PAGES, NumberedChunkRead
from airflow_provider_conversations.reading.keyset import KeysetRead
from airflow_provider_conversations.reading.ranges import (
    NoFilters,
    RangeFilters,
    check_no_range_filters,
    check_range_key,
)
from airflow_provider_conversations.reading.state import (
    Fallback,
    PageRequest,
    ReadStrategy,
    RequestKind,
    TimedRecord,
    WalkProgress,
)

__all__ = [
    "MAX_CHUNK_PAGES",
    "Fallback",
    "PageRequest",
    "RangePage",
    "RangeWalk",
    "RequestKind",
    "TimedRecord",
    "range_bounds",
]


class RangePage(NamedTuple):
    """One page of a range read, in order: the API's answer and the records it adds.

    A tuple, so ``page, timed = range_page`` works as well.

    :param page: the API's answer (its paging metadata and rate-limit headers).
    :param timed: the records it adds (new, in range, in key order), each with its parsed key
        (``created_at``, or ``updated_at`` for a read on that key).
    """

    page: Page
    timed: list[TimedRecord]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records it adds, exactly as the API returned them."""
        return [record for record, _ in self.timed]


class RangeWalk:
    """State of a read of ``[start, end)`` on ``key`` (see the module docstring).

    Drive it with :meth:`requests` (what to send now), :meth:`receive` (an answer, in any order),
    :meth:`ready` / :meth:`pop` (the next page in order, with its new records) until :attr:`done`.

    :param start: inclusive lower bound.
    :param end: exclusive upper bound.
    :param filters: further filters (no bounds on ``key``), e.g. a
        :class:`~airflow_provider_conversations.api.filters.ConversationFilters`; default none.
    :param per_page: records per request (1..the endpoint's ``max_per_page``).
    :param max_chunk_pages: pages a chunk reads by number (at most 100 keeps every request at cost 1).
    :param key: the timestamp of the range, one of the endpoint's range keys: ``created_at``
        (default) or ``updated_at``.
    :param endpoint: the list endpoint read (default ``/v2/conversations``).
    :raises ConversationsFilterError: a key the endpoint cannot read a range on, filters on the range's
        own bounds, or ``per_page`` out of range (before any request).
    """

    def __init__(
        self,
        start: datetime,
        end: datetime,
        filters: RangeFilters | None = None,
        per_page: int = MAX_PER_PAGE,
        *,
        max_chunk_pages: int = MAX_CHUNK_PAGES,
        key: str = "created_at",
        endpoint: ListEndpoint = CONVERSATIONS,
    ) -> None:
        self.start, self.end, self.endpoint = start, end, endpoint
        self.key = check_range_key(key, endpoint.range_keys)
        self.filters = check_no_range_filters(filters or NoFilters(), keys=(key,))
        paging_params(per_page=per_page)  # validates per_page before any request
        check_int(per_page, "per_page", minimum=1, maximum=endpoint.max_per_page)
        self.per_page, self.max_chunk_pages = per_page, max_chunk_pages
        self.progress = WalkProgress(key, start, end, self.filters, per_page, endpoint)
        self._chunks = NumberedChunkRead(self.progress, max_chunk_pages)
        self._strategy: ReadStrategy = self._chunks
        #: Why the keyset fallback took over, if it did.
        self.fallback_reason: str | None = None

    @property
    def mode(self) -> str:
        """``"numbered"`` (chunks of numbered pages) or ``"keyset"`` (the sequential fallback)."""
        return "keyset" if self._strategy.kind is RequestKind.KEYSET else "numbered"

    @property
    def done(self) -> bool:
        """Whether the whole range has been read."""
        return self._strategy.done

    @property
    def rejected(self) -> int:
        """Pages thrown away because a check failed (records changed while paging, or the quirk)."""
        return self._chunks.rejected

    @property
    def chunks_started(self) -> int:
        """Chunks of numbered pages started."""
        return self._chunks.chunks_started

    @property
    def accepted_pages(self) -> int:
        """Pages whose records were taken."""
        return self.progress.accepted_pages

    @property
    def last_ts(self) -> datetime | None:
        """The key of the last record taken."""
        return self.progress.last_ts

    def requests(self, limit: int, *, lookahead: int = 8) -> list[PageRequest]:
        """Return up to ``limit`` new requests to send now.

        :param limit: free request slots.
        :param lookahead: only the next ``lookahead`` pages to consume may be in flight or waiting,
            besides page 1s and jump pages (bounds the memory held by pages that arrived early).
        """
        if self.done or limit <= 0:
            return []
        return self._strategy.requests(limit, max(1, lookahead))

    def is_live(self, request: PageRequest) -> bool:
        """Whether the answer to ``request`` is still wanted (chunks thrown away are not)."""
        return request.kind is self._strategy.kind and self._strategy.is_live(request)

    def receive(self, request: PageRequest, page: Page) -> None:
        """Take the answer to ``request`` (in any order); answers no longer wanted are ignored."""
        if self.is_live(request):
            self._strategy.receive(request, page)

    def ready(self) -> bool:
        """Whether the next page in order has arrived (then :meth:`pop` it)."""
        return not self.done and self._strategy.ready()

    def pop(self) -> tuple[Page, list[TimedRecord]]:
        """Consume the next page in order; return it with the records it adds (new, in range, in order)."""
        if not self.ready():
            raise RuntimeError("pop() called before the next page arrived")
        out = self._strategy.pop()
        fallback = self._strategy.fallback
        if fallback is not None and not self.done:
            self.fallback_reason = fallback.reason
            self._strategy = KeysetRead(self.progress, counted=fallback.counted)
        return out


def range_bounds(
    created_at: tuple[datetime | str | None, datetime | str | None],
    updated_at: tuple[datetime | str | None, datetime | str | None],
) -> tuple[str, datetime, datetime]:
    """Return ``(key, start, end)`` of a read given by one pair of bounds, checked (before any request).

    :param created_at: ``(created_at_gte, created_at_lt)``, or ``(None, None)``.
    :param updated_at: ``(updated_at_gte, updated_at_lt)``, or ``(None, None)``.
    :raises ConversationsFilterError: no pair, both pairs, or an empty, reversed or naive range.
    """
    given = [
        (key, pair) for key, pair in (("created_at", created_at), ("updated_at", updated_at)) if pair != (None, None)
    ]
    if len(given) != 1:
        raise ConversationsFilterError(
            "a range read needs exactly one pair of bounds: created_at_gte/created_at_lt or updated_at_gte/updated_at_lt"
        )
    key, (gte, lt) = given[0]
    start, end = validate_range(gte, lt, prefix=key)
    return key, start, end
