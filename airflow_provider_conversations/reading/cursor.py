"""Keyset paging over a timestamp range: the request to send next and what to keep of a page.

Pure logic, no I/O. The range is on one of the endpoint's range keys (``created_at`` by default,
``updated_at`` for change capture), called the *key* below. Every request asks for page 1 sorted by
the key ascending, and the lower bound moves to the last record's key, so each request costs 1
however deep the range, and a record deleted (or moved out of the range by an update) while we page
never makes us skip a survivor.

Two modes move the bound past a full page whose last record is at time ``t``:

* **counted** (the default): ``created_at[gt]=t`` (``updated_at[gt]=t`` for that key; likewise below),
  with ``include_paging_counts``. No record comes twice, so a page holds 100 new records. Records at
  ``t`` that did not fit on the page would be skipped, so the counts are checked: the next answer's
  ``total_count`` must be the previous one minus the records the previous page held. On a
  **count mismatch** the records at ``t`` are walked again by page numbers
  (``created_at[gte]=t&created_at[lte]=t``, ids already taken dropped) and the page is asked again.
  An API that sends no counts, or counts that keep disagreeing, switch the walk to:
* **overlapping**: ``created_at[gte]=t``, dropping the ids already taken at ``t``. Safe without
  counts; the boundary records come back once per page.

When a full page shares one timestamp, page numbers walk that timestamp alone (a :class:`TieWalk`),
then the bound moves strictly past it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from airflow_provider_conversations.api.endpoints import CONVERSATIONS, ListEndpoint
from airflow_provider_conversations.api.filters import MAX_PER_PAGE, paging_params
from airflow_provider_conversations.exceptions import ConversationsResponseError
from airflow_provider_conversations.reading.ranges import (
    NoFilters,
    RangeFilters,
    check_no_range_filters,
    check_range_key,
    record_time,
)
from airflow_provider_conversations.timestamps import format_timestamp


@dataclass
class LowerBound:
    """Where the next request starts: ``<key>[gte]=at`` (inclusive) or ``<key>[gt]=at``.

    :param at: the bound's timestamp.
    :param inclusive: ``<key>[gte]``; else ``<key>[gt]``.
    :param taken: ids already taken at ``at`` (dropped when they come again).
    :param expected_total: the ``total_count`` the next answer must report (counted mode, exclusive
        bound); ``None``: nothing to check.
    """

    at: datetime
    inclusive: bool = True
    taken: set[str] = field(default_factory=set)
    expected_total: int | None = None


@dataclass
class TieWalk:
    """The records at the bound's timestamp, walked alone by page numbers.

    :param after_mismatch: started by a count mismatch (else: a full page on one timestamp).
    :param page: the page number to ask for next.
    :param total: ``total_count`` of the last answer, when the API sent it.
    :param found: records the walk has found that were not taken before.
    """

    after_mismatch: bool = False
    page: int = 1
    total: int | None = None
    found: int = 0


class KeysetCursor:
    """State of a keyset walk over ``[start, end)`` (see the module docstring).

    :param start: inclusive lower bound.
    :param end: exclusive upper bound.
    :param filters: further filters (no bounds on ``key``); default none.
    :param per_page: records per request (1..100).
    :param counted: start in the counted mode.
    :param key: the timestamp the range is on, one of the endpoint's range keys.
    :param taken: ids already taken at ``start`` (a read that goes on from there drops them).
    :param endpoint: the list endpoint read (default ``/v2/conversations``).
    """

    #: Count mismatches whose tie walk found nothing, before the walk stops trusting the counts (the
    #: counts then disagree for another reason than ties, e.g. records added or deleted all the time).
    MAX_FALSE_ALARMS = 3
    #: Requests one count mismatch costs (the tie walk, then the page asked again).
    MISMATCH_REQUESTS = 2
    #: Count mismatches allowed before their cost is weighed against the overlapping mode's (one wasted
    #: slot a page).
    FREE_MISMATCHES = 1

    def __init__(
        self,
        start: datetime,
        end: datetime,
        filters: RangeFilters | None = None,
        per_page: int = MAX_PER_PAGE,
        *,
        counted: bool = True,
        key: str = "created_at",
        taken: Iterable[str] = (),
        endpoint: ListEndpoint = CONVERSATIONS,
    ) -> None:
        self.end, self.per_page, self.endpoint = end, per_page, endpoint
        self.key = check_range_key(key, endpoint.range_keys)
        self.filters = check_no_range_filters(filters or NoFilters(), keys=(key,))
        #: The counted mode (else the overlapping one); it is never entered again once left.
        self.counted = counted
        self.bound = LowerBound(start, taken=set(taken))
        #: Set while the records at the bound's timestamp are walked by page numbers.
        self.tie: TieWalk | None = None
        self.done = False
        #: Pages consumed, count mismatches walked, and those whose walk found nothing.
        self.pages = self.mismatches = self.false_alarms = 0

    def params(self) -> list[tuple[str, str]]:
        """Return the query parameters of the next request."""
        key, bound, name = self.key, self.bound, self.endpoint.bound_param
        if self.tie is not None:
            at = format_timestamp(bound.at)
            bounds = [(name(key, "gte"), at), (name(key, "lte"), at)]
            page, counts = self.tie.page, True  # counts reveal deletions that shift page numbers
        else:
            bounds = [
                (name(key, "gte" if bound.inclusive else "gt"), format_timestamp(bound.at)),
                (name(key, "lt"), format_timestamp(self.end)),
            ]
            page, counts = 1, self.counted
        return [
            *self.filters.to_params(),
            *bounds,
            *paging_params(
                sort_by=key, sort_direction="ASC", per_page=self.per_page, page=page, include_paging_counts=counts
            ),
        ]

    def advance(
        self, records: Sequence[Any], *, has_next: bool | None = None, total: int | None = None
    ) -> list[dict[str, Any]]:
        """Consume one page; return the records to yield (new, in range) and move the cursor.

        :param records: the page's ``data``.
        :param has_next: whether the API announced another page (``next_page``), if it said.
        :param total: ``total_count`` of the request, if the API sent it.
        """
        self.pages += 1
        stamps = self._sorted_stamps(records)
        if self.tie is None and self.counted and self.bound.expected_total not in (None, total):
            # Records at the bound may not have fitted on the last page (or, without counts, we cannot
            # tell): walk them, then ask for this page again.
            self.counted = total is not None
            self._start_tie_walk(self.bound.at, self.bound.taken, after_mismatch=True)
            return []
        fresh, in_range = self._take(records, stamps)
        full = self._is_full(records, stamps, has_next)
        if self.tie is not None:
            self._step_tie_walk(self.tie, len(fresh), full, total)
        elif not full:
            self.done = True
        else:
            self._move_bound(records, stamps, total, in_range)
        return fresh

    # -- reading a page -----------------------------------------------------------------------------

    def _sorted_stamps(self, records: Sequence[Any]) -> list[datetime]:
        stamps = [record_time(r, self.key) for r in records]
        if any(b < a for a, b in pairwise(stamps)):
            raise ConversationsResponseError(
                f"the API returned a page not sorted by {self.key} ascending although asked to; "
                "keyset paging cannot be trusted with it"
            )
        return stamps

    def _wanted(self, ts: datetime) -> bool:
        bound = self.bound
        if self.tie is not None:
            return ts == bound.at
        if ts < bound.at or ts >= self.end:
            return False  # the API's boundary quirk, or a range not honoured: trust nothing
        return bound.inclusive or ts > bound.at

    def _take(self, records: Sequence[Any], stamps: list[datetime]) -> tuple[list[dict[str, Any]], int]:
        """Return the page's new records in range, and how many records it held in range (new or not)."""
        bound = self.bound
        fresh: list[dict[str, Any]] = []
        in_range = 0
        for record, ts in zip(records, stamps):
            if not self._wanted(ts):
                continue
            in_range += 1
            if ts == bound.at and bound.inclusive:
                if record["id"] in bound.taken:
                    continue
                bound.taken.add(record["id"])
            fresh.append(record)
        return fresh, in_range

    def _is_full(self, records: Sequence[Any], stamps: list[datetime], has_next: bool | None) -> bool:
        """Whether another page may follow this one.

        The API's own word on a next page wins (it may cap ``per_page`` below ours); without it, a short
        page is the last one. Not when the boundary quirk put a row from before the bound on the page: the
        API counts its next page without that row, so a page it filled can hide one more record.
        """
        if not records:
            return False
        quirked = stamps[0] < self.bound.at
        if has_next is not None and not (quirked and len(records) >= self.per_page):
            return has_next
        return len(records) >= self.per_page

    # -- moving on ----------------------------------------------------------------------------------

    def _start_tie_walk(self, at: datetime, taken: set[str], *, after_mismatch: bool = False) -> None:
        self.bound = LowerBound(at, taken=taken)
        self.tie = TieWalk(after_mismatch=after_mismatch)

    def _step_tie_walk(self, tie: TieWalk, found: int, full: bool, total: int | None) -> None:
        tie.found += found
        previous = tie.total
        if total is not None:
            tie.total = total
        if total is not None and previous is not None and total < previous:
            # Records at this time were deleted since the last page: later ones moved to earlier page
            # numbers. Step back far enough to see them again (ids already taken are dropped).
            tie.page = max(1, tie.page - math.ceil((previous - total) / self.per_page))
        elif full:
            tie.page += 1
        else:  # the tie is exhausted: continue strictly after it
            if tie.after_mismatch:
                self._weigh_mismatch(tie)
            self.tie = None
            self.bound = LowerBound(self.bound.at, inclusive=False)

    def _weigh_mismatch(self, tie: TieWalk) -> None:
        """Stay in the counted mode while its count mismatches cost less than the overlapping mode would.

        A mismatch costs :attr:`MISMATCH_REQUESTS` requests; the overlapping mode wastes one slot a page.
        Data with few ties on one time keeps the counted mode.
        """
        self.mismatches += 1
        if not tie.found:
            self.false_alarms += 1  # the counts disagreed for another reason (records added or deleted)
        cheaper = self.MISMATCH_REQUESTS * (self.mismatches - self.FREE_MISMATCHES) <= self.pages / self.per_page
        self.counted = self.counted and cheaper and self.false_alarms < self.MAX_FALSE_ALARMS

    def _move_bound(self, records: Sequence[Any], stamps: list[datetime], total: int | None, in_range: int) -> None:
        """Move the bound past a full page that did not end a tie walk."""
        last, bound = stamps[-1], self.bound
        if last >= self.end:
            self.done = True
        elif last < bound.at:
            raise ConversationsResponseError(
                f"a full page ended at {format_timestamp(last)}, before the lower bound {format_timestamp(bound.at)}"
            )
        elif last == bound.at:
            if not bound.inclusive:
                raise ConversationsResponseError(
                    f"the API returned records at {format_timestamp(last)} for {self.key}[gt] of that time"
                )
            self._start_tie_walk(last, bound.taken)  # a whole page on one timestamp
        elif stamps[0] == last and self.counted:
            self._start_tie_walk(last, {r["id"] for r in records})  # a whole page on one timestamp
        else:
            taken_at_last = {r["id"] for r, ts in zip(records, stamps) if ts == last}
            if self.counted and total is not None:
                self.bound = LowerBound(last, inclusive=False, taken=taken_at_last, expected_total=total - in_range)
            else:
                self.counted = False
                self.bound = LowerBound(last, taken=taken_at_last)
