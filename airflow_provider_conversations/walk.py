"""Read a ``created_at`` range exactly once, with requests in flight at once, at one point per request.

Pure logic, no I/O: :class:`RangeWalk` says which requests to send, takes the answers in any order
and hands back the records in ``created_at`` order. The hook's driver runs it on a thread pool.

How it reads ``[start, end)``, sorted by ``created_at`` ascending, ``per_page`` records a page:

* A **chunk** is the rest of the range from a lower bound ``t`` (``created_at[gte]=t``). Its page 1
  (with ``include_paging_counts``) tells how many records it holds (``N``); its pages 2..P are then
  fetched **by page number, concurrently**. Pages up to 100 cost 1 point each on the real API, so a
  chunk reads at most 100 pages; when ``N`` needs more, page 100's last record starts the next chunk
  (requested as soon as page 100 arrives, so the next chunk overlaps the rest of this one).
* Page numbers shift when records are deleted (or the API's boundary quirk adds a row) while we
  page, and would then skip a survivor. So every page is checked before it is used: it must report
  the same ``N``, hold exactly the records its position implies (records outside the range are
  dropped first), start at or after the records already taken, and repeat no record of its chunk.
  A page that fails is thrown away with everything after it, and a new chunk starts at the last
  record taken (ids already taken at that timestamp are dropped). A miss always shows in one of
  these checks: a page that lost a record to an earlier page either reports another ``N`` or
  repeats one of that page's records.
* An API that sends no counts, or a walk that keeps failing its checks (records deleted all the
  time), finishes with the sequential keyset cursor (:class:`~.paging.KeysetCursor`).

So a range of ``n`` records costs about ``ceil(n / per_page)`` points plus one per chunk boundary
(one partial last page per 10,000 records at most), whatever the share of records that share a
timestamp, and requests overlap the API's latency.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any, NamedTuple

from airflow_provider_conversations.exceptions import ConversationsResponseError
from airflow_provider_conversations.filters import MAX_PER_PAGE, WIRE_NAMES, ConversationFilters, paging_params
from airflow_provider_conversations.paging import KeysetCursor, check_no_range_filters, record_created_at
from airflow_provider_conversations.timestamps import format_timestamp
from airflow_provider_conversations.wire import Page

#: Pages a chunk reads by number: pages 1-100 cost 1 point each on the real API, page 101 costs 3.
MAX_CHUNK_PAGES = 100

#: A record as the API returned it, with its parsed ``created_at``.
TimedRecord = tuple[dict[str, Any], datetime]


class RangePage(NamedTuple):
    """One page of a range read, in order: the API's answer and the records it adds.

    A tuple, so ``page, timed = range_page`` works as well.

    :param page: the API's answer (its paging metadata and rate-limit headers).
    :param timed: the records it adds (new, in range, in ``created_at`` order), each with its parsed
        ``created_at``.
    """

    page: Page
    timed: list[TimedRecord]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records it adds, exactly as the API returned them."""
        return [record for record, _ in self.timed]


@dataclass(frozen=True)
class PageRequest:
    """One request the walk wants sent.

    :param chunk: serial number of the chunk (or keyset stage) it belongs to.
    :param page: its page number in the chunk (keyset stage: the request's serial).
    :param params: the query parameters.
    """

    chunk: int
    page: int
    params: tuple[tuple[str, str], ...]


class _Chunk:
    """The rest of the range from ``bound``, read by page numbers."""

    def __init__(self, serial: int, bound: datetime) -> None:
        self.serial, self.bound = serial, bound
        self.total: int | None = None  # N, from page 1
        self.size = 0  # records per page as the API pages them (``per_page``, or less if it caps it)
        self.counted = True  # False: page 1 came without counts
        self.last_page: int | None = None  # pages read by number, known once page 1 arrived
        self.jump = False  # N needs more than MAX_CHUNK_PAGES pages: page last_page starts the next chunk
        self.sent: set[int] = set()
        self.received: dict[int, Page] = {}
        self.consumed = 0
        self.ids: set[Any] = set()  # ids taken from this chunk
        self.seen: frozenset[Any] = frozenset()  # ids at ``bound`` taken before this chunk


class RangeWalk:
    """State of a read of ``[start, end)`` (see the module docstring).

    Drive it with :meth:`requests` (what to send now), :meth:`receive` (an answer, in any order),
    :meth:`ready` / :meth:`pop` (the next page in order, with its new records) until :attr:`done`.

    :param start: inclusive lower bound.
    :param end: exclusive upper bound.
    :param filters: further filters (no ``created_at`` bounds).
    :param per_page: records per request (1..100).
    :param max_chunk_pages: pages a chunk reads by number (at most 100 keeps every request at cost 1).
    """

    def __init__(
        self,
        start: datetime,
        end: datetime,
        filters: ConversationFilters | None = None,
        per_page: int = MAX_PER_PAGE,
        *,
        max_chunk_pages: int = MAX_CHUNK_PAGES,
    ) -> None:
        self.start, self.end = start, end
        self.filters = filters or ConversationFilters()
        check_no_range_filters(self.filters)
        paging_params(per_page=per_page)  # validates per_page before any request
        self.per_page, self.max_chunk_pages = per_page, max_chunk_pages
        self.done = False
        #: Pages thrown away because a check failed (see the module docstring), and chunks started.
        self.rejected = 0
        self.chunks_started = 0
        self.accepted_pages = 0
        self.last_ts: datetime | None = None
        self.ids_at_last: set[Any] = set()
        self._serial = 0
        self._chunks: list[_Chunk] = []
        self._keyset: KeysetCursor | None = None
        self._keyset_serial = 0
        self._keyset_sent = False
        self._keyset_page: Page | None = None
        self._new_chunk(start)

    # -- planning -------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"numbered"`` (chunks of numbered pages) or ``"keyset"`` (the sequential fallback)."""
        return "keyset" if self._keyset is not None else "numbered"

    def _new_chunk(self, bound: datetime) -> _Chunk:
        self._serial += 1
        self.chunks_started += 1
        chunk = _Chunk(self._serial, bound)
        self._chunks.append(chunk)
        return chunk

    def _params(self, chunk: _Chunk, page: int) -> tuple[tuple[str, str], ...]:
        return (
            *self.filters.to_params(),
            (WIRE_NAMES["created_at_gte"], format_timestamp(chunk.bound)),
            (WIRE_NAMES["created_at_lt"], format_timestamp(self.end)),
            *paging_params(
                sort_by="created_at",
                sort_direction="ASC",
                per_page=self.per_page,
                page=page,
                include_paging_counts=True,
            ),
        )

    def _wanted(self, lookahead: int) -> Iterator[tuple[_Chunk, int]]:
        """Pages worth sending, most urgent first: page 1s and jump pages, then pages in order."""
        head = self._chunks[0]
        yield head, 1
        if head.last_page is None:
            return
        if head.jump:
            yield head, head.last_page
        horizon = head.consumed + lookahead
        yield from ((head, k) for k in range(head.consumed + 1, min(head.last_page, horizon) + 1))
        if len(self._chunks) > 1:
            after = self._chunks[1]
            yield after, 1
            if after.last_page is not None:
                if after.jump:
                    yield after, after.last_page
                room = horizon - head.last_page
                yield from ((after, k) for k in range(2, min(after.last_page, room) + 1))

    def requests(self, limit: int, *, lookahead: int = 8) -> list[PageRequest]:
        """Return up to ``limit`` new requests to send now.

        :param limit: free request slots.
        :param lookahead: only the next ``lookahead`` pages to consume may be in flight or waiting,
            besides page 1s and jump pages (bounds the memory held by pages that arrived early).
        """
        if self.done or limit <= 0:
            return []
        if self._keyset is not None:
            if self._keyset_sent:
                return []
            self._keyset_sent = True
            self._keyset_serial += 1
            return [PageRequest(-self._keyset_serial, self._keyset_serial, tuple(self._keyset.params()))]
        out: list[PageRequest] = []
        for chunk, page in self._wanted(max(1, lookahead)):
            if len(out) >= limit:
                break
            if page in chunk.sent:
                continue
            chunk.sent.add(page)
            out.append(PageRequest(chunk.serial, page, self._params(chunk, page)))
        return out

    def is_live(self, request: PageRequest) -> bool:
        """Whether the answer to ``request`` is still wanted (chunks thrown away are not)."""
        if request.chunk < 0:
            return self._keyset is not None and request.page == self._keyset_serial
        return any(chunk.serial == request.chunk for chunk in self._chunks)

    def receive(self, request: PageRequest, page: Page) -> None:
        """Take the answer to ``request`` (in any order); answers no longer wanted are ignored."""
        if not self.is_live(request):
            return
        if request.chunk < 0:
            self._keyset_page = page
            return
        chunk = next(c for c in self._chunks if c.serial == request.chunk)
        chunk.received[request.page] = page
        if request.page == 1 and chunk.last_page is None:
            total = page.total_count
            chunk.size = self._page_size(page)
            if total is None:
                chunk.counted, chunk.last_page = False, 1
            else:
                needed = max(1, math.ceil(total / chunk.size))
                chunk.total, chunk.last_page = total, min(needed, self.max_chunk_pages)
                chunk.jump = needed > self.max_chunk_pages
        self._extend()

    def _page_size(self, page: Page) -> int:
        """``per_page``, or the smaller page size the API says it used (an API may cap ``per_page``)."""
        echoed = page.paging.get("per_page")
        if isinstance(echoed, int) and not isinstance(echoed, bool) and 1 <= echoed < self.per_page:
            return echoed
        return self.per_page

    def _extend(self) -> None:
        """Start the next chunk once the head chunk's jump page has arrived (one chunk ahead at most)."""
        head = self._chunks[0]
        if len(self._chunks) > 1 or not head.jump or head.last_page not in head.received:
            return
        stamps = [self._stamp(r) for r in head.received[head.last_page].records]
        in_range = [ts for ts in stamps if ts is not None and head.bound <= ts < self.end]
        if in_range and in_range[-1] > head.bound:
            self._new_chunk(in_range[-1])
        # else: the page is bad (it will fail its checks) or a whole chunk shares one timestamp
        # (the keyset fallback walks it when the chunk is done)

    @staticmethod
    def _stamp(record: Any) -> datetime | None:
        try:
            return record_created_at(record)
        except ConversationsResponseError:
            return None

    # -- consuming ------------------------------------------------------------------------------

    def ready(self) -> bool:
        """Whether the next page in order has arrived (then :meth:`pop` it)."""
        if self.done:
            return False
        if self._keyset is not None:
            return self._keyset_page is not None
        head = self._chunks[0]
        return head.consumed + 1 in head.received

    def pop(self) -> tuple[Page, list[TimedRecord]]:
        """Consume the next page in order; return it with the records it adds (new, in range, in order)."""
        if not self.ready():
            raise RuntimeError("pop() called before the next page arrived")
        if self._keyset is not None:
            return self._pop_keyset()
        head = self._chunks[0]
        number = head.consumed + 1
        page = head.received.pop(number)
        stamps = [record_created_at(r) for r in page.records]
        if any(b < a for a, b in pairwise(stamps)):
            raise ConversationsResponseError(
                "the API returned a page not sorted by created_at ascending although asked to; "
                "the range cannot be read exactly once with it"
            )
        if number == 1:
            head.seen = frozenset(self.ids_at_last) if self.last_ts == head.bound else frozenset()
        in_range = [(r, ts) for r, ts in zip(page.records, stamps) if head.bound <= ts < self.end]
        if number == 1:
            fresh = self._take(head, in_range)
            expected = min(head.size, head.total) if head.total is not None else None
            if not head.counted:
                self._to_keyset(counted=False)  # an API without counts: page numbers cannot be checked
            elif len(in_range) != expected:
                # A quirk (a row from before the bound) may have shifted this chunk's page numbers: keep
                # the page's records, but read on from a new chunk.
                self.rejected += 1
                self._restart()
            else:
                self._advance(head)
            return page, fresh
        if not self._page_checks_out(head, number, page, in_range):
            self.rejected += 1
            self._restart()
            return page, []
        fresh = self._take(head, in_range)
        self._advance(head)
        return page, fresh

    def _page_checks_out(self, head: _Chunk, number: int, page: Page, in_range: list[TimedRecord]) -> bool:
        assert head.total is not None
        full_pages = head.total // head.size
        expected = head.size if number <= full_pages else head.total - head.size * (number - 1)
        if page.total_count != head.total or len(in_range) != expected:
            return False  # records deleted or added since page 1, or a shifted page
        if in_range and self.last_ts is not None and in_range[0][1] < self.last_ts:
            return False
        return not any(r["id"] in head.ids for r, _ in in_range)  # a repeat: the pages shifted

    def _take(self, chunk: _Chunk, in_range: list[TimedRecord]) -> list[TimedRecord]:
        fresh: list[TimedRecord] = []
        for record, ts in in_range:
            rid = record["id"]
            if rid in chunk.seen or rid in chunk.ids:
                continue
            chunk.ids.add(rid)
            fresh.append((record, ts))
            if ts != self.last_ts:
                self.last_ts, self.ids_at_last = ts, {rid}
            else:
                self.ids_at_last.add(rid)
        self.accepted_pages += 1
        return fresh

    def _advance(self, head: _Chunk) -> None:
        head.consumed += 1
        if head.consumed < (head.last_page or 1):
            return
        if not head.jump:
            self.done = True
            return
        self._chunks.pop(0)
        if not self._chunks:
            # The jump page ended on the chunk's own lower bound: 100 pages of one timestamp.
            self._to_keyset(counted=True)
        else:
            self._extend()

    def _bound(self) -> datetime:
        return self.last_ts if self.last_ts is not None else self.start

    def _restart(self) -> None:
        """Throw away every chunk in progress and read on from the last record taken."""
        self._chunks.clear()
        # Checks failing over and over (records deleted all the time): the keyset cursor wastes less.
        if self.rejected > 2 + self.accepted_pages // 50:
            self._to_keyset(counted=True)
        else:
            self._new_chunk(self._bound())

    def _to_keyset(self, *, counted: bool) -> None:
        self._chunks.clear()
        cursor = KeysetCursor(self._bound(), self.end, self.filters, self.per_page, counted=counted)
        if self.last_ts is not None:
            cursor.seen_at_bound = set(self.ids_at_last)
        self._keyset, self._keyset_sent, self._keyset_page = cursor, False, None

    def _pop_keyset(self) -> tuple[Page, list[TimedRecord]]:
        assert self._keyset is not None and self._keyset_page is not None
        page, self._keyset_page, self._keyset_sent = self._keyset_page, None, False
        records = self._keyset.advance(page.records, has_next=page.has_next, total=page.total_count)
        fresh: list[TimedRecord] = []
        for record in records:
            ts = record_created_at(record)
            fresh.append((record, ts))
            if ts != self.last_ts:
                self.last_ts, self.ids_at_last = ts, {record["id"]}
            else:
                self.ids_at_last.add(record["id"])
        self.accepted_pages += 1
        self.done = self._keyset.done
        return page, fresh
