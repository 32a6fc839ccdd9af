"""Keyset paging over a timestamp range: the request to send next and what to keep of a page.

Pure logic, no I/O. The range is on one of :data:`RANGE_KEYS` (``created_at`` by default,
``updated_at`` for change capture), called the *key* below. Every request asks for page 1 sorted by
the key ascending, and the lower bound moves to the last record's key, so each request costs 1
however deep the range, and a record deleted (or moved out of the range by an update) while we page
never makes us skip a survivor.

Two ways to move the bound past a full page whose last record is at time ``t``:

* **counted** (the default): ``created_at[gt]=t`` (``updated_at[gt]=t`` for that key; likewise below),
  with ``include_paging_counts``. No record comes
  twice, so a page holds 100 new records. Records at ``t`` that did not fit on the page would be
  skipped, so the counts are checked: the next answer's ``total_count`` must be the previous one
  minus the records the previous page held. If not, the records at ``t`` are walked again by page
  numbers (``created_at[gte]=t&created_at[lte]=t``, ids already seen dropped) and the page is asked
  again. An API that sends no counts, or counts that keep disagreeing, switch the walk to:
* **overlapping**: ``created_at[gte]=t``, dropping the ids already seen at ``t``. Safe without counts;
  the boundary records come back once per page.

When a full page shares one timestamp, page numbers walk that timestamp alone, then the bound moves
strictly past it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from airflow_provider_conversations.api.filters import MAX_PER_PAGE, WIRE_NAMES, ConversationFilters, paging_params
from airflow_provider_conversations.exceptions import ConversationsResponseError
from airflow_provider_conversations.reading.ranges import (
    check_no_range_filters,
    check_range_key,
    record_time,
)
from airflow_provider_conversations.timestamps import format_timestamp


@dataclass
class KeysetCursor:
    """State of a keyset walk over ``[start, end)``.

    :param start: inclusive lower bound.
    :param end: exclusive upper bound.
    :param filters: further filters (no bounds on ``key``).
    :param per_page: records per request (1..100).
    :param counted: start in the counted mode (see the module docstring).
    :param key: the timestamp the range is on, one of :data:`RANGE_KEYS`.
    """

    start: datetime
    end: datetime
    filters: ConversationFilters = field(default_factory=ConversationFilters)
    per_page: int = MAX_PER_PAGE
    counted: bool = True
    key: str = "created_at"
    bound: datetime = field(init=False)
    inclusive: bool = field(init=False, default=True)
    seen_at_bound: set[str] = field(init=False, default_factory=set)
    tie_page: int | None = field(init=False, default=None)
    tie_total: int | None = field(init=False, default=None)
    expected_total: int | None = field(init=False, default=None)
    repair: bool = field(init=False, default=False)
    repaired: int = field(init=False, default=0)
    repairs: int = field(init=False, default=0)
    false_alarms: int = field(init=False, default=0)
    done: bool = field(init=False, default=False)
    pages: int = field(init=False, default=0)

    #: Count mismatches whose re-walk found nothing, before the walk stops trusting the counts (the
    #: counts then disagree for another reason than ties, e.g. records added or deleted all the time).
    MAX_FALSE_ALARMS = 3
    #: Requests one repair costs (the tie walk, then the page asked again).
    REPAIR_REQUESTS = 2
    #: Repairs allowed before their cost is weighed against the overlapping mode's (one wasted slot a page).
    FREE_REPAIRS = 1

    def __post_init__(self) -> None:
        self.bound = self.start
        check_range_key(self.key)
        check_no_range_filters(self.filters, keys=(self.key,))

    def params(self) -> list[tuple[str, str]]:
        """Return the query parameters of the next request."""
        counts = False
        key = self.key
        if self.tie_page is not None:
            bounds = [
                (WIRE_NAMES[f"{key}_gte"], format_timestamp(self.bound)),
                (WIRE_NAMES[f"{key}_lte"], format_timestamp(self.bound)),
            ]
            page, counts = self.tie_page, True  # counts reveal deletions that shift page numbers
        else:
            lower = f"{key}_gte" if self.inclusive else f"{key}_gt"
            bounds = [
                (WIRE_NAMES[lower], format_timestamp(self.bound)),
                (WIRE_NAMES[f"{key}_lt"], format_timestamp(self.end)),
            ]
            page, counts = 1, self.counted
        return [
            *self.filters.to_params(),
            *bounds,
            *paging_params(
                sort_by=key,
                sort_direction="ASC",
                per_page=self.per_page,
                page=page,
                include_paging_counts=counts,
            ),
        ]

    def _wanted(self, ts: datetime) -> bool:
        if self.tie_page is not None:
            return ts == self.bound
        if ts < self.bound or ts >= self.end:
            return False  # the API's boundary quirk, or a range not honoured: trust nothing
        return self.inclusive or ts > self.bound

    def _walk_tie(self, ts: datetime, seen: set[str], *, repair: bool = False) -> None:
        """Walk the records at ``ts`` alone by page numbers; ``repair``: a count check asked for it."""
        self.bound, self.inclusive, self.seen_at_bound, self.tie_page = ts, True, seen, 1
        self.expected_total, self.repair, self.repaired, self.tie_total = None, repair, 0, None

    def advance(
        self, records: Sequence[Any], *, has_next: bool | None = None, total: int | None = None
    ) -> list[dict[str, Any]]:
        """Consume one page; return the records to yield (new, in range) and move the cursor.

        :param records: the page's ``data``.
        :param has_next: whether the API announced another page (``next_page``), if it said.
        :param total: ``total_count`` of the request, if the API sent it.
        """
        self.pages += 1
        stamps = [record_time(r, self.key) for r in records]
        if any(b < a for a, b in pairwise(stamps)):
            raise ConversationsResponseError(
                f"the API returned a page not sorted by {self.key} ascending although asked to; "
                "keyset paging cannot be trusted with it"
            )
        # The API's own word on a next page wins (it may cap per_page below ours); without it, a short page
        # is the last one. Not when the boundary quirk put a row from before the bound on the page: the API
        # counts its next page without that row, so a page it filled can hide one more record.
        quirked = bool(stamps) and stamps[0] < self.bound
        trust_api = has_next is not None and not (quirked and len(records) >= self.per_page)
        full = bool(records) and (has_next if trust_api else len(records) >= self.per_page)
        checked = self.tie_page is None and self.counted and self.expected_total is not None
        if checked and total != self.expected_total:
            # Records at the bound may not have fitted on the last page (or, without counts, we cannot
            # tell): walk them, then ask for this page again.
            self.counted = total is not None
            self._walk_tie(self.bound, self.seen_at_bound, repair=True)
            return []
        fresh: list[dict[str, Any]] = []
        counted_here = 0
        for record, ts in zip(records, stamps):
            if not self._wanted(ts):
                continue
            counted_here += 1
            if ts == self.bound and self.inclusive:
                if record["id"] in self.seen_at_bound:
                    continue
                self.seen_at_bound.add(record["id"])
            fresh.append(record)
        if self.tie_page is not None:
            self.repaired += len(fresh)
            previous, self.tie_total = self.tie_total, total if total is not None else self.tie_total
            if total is not None and previous is not None and total < previous:
                # Records at this time were deleted since the last page: later ones moved to earlier page
                # numbers. Step back far enough to see them again (ids already seen are dropped).
                self.tie_page = max(1, self.tie_page - math.ceil((previous - total) / self.per_page))
            elif full:
                self.tie_page += 1
            else:  # the tie is exhausted: continue strictly after it
                if self.repair:
                    self.repairs += 1
                    if not self.repaired:
                        # The counts disagreed for another reason (records added or deleted meanwhile).
                        self.false_alarms += 1
                    # A repair costs two requests; the overlapping mode wastes one slot a page. Keep
                    # the counted mode while it is the cheaper one (data with few ties on one time).
                    cheaper = self.REPAIR_REQUESTS * (self.repairs - self.FREE_REPAIRS) <= self.pages / self.per_page
                    self.counted = self.counted and cheaper and self.false_alarms < self.MAX_FALSE_ALARMS
                self.tie_page, self.inclusive, self.seen_at_bound, self.repair = None, False, set(), False
            return fresh
        if not full:
            self.done = True
            return fresh
        last = stamps[-1]
        if last >= self.end:
            self.done = True
        elif last < self.bound:
            raise ConversationsResponseError(
                f"a full page ended at {format_timestamp(last)}, before the lower bound {format_timestamp(self.bound)}"
            )
        elif last == self.bound:
            if not self.inclusive:
                raise ConversationsResponseError(
                    f"the API returned records at {format_timestamp(last)} for {self.key}[gt] of that time"
                )
            self._walk_tie(last, self.seen_at_bound)  # a whole page on one timestamp
        elif stamps[0] == last and self.counted:
            self._walk_tie(last, {r["id"] for r in records})  # a whole page on one timestamp
        else:
            ids_at_last = {r["id"] for r, ts in zip(records, stamps) if ts == last}
            if self.counted and total is not None:
                self.bound, self.inclusive, self.seen_at_bound = last, False, ids_at_last
                self.expected_total = total - counted_here
            else:
                self.counted = False
                self.bound, self.inclusive, self.seen_at_bound = last, True, ids_at_last
        return fresh
