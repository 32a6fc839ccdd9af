"""What the two strategies of a range read share: the request they ask for, the progress, the interface.

Pure logic, no I/O. :class:`~airflow_provider_conversations.reading.walk.RangeWalk` reads a range with one
:class:`ReadStrategy` at a time: the numbered-chunk read
(:class:`~airflow_provider_conversations.reading.chunks.NumberedChunkRead`), and when that cannot go on,
the keyset fallback (:class:`~airflow_provider_conversations.reading.keyset.KeysetRead`). Both take
records through one :class:`WalkProgress`, so the fallback starts exactly where the chunks stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple, Protocol

from airflow_provider_conversations.api.endpoints import ListEndpoint
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.reading.ranges import RangeFilters

#: A record as the API returned it, with its parsed key (``created_at`` or ``updated_at``).
TimedRecord = tuple[dict[str, Any], datetime]


class RequestKind(str, Enum):
    """Which strategy a request belongs to."""

    #: A page of a chunk, by page number (:mod:`~airflow_provider_conversations.reading.chunks`).
    CHUNK = "chunk"
    #: The next request of the keyset fallback (:mod:`~airflow_provider_conversations.reading.keyset`).
    KEYSET = "keyset"


@dataclass(frozen=True)
class PageRequest:
    """One request the walk wants sent.

    :param kind: the strategy it belongs to.
    :param serial: the chunk's serial number (:attr:`RequestKind.CHUNK`), or the request's serial in
        the keyset fallback (:attr:`RequestKind.KEYSET`; only the latest one is awaited).
    :param page: its page number in the chunk (keyset: the page number it asks for).
    :param params: the query parameters.
    :param path: the endpoint's path (``/v2/conversations``): where to send it.
    """

    kind: RequestKind
    serial: int
    page: int
    params: tuple[tuple[str, str], ...]
    path: str


class Fallback(NamedTuple):
    """A strategy's word that the keyset fallback must read the rest of the range.

    :param counted: start the keyset cursor in its counted mode (``False``: the API sends no counts).
    :param reason: why, for the log.
    """

    counted: bool
    reason: str


@dataclass
class WalkProgress:
    """The range and how far it has been read: the last key taken and the ids taken at it.

    :param key: the timestamp field of the range (``created_at`` or ``updated_at``).
    :param start: inclusive lower bound.
    :param end: exclusive upper bound.
    :param filters: further filters (no bounds on ``key``).
    :param per_page: records per request.
    :param endpoint: the list endpoint read.
    """

    key: str
    start: datetime
    end: datetime
    filters: RangeFilters
    per_page: int
    endpoint: ListEndpoint
    last_ts: datetime | None = None
    ids_at_last: set[Any] = field(default_factory=set)
    #: Pages whose records were taken (by either strategy).
    accepted_pages: int = 0

    def note(self, rid: Any, ts: datetime) -> None:
        """Record that the record ``rid`` at ``ts`` was taken (records come in key order).

        :param rid: its id.
        :param ts: its key.
        """
        if ts != self.last_ts:
            self.last_ts, self.ids_at_last = ts, {rid}
        else:
            self.ids_at_last.add(rid)

    def bound(self) -> datetime:
        """Where a new read starts: the last key taken (its ids are dropped), else the range's start."""
        return self.last_ts if self.last_ts is not None else self.start


class ReadStrategy(Protocol):
    """One way of reading the rest of a range; :class:`~airflow_provider_conversations.reading.walk.RangeWalk`
    drives it with the same calls as itself.
    """

    #: The kind of the requests it asks for.
    kind: RequestKind
    #: The whole range has been read.
    done: bool
    #: Set when the keyset fallback must take over (the strategy asks for nothing more then).
    fallback: Fallback | None

    def requests(self, limit: int, lookahead: int) -> list[PageRequest]:
        """Return up to ``limit`` new requests to send now (see :meth:`RangeWalk.requests`)."""
        ...

    def is_live(self, request: PageRequest) -> bool:
        """Whether the answer to ``request`` (of this strategy's kind) is still wanted."""
        ...

    def receive(self, request: PageRequest, page: Page) -> None:
        """Take the answer to a live ``request``, in any order."""
        ...

    def ready(self) -> bool:
        """Whether the next page in order has arrived."""
        ...

    def pop(self) -> tuple[Page, list[TimedRecord]]:
        """Consume the next page in order; return it with the records it adds."""
        ...
