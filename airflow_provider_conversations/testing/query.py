"""The query engine of the fake ``GET /v2/conversations``: a pure function of records and parameters.

No HTTP, no clock, no randomness, no shared state: :func:`parse_query` validates decoded query pairs
into a :class:`Query` (or raises :class:`QueryError` with the status and message the API answers),
and :func:`run_query` answers it over rows sorted by ``created_at``: the page of records, the total
count and the ``metadata`` envelope. :func:`answer_query` does both for a list of records, and is the
one simulator of the endpoint that unit tests can use without a server. :mod:`.server` serves the
same two steps over HTTP, with authentication, the rate-limit budget and faults around them.
"""

from __future__ import annotations

import bisect
import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .params import (
    CONVERSATIONS,
    COST_TABLE,
    KNOWN_PARAMS,
    LIST_PARAMS,
    PAGING_PARAMS,
    SORT_FIELDS,
    ParamSpec,
)
from .records import parse_timestamp

__all__ = [
    "COST_TABLE",
    "KNOWN_PARAMS",
    "LIST_PARAMS",
    "SORT_FIELDS",
    "Query",
    "QueryError",
    "QueryResult",
    "Quirk",
    "Row",
    "answer_query",
    "copy_record",
    "paging_metadata",
    "parse_query",
    "request_cost",
    "run_query",
    "sorted_rows",
    "to_row",
]

#: How an answer mishandles a lower bound on its sort key, ``created_at`` or ``updated_at`` (the real
#: API's known quirk): ``"prepend"`` puts the matching row just before the bound in front of the page
#: (the page itself is not moved); ``"shift"`` answers over the range plus that row, so every page of
#: the answer moves by one.
Quirk = Literal["prepend", "shift"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
_SORTING = ("sort_by", "sort_direction")
_INT_RE = re.compile(r"^-?\d+$")


def request_cost(page: int) -> int:
    """Rate-limit cost of one request for ``page``: 1-100: 1, 101-150: 3, 151-250: 8, 251-500: 10, 501+: 30.

    :param page: the 1-based page number.
    :return: the cost in budget points.
    """
    for first, last, cost in COST_TABLE:
        if page >= first and (last is None or page <= last):
            return cost
    return COST_TABLE[0][2]


class QueryError(ValueError):
    """An invalid request: ``status`` is 422 (bad value) or 400 (unknown name, strict mode)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Row:
    """A stored record with its parsed sort keys."""

    created: datetime
    rid: str
    updated: datetime
    record: dict[str, Any]


def to_row(record: dict[str, Any]) -> Row:
    """Copy a record into a :class:`Row`.

    :param record: needs a string ``id`` and an ISO-8601 ``created_at``.
    :raises ValueError: if it has not.
    """
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or "created_at" not in record:
        raise ValueError("a record needs a string 'id' and an ISO-8601 'created_at'")
    created = parse_timestamp(str(record["created_at"]))
    updated = parse_timestamp(str(record["updated_at"])) if record.get("updated_at") else created
    return Row(created, record["id"], updated, copy_record(record))


def copy_record(record: dict[str, Any]) -> dict[str, Any]:
    """Copy a record and its nested reference objects.

    :param record: the record.
    """
    return {k: dict(v) if isinstance(v, dict) else v for k, v in record.items()}


@dataclass
class Query:
    """A validated request: predicates, ``created_at`` bounds (served by bisection), sort and paging."""

    predicates: list[tuple[str, Callable[[Any, Any], bool], Any]] = field(default_factory=list)
    lower: list[tuple[datetime, bool]] = field(default_factory=list)  # created_at (bound, inclusive)
    upper: list[tuple[datetime, bool]] = field(default_factory=list)
    updated_lower: list[datetime] = field(default_factory=list)  # updated_at lower bounds (also predicates)
    filtering: dict[str, Any] = field(default_factory=dict)
    sort_by: str = "created_at"
    direction: str = "DESC"
    page: int = 1
    per_page: int = 25
    counts: bool = False

    def matches(self, row: Row) -> bool:
        """Whether ``row`` passes every predicate other than the ``created_at`` bounds.

        :param row: the row to test.
        """
        for key, test, value in self.predicates:
            if key == "updated_at":
                actual: Any = row.updated
            else:
                actual = row.record.get(key)
                if key in ("account", "person"):
                    actual = actual.get("id") if isinstance(actual, dict) else None
            try:
                if not test(actual, value):
                    return False
            except TypeError:  # e.g. a missing duration compared with an int
                return False
        return True


def _invalid(name: str, value: str, allowed: str) -> QueryError:
    return QueryError(422, f"Invalid value {value!r} for parameter {name!r}: must be {allowed}")


def _parse_int(name: str, value: str, low: int | None = None, high: int | None = None) -> int:
    number = int(value) if _INT_RE.match(value.strip()) else None
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        span = f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}"
        raise _invalid(name, value, span if low is not None else "an integer (milliseconds)")
    return number


def _parse_bool(name: str, value: str) -> bool:
    if value.strip().lower() not in ("true", "false"):
        raise _invalid(name, value, "one of true, false")
    return value.strip().lower() == "true"


def _startswith(actual: Any, prefix: str) -> bool:
    return isinstance(actual, str) and actual.startswith(prefix)


def _member(actual: Any, wanted: frozenset[str]) -> bool:
    return isinstance(actual, str) and actual in wanted


def parse_query(
    pairs: list[tuple[str, str]], strict: bool = False, spec: ParamSpec = CONVERSATIONS
) -> tuple[Query, list[str]]:
    """Validate decoded query pairs into a :class:`Query`.

    :param pairs: ``(name, value)`` pairs as decoded from the query string, in order.
    :param strict: raise on unknown names (400) instead of ignoring them.
    :param spec: the parameters the endpoint understands (default: those of ``/v2/conversations``).
    :return: the query and the unknown names (ignored).
    :raises QueryError: on an invalid value (422) or, if ``strict``, an unknown name (400).
    """
    scalars: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    unknown: list[str] = []
    known_scalars = spec.scalars
    for name, value in pairs:
        base = name.removesuffix("[]")
        if base in spec.lists:
            lists.setdefault(base, []).extend(v.strip() for v in value.split(",") if v.strip())
        elif name in known_scalars:
            scalars[name] = value  # the last one wins, as in Rails
        else:
            unknown.append(name)
    if strict and unknown:
        known = ", ".join(sorted(spec.known))
        raise QueryError(400, f"Unknown query parameter {unknown[0]!r}; known parameters: {known}")
    q = Query()
    for name, value in scalars.items():
        if name in PAGING_PARAMS or name in _SORTING:
            continue
        q.filtering[name] = value
        _add_filter(q, spec, name, value)
    for name, ids in lists.items():
        q.filtering[name] = ids
        q.predicates.append((spec.lists[name], _member, frozenset(ids)))
    if spec.sort_fields:
        q.sort_by = scalars.get("sort_by", spec.sort_fields[0])
        if q.sort_by not in spec.sort_fields:
            raise _invalid("sort_by", q.sort_by, "one of " + ", ".join(spec.sort_fields))
        q.direction = scalars.get("sort_direction", "DESC").strip().upper()
        if q.direction not in ("ASC", "DESC"):
            raise _invalid("sort_direction", scalars["sort_direction"], "one of ASC, DESC (case-insensitive)")
    q.page = _parse_int("page", scalars["page"], 1) if "page" in scalars else 1
    q.per_page = _parse_int("per_page", scalars["per_page"], 1, 100) if "per_page" in scalars else 25
    q.counts = _parse_bool("include_paging_counts", scalars.get("include_paging_counts", "false"))
    return q, unknown


def _add_filter(q: Query, spec: ParamSpec, name: str, value: str) -> None:
    """Add the scalar filter ``name=value`` to ``q``: a predicate, or a ``created_at`` bound."""
    if name == "title":
        q.predicates.append(("title", operator.eq, value))
    elif name == "title[_starts_with]":
        q.predicates.append(("title", _startswith, value))
    elif name in spec.enums:
        if value not in spec.enums[name]:
            raise _invalid(name, value, "one of " + ", ".join(spec.enums[name]))
        q.predicates.append((name, operator.eq, value))
    elif name in spec.bools:
        q.predicates.append((name, operator.is_, _parse_bool(name, value)))
    else:
        fname, op = name[:-1].split("[")
        if fname == "duration":
            q.predicates.append((fname, _OPS[op], _parse_int(name, value)))
            return
        try:
            bound = parse_timestamp(value)
        except ValueError:
            example = "an ISO-8601 timestamp, e.g. 2025-02-13T22:11:57.792123Z"
            raise _invalid(name, value, example) from None
        if fname == "created_at":
            (q.lower if op.startswith("g") else q.upper).append((bound, op.endswith("e")))
        else:
            q.predicates.append((fname, _OPS[op], bound))
            if op.startswith("g"):
                q.updated_lower.append(bound)


def sorted_rows(rows: Iterable[Row]) -> list[Row]:
    """Sort rows the way the store keeps them: by ``created_at``, then ``id``.

    :param rows: the rows.
    """
    return sorted(rows, key=lambda r: (r.created, r.rid))


@dataclass(frozen=True)
class QueryResult:
    """The answer to one valid query.

    :param query: the query answered.
    :param data: the records of the page, in order (the quirk's row first when there is one).
    :param total: how many records match the query (the quirk's row not counted).
    :param paging: ``metadata.paging`` of the answer.
    :param quirked: whether a quirk's row was added.
    """

    query: Query
    data: list[dict[str, Any]]
    total: int
    paging: dict[str, Any]
    quirked: bool = False

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body of the answer: ``{"metadata": {"filtering", "sorting", "paging"}, "data"}``."""
        q = self.query
        sorting = {"sort_by": q.sort_by, "sort_direction": q.direction}
        metadata = {"filtering": q.filtering, "sorting": sorting, "paging": self.paging}
        return {"metadata": metadata, "data": self.data}


def run_query(
    rows: Sequence[Row], q: Query, *, keys: Sequence[datetime] | None = None, quirk: Quirk | None = None
) -> QueryResult:
    """Answer ``q`` over ``rows``.

    :param rows: all rows, in ``created_at`` order; rows that share a ``created_at`` are answered in
        the order given (:func:`sorted_rows` orders them by ``id``, as the fake API does).
    :param q: the query.
    :param keys: ``[row.created for row in rows]``, if the caller keeps it (computed otherwise).
    :param quirk: the boundary quirk to apply when ``q`` has a lower bound on its sort key
        (``created_at``, or ``updated_at`` sorted by ``updated_at``; see :data:`Quirk`); nothing is
        added when no row before the bound passes the other filters.
    :return: the page, the total and the paging metadata.
    """
    keys = [r.created for r in rows] if keys is None else keys
    lo, hi = 0, len(rows)
    for bound, inclusive in q.lower:
        lo = max(lo, (bisect.bisect_left if inclusive else bisect.bisect_right)(keys, bound))
    for bound, inclusive in q.upper:
        hi = min(hi, (bisect.bisect_right if inclusive else bisect.bisect_left)(keys, bound))
    matched = [r for r in rows[lo:hi] if q.matches(r)] if q.predicates else rows[lo:hi]
    total = len(matched)
    before = None
    if quirk is not None and q.sort_by == "updated_at" and q.updated_lower:
        before = _row_before_updated(rows[lo:hi], q)
    elif quirk is not None and q.lower:  # the row just before the lower bound that passes the other filters
        before = next((rows[i] for i in range(lo - 1, -1, -1) if q.matches(rows[i])), None)
    if before is not None and quirk == "shift":
        matched = [before, *matched]
    ordered = _order(matched, q)
    first = (q.page - 1) * q.per_page
    data = [r.record for r in ordered[first : first + q.per_page]]
    if before is not None and quirk == "prepend":
        data.insert(0, before.record)
    return QueryResult(q, data, total, paging_metadata(q, total), before is not None)


def paging_metadata(q: Query, total: int) -> dict[str, Any]:
    """``metadata.paging`` of an answer to ``q`` over ``total`` matching records.

    :param q: the query (its page, page size and whether counts were asked for).
    :param total: how many records match.
    """
    paging: dict[str, Any] = {
        "per_page": q.per_page,
        "current_page": q.page,
        "next_page": q.page + 1 if q.page * q.per_page < total else None,
        "prev_page": q.page - 1 if q.page > 1 else None,
    }
    if q.counts:
        paging |= {"total_pages": math.ceil(total / q.per_page), "total_count": total}
    return paging


def _row_before_updated(rows: Sequence[Row], q: Query) -> Row | None:
    """The row with the latest ``updated_at`` before ``q``'s ``updated_at`` lower bound that passes the
    other filters (the quirk on an ``updated_at`` read).
    """
    bound = max(q.updated_lower)
    others = Query(predicates=[p for p in q.predicates if p[0] != "updated_at" or p[1] in (operator.lt, operator.le)])
    earlier = [r for r in rows if r.updated < bound and others.matches(r)]
    return max(earlier, key=lambda r: (r.updated, r.rid), default=None)


def _order(matched: Sequence[Row], q: Query) -> Sequence[Row]:
    descending = q.direction == "DESC"
    if q.sort_by == "created_at":
        return matched[::-1] if descending else matched
    if q.sort_by == "updated_at":
        return sorted(matched, key=lambda r: (r.updated, r.rid), reverse=descending)
    return sorted(matched, key=lambda r: (r.record.get("duration") or 0, r.rid), reverse=descending)


def answer_query(
    records: Iterable[dict[str, Any]],
    params: Iterable[tuple[str, str]],
    *,
    strict: bool = False,
    quirk: Quirk | None = None,
    spec: ParamSpec = CONVERSATIONS,
) -> QueryResult:
    """Answer decoded query parameters over records, as a list endpoint of the API does (no HTTP).

    :param records: the records; each needs a string ``id`` and an ISO-8601 ``created_at``. They are
        copied and ordered by ``created_at`` then ``id``.
    :param params: ``(name, value)`` pairs as decoded from the query string, in order.
    :param strict: raise on unknown names (400) instead of ignoring them.
    :param quirk: the boundary quirk to apply, if any (see :data:`Quirk`).
    :param spec: the parameters understood (default: those of ``/v2/conversations``; see :mod:`.params`).
    :return: the answer.
    :raises QueryError: on an invalid value (422) or, if ``strict``, an unknown name (400).
    :raises ValueError: on a record without ``id`` or ``created_at``.
    """
    q, _ = parse_query(list(params), strict, spec)
    return run_query(sorted_rows(to_row(r) for r in records), q, quirk=quirk)
