"""The numbered-chunk read of a range: pages fetched by number, concurrently, each checked before use.

Pure logic, no I/O; one of the two strategies of :class:`~airflow_provider_conversations.reading.walk.RangeWalk`
(see :mod:`~airflow_provider_conversations.reading.walk` for the whole read). The range is on a timestamp
*key* (``created_at`` or ``updated_at``), sorted by it ascending:

* A **chunk** is the rest of the range from a lower bound ``t`` (``<key>[gte]=t``). Its page 1 (with
  ``include_paging_counts``) tells how many records it holds (``N``); its pages 2..P are then fetched
  **by page number, concurrently**. A chunk reads at most :data:`MAX_CHUNK_PAGES` pages; when ``N``
  needs more, the last of them starts the next chunk at its last record (requested as soon as it
  arrives, so the next chunk overlaps the rest of this one).
* Page numbers shift when records leave the range (deleted, or updated past its end) or the API's
  boundary quirk adds a row while we page, and would then skip a survivor. So every page is checked:
  it must report the same ``N``, hold exactly the records its position implies (records outside the
  range dropped first), start at or after the records already taken, and repeat no record of its
  chunk. A page that fails is thrown away with everything after it, and a new chunk starts at the last
  record taken (ids already taken at that key are dropped).
* It hands over to the keyset fallback (:attr:`fallback`) when the API sends no counts, when a chunk
  ends on its own lower bound (a whole chunk on one timestamp), or when checks keep failing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise

from airflow_provider_conversations.api.filters import paging_params
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.exceptions import ConversationsResponseError
from airflow_provider_conversations.reading.ranges import record_time
from airflow_provider_conversations.reading.state import Fallback, PageRequest, RequestKind, TimedRecord, WalkProgress
from airflow_provider_conversations.timestamps import format_timestamp

#: Pages a chunk reads by number: pages 1-100 cost 1 point each on the real API, page 101 costs 3.
MAX_CHUNK_PAGES = 100
#: Failed page checks tolerated before the keyset fallback takes over, however short the read: a few
#: come from the boundary quirk or a deletion now and then, and each costs only a restarted chunk.
REJECTS_TOLERATED = 2
#: One more failed check tolerated per this many accepted pages: on a long read, restarts stay cheap
#: unless records leave the range all the time (then the sequential keyset cursor wastes less).
PAGES_PER_EXTRA_REJECT = 50


class _Chunk:
    """The rest of the range from ``bound``, read by page numbers."""

    def __init__(self, serial: int, bound: datetime) -> None:
        self.serial, self.bound = serial, bound
        self.total: int | None = None  # N, from page 1
        self.size = 0  # records per page as the API pages them (``per_page``, or less if it caps it)
        self.counted = True  # False: page 1 came without counts
        self.last_page: int | None = None  # pages read by number, known once page 1 arrived
        self.jump = False  # N needs more than max_chunk_pages pages: page last_page starts the next chunk
        self.sent: set[int] = set()
        self.received: dict[int, Page] = {}
        self.consumed = 0
        self.ids: set[object] = set()  # ids taken from this chunk
        self.seen: frozenset[object] = frozenset()  # ids at ``bound`` taken before this chunk


class NumberedChunkRead:
    """The numbered-chunk strategy (see the module docstring).

    :param progress: the range and how far it has been read (shared with the keyset fallback).
    :param max_chunk_pages: pages a chunk reads by number (at most 100 keeps every request at cost 1).
    """

    kind = RequestKind.CHUNK

    def __init__(self, progress: WalkProgress, max_chunk_pages: int = MAX_CHUNK_PAGES) -> None:
        self.progress, self.max_chunk_pages = progress, max_chunk_pages
        self.done = False
        self.fallback: Fallback | None = None
        #: Pages thrown away because a check failed, and chunks started.
        self.rejected = 0
        self.chunks_started = 0
        self._serial = 0
        self._chunks: list[_Chunk] = []
        self._new_chunk(progress.start)

    # -- planning -------------------------------------------------------------------------------

    def _new_chunk(self, bound: datetime) -> _Chunk:
        self._serial += 1
        self.chunks_started += 1
        chunk = _Chunk(self._serial, bound)
        self._chunks.append(chunk)
        return chunk

    def _params(self, chunk: _Chunk, page: int) -> tuple[tuple[str, str], ...]:
        p = self.progress
        return (
            *p.filters.to_params(),
            (p.endpoint.bound_param(p.key, "gte"), format_timestamp(chunk.bound)),
            (p.endpoint.bound_param(p.key, "lt"), format_timestamp(p.end)),
            *paging_params(
                sort_by=p.key, sort_direction="ASC", per_page=p.per_page, page=page, include_paging_counts=True
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

    def requests(self, limit: int, lookahead: int) -> list[PageRequest]:
        """Return up to ``limit`` new page requests, within ``lookahead`` pages of the next one to consume.

        :param limit: free request slots.
        :param lookahead: pages to consume next that may be in flight or waiting (page 1s and jump
            pages besides).
        """
        out: list[PageRequest] = []
        if self.done or self.fallback is not None:
            return out
        for chunk, page in self._wanted(lookahead):
            if len(out) >= limit:
                break
            if page in chunk.sent:
                continue
            chunk.sent.add(page)
            out.append(
                PageRequest(self.kind, chunk.serial, page, self._params(chunk, page), self.progress.endpoint.path)
            )
        return out

    def is_live(self, request: PageRequest) -> bool:
        """Whether ``request``'s chunk is still being read (chunks thrown away are not).

        :param request: a chunk request.
        """
        return any(chunk.serial == request.serial for chunk in self._chunks)

    def receive(self, request: PageRequest, page: Page) -> None:
        """Take the answer to a live ``request``.

        :param request: the request.
        :param page: its answer.
        """
        chunk = next(c for c in self._chunks if c.serial == request.serial)
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
        per_page = self.progress.per_page
        echoed = page.paging.get("per_page")
        if isinstance(echoed, int) and not isinstance(echoed, bool) and 1 <= echoed < per_page:
            return echoed
        return per_page

    def _extend(self) -> None:
        """Start the next chunk once the head chunk's jump page has arrived (one chunk ahead at most)."""
        head = self._chunks[0]
        if len(self._chunks) > 1 or not head.jump or head.last_page not in head.received:
            return
        stamps = [self._stamp(r) for r in head.received[head.last_page].records]
        in_range = [ts for ts in stamps if ts is not None and head.bound <= ts < self.progress.end]
        if in_range and in_range[-1] > head.bound:
            self._new_chunk(in_range[-1])
        # else: the page is bad (it will fail its checks) or a whole chunk shares one timestamp
        # (the keyset fallback walks it when the chunk is done)

    def _stamp(self, record: object) -> datetime | None:
        try:
            return record_time(record, self.progress.key)
        except ConversationsResponseError:
            return None

    # -- consuming ------------------------------------------------------------------------------

    def ready(self) -> bool:
        """Whether the head chunk's next page has arrived."""
        if self.done or self.fallback is not None:
            return False
        head = self._chunks[0]
        return head.consumed + 1 in head.received

    def pop(self) -> tuple[Page, list[TimedRecord]]:
        """Consume the head chunk's next page; return it with the records it adds (new, in range, in order)."""
        head = self._chunks[0]
        number = head.consumed + 1
        page = head.received.pop(number)
        in_range = self._in_range(head, page)
        if number == 1:
            return page, self._pop_first(head, in_range)
        if not self._page_checks_out(head, number, page, in_range):
            self._reject()
            return page, []
        fresh = self._take(head, in_range)
        self._advance(head)
        return page, fresh

    def _in_range(self, head: _Chunk, page: Page) -> list[TimedRecord]:
        """The page's records within the chunk's range, with their keys; a page out of order is an error."""
        key, end = self.progress.key, self.progress.end
        stamps = [record_time(r, key) for r in page.records]
        if any(b < a for a, b in pairwise(stamps)):
            raise ConversationsResponseError(
                f"the API returned a page not sorted by {key} ascending although asked to; "
                "the range cannot be read exactly once with it"
            )
        return [(r, ts) for r, ts in zip(page.records, stamps) if head.bound <= ts < end]

    def _pop_first(self, head: _Chunk, in_range: list[TimedRecord]) -> list[TimedRecord]:
        """Take page 1 of a chunk: its records are kept whatever its count says, then the chunk reads on,
        starts again, or hands over to the keyset fallback."""
        progress = self.progress
        head.seen = frozenset(progress.ids_at_last) if progress.last_ts == head.bound else frozenset()
        fresh = self._take(head, in_range)
        expected = min(head.size, head.total) if head.total is not None else None
        if not head.counted:
            self._hand_over(counted=False, reason="the API sent no paging counts")
        elif len(in_range) != expected:
            # A quirk (a row from before the bound) may have shifted this chunk's page numbers: keep the
            # page's records, but read on from a new chunk.
            self._reject()
        else:
            self._advance(head)
        return fresh

    def _page_checks_out(self, head: _Chunk, number: int, page: Page, in_range: list[TimedRecord]) -> bool:
        assert head.total is not None
        full_pages = head.total // head.size
        expected = head.size if number <= full_pages else head.total - head.size * (number - 1)
        if page.total_count != head.total or len(in_range) != expected:
            return False  # records left or entered the range since page 1, or a shifted page
        last_ts = self.progress.last_ts
        if in_range and last_ts is not None and in_range[0][1] < last_ts:
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
            self.progress.note(rid, ts)
        self.progress.accepted_pages += 1
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
            # The jump page ended on the chunk's own lower bound: a whole chunk of one timestamp.
            self._hand_over(counted=True, reason="a whole chunk shares one timestamp")
        else:
            self._extend()

    def _reject(self) -> None:
        """Count a page that failed its checks, throw away every chunk in progress and read on from the last
        record taken (or hand over to the keyset fallback when checks keep failing)."""
        self.rejected += 1
        self._chunks.clear()
        tolerated = REJECTS_TOLERATED + self.progress.accepted_pages // PAGES_PER_EXTRA_REJECT
        if self.rejected > tolerated:
            self._hand_over(counted=True, reason="page checks kept failing (records leave the range while read)")
        else:
            self._new_chunk(self.progress.bound())

    def _hand_over(self, *, counted: bool, reason: str) -> None:
        self._chunks.clear()
        self.fallback = Fallback(counted, reason)
