"""Keyset paging over a ``created_at`` range: the request to send next and what to keep of a page.

Pure logic, no I/O. Every request asks for page 1 sorted by ``created_at`` ascending, and the lower
bound moves to the last record's ``created_at`` (ids already seen on that timestamp are dropped).
Each request therefore costs 1 however deep the range, and a record deleted while we page never
makes us skip a survivor. When a full page shares one timestamp, page numbers walk that timestamp
alone, then the bound moves strictly past it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsFilterError, ConversationsResponseError
from airflow_provider_conversations.filters import (
    MAX_PER_PAGE,
    WIRE_NAMES,
    ConversationFilters,
    format_timestamp,
    paging_params,
    parse_timestamp,
)

#: Filter fields the keyset cursor owns; a caller's filters must leave them unset.
CURSOR_FIELDS = ("created_at_lt", "created_at_lte", "created_at_gt", "created_at_gte")


def record_created_at(record: Any) -> datetime:
    """Return a record's ``created_at`` as an aware UTC datetime, or raise a clear error."""
    if not isinstance(record, dict) or "id" not in record or "created_at" not in record:
        raise ConversationsResponseError(
            f"a conversation without 'id' or 'created_at' in the response: {str(record)[:200]}"
        )
    try:
        return parse_timestamp(record["created_at"], "created_at", assume_utc=True)
    except ValueError as err:
        raise ConversationsResponseError(f"conversation {record['id']}: {err}") from None


@dataclass
class KeysetCursor:
    """State of a keyset walk over ``[start, end)``.

    :param start: inclusive lower bound.
    :param end: exclusive upper bound.
    :param filters: further filters (no ``created_at`` bounds).
    :param per_page: records per request (1..100).
    """

    start: datetime
    end: datetime
    filters: ConversationFilters = field(default_factory=ConversationFilters)
    per_page: int = MAX_PER_PAGE
    bound: datetime = field(init=False)
    inclusive: bool = field(init=False, default=True)
    seen_at_bound: set[str] = field(init=False, default_factory=set)
    tie_page: int | None = field(init=False, default=None)
    done: bool = field(init=False, default=False)
    pages: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.bound = self.start
        clash = [name for name in CURSOR_FIELDS if getattr(self.filters, name) is not None]
        if clash:
            raise ConversationsFilterError(f"filters: {', '.join(clash)} cannot be combined with a created_at range")

    def params(self) -> list[tuple[str, str]]:
        """Return the query parameters of the next request."""
        if self.tie_page is not None:
            bounds = [
                (WIRE_NAMES["created_at_gte"], format_timestamp(self.bound)),
                (WIRE_NAMES["created_at_lte"], format_timestamp(self.bound)),
            ]
            page = self.tie_page
        else:
            lower = "created_at_gte" if self.inclusive else "created_at_gt"
            bounds = [
                (WIRE_NAMES[lower], format_timestamp(self.bound)),
                (WIRE_NAMES["created_at_lt"], format_timestamp(self.end)),
            ]
            page = 1
        return [
            *self.filters.to_params(),
            *bounds,
            *paging_params(sort_by="created_at", sort_direction="ASC", per_page=self.per_page, page=page),
        ]

    def _wanted(self, ts: datetime) -> bool:
        if self.tie_page is not None:
            return ts == self.bound
        if ts < self.bound or ts >= self.end:
            return False  # the API's boundary quirk, or a range not honoured: trust nothing
        return self.inclusive or ts > self.bound

    def advance(self, records: Sequence[Any], *, has_next: bool | None = None) -> list[dict[str, Any]]:
        """Consume one page; return the records to yield (new, in range) and move the cursor.

        :param records: the page's ``data``.
        :param has_next: whether the API announced another page (``next_page``), if it said.
        """
        self.pages += 1
        stamps = [record_created_at(r) for r in records]
        if any(b < a for a, b in itertools.pairwise(stamps)):
            raise ConversationsResponseError(
                "the API returned a page not sorted by created_at ascending although asked to; "
                "keyset paging cannot be trusted with it"
            )
        fresh: list[dict[str, Any]] = []
        for record, ts in zip(records, stamps):
            if not self._wanted(ts):
                continue
            if ts == self.bound:
                if record["id"] in self.seen_at_bound:
                    continue
                self.seen_at_bound.add(record["id"])
            fresh.append(record)
        full = len(records) >= self.per_page and has_next is not False
        if self.tie_page is not None:
            if full:
                self.tie_page += 1
            else:  # the tie is exhausted: continue strictly after it
                self.tie_page, self.inclusive, self.seen_at_bound = None, False, set()
            return fresh
        if not full:
            self.done = True
            return fresh
        last = stamps[-1]
        if last >= self.end:
            self.done = True
        elif last > self.bound:
            self.bound, self.inclusive = last, True
            self.seen_at_bound = {r["id"] for r, ts in zip(records, stamps) if ts == last}
        elif last == self.bound:
            # A whole page on one timestamp: walk that timestamp by page numbers.
            self.tie_page = 1 if self.inclusive else None
            if self.tie_page is None:
                raise ConversationsResponseError(
                    f"the API returned records at {format_timestamp(last)} for created_at[gt] of that time"
                )
        else:
            raise ConversationsResponseError(
                f"a full page ended at {format_timestamp(last)}, before the lower bound {format_timestamp(self.bound)}"
            )
        return fresh
