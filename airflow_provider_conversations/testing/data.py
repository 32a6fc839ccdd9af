"""Records and query semantics of the fake ``GET /v2/conversations`` (stdlib only, no HTTP).

* Deterministic synthetic records: :func:`generate_conversations`, :func:`make_conversation`
  (seeded; the same ``seed`` always yields the same records).
* The endpoint's domain tables (platforms, media types, language codes), timestamp helpers, the
  deep-paging :data:`COST_TABLE`, and the query language (wire names, validation, filtering,
  sorting, paging envelope) that :mod:`.server` serves over HTTP.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "ACCOUNT_IDS",
    "API_BASE",
    "COST_TABLE",
    "DEFAULT_START",
    "KNOWN_PARAMS",
    "LANGUAGE_CODES",
    "LIST_PARAMS",
    "MEDIA_TYPES",
    "ORGANIZATION_ID",
    "PERSON_IDS",
    "PLATFORMS",
    "SORT_FIELDS",
    "USER_IDS",
    "format_timestamp",
    "generate_conversations",
    "make_conversation",
    "parse_timestamp",
    "request_cost",
]

#: Prefix of every ``_href`` in a record.
API_BASE = "https://api.salesloft.com/v2"

#: Platforms listed in the reference (``platform`` field and filter).
# fmt: off
PLATFORMS: tuple[str, ...] = (
    "bluejeans", "gotomeeting", "joinme", "manual_upload", "ms_teams", "salesloft",
    "uberconference", "webex", "zoom", "google_meet", "external_audio",
)
# fmt: on
_PLATFORM_CUM = tuple(itertools.accumulate((1, 2, 1, 3, 20, 8, 1, 4, 35, 22, 3)))

#: Media types listed in the reference.
MEDIA_TYPES: tuple[str, ...] = ("audio", "video")

#: Language codes listed in the reference (``language_code`` field and filter).
# fmt: off
LANGUAGE_CODES: tuple[str, ...] = (
    "en-AU", "en-AB", "en-GB", "en-IN", "en-IE", "en-NZ", "en-ZA", "en-US", "en-WL",
    "es-ES", "es-US", "nl-NL", "it-IT", "fr-FR", "fr-CA", "de-DE", "de-CH",
)
# fmt: on
_LANGUAGE_CUM = tuple(itertools.accumulate((3, 1, 8, 3, 1, 1, 1, 55, 1, 3, 3, 2, 2, 6, 2, 5, 1)))

#: Default start of the generated ``created_at`` range.
DEFAULT_START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _uuid(rng: random.Random) -> str:
    # Same value as str(uuid.UUID(int=rng.getrandbits(128), version=4)), without the object overhead.
    n = rng.getrandbits(128) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{n & ~(0xF000 << 64) | (4 << 76):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Fixed pools (independent of the data seed) so that ``make_conversation`` needs only an rng and
# owner/user/account/person filters match several records.
_POOL_RNG = random.Random(20250101)
#: The single organization every generated conversation belongs to.
ORGANIZATION_ID: str = _uuid(_POOL_RNG)
#: Pool of 20 user uuids used for ``owner_id`` and ``user_guid``.
USER_IDS: tuple[str, ...] = tuple(_uuid(_POOL_RNG) for _ in range(20))
#: Pool of 60 account ids (numeric strings, as the vendor's ids are integers).
ACCOUNT_IDS: tuple[str, ...] = tuple(str(_POOL_RNG.randrange(10_000_000, 99_999_999)) for _ in range(60))
#: Pool of 200 person ids.
PERSON_IDS: tuple[str, ...] = tuple(str(_POOL_RNG.randrange(100_000_000, 999_999_999)) for _ in range(200))
del _POOL_RNG

# fmt: off
_COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
    "Hooli", "Pied Piper", "Vandelay Industries", "Soylent", "Cyberdyne Systems", "Tyrell Corp",
    "Wonka Foods", "Gringotts Bank", "Oscorp", "Massive Dynamic", "Nakatomi Trading", "Aperture Labs",
    "Blue Sun", "Monarch Logistics", "Northwind Traders", "Contoso", "Fabrikam", "Litware",
)
# fmt: on
_FIRST_NAMES = ("Alex", "Sam", "Jordan", "Priya", "Chen", "Maria", "Tom", "Aisha", "Lukas", "Emma")
_TEMPLATES = (
    "Discovery call with {company}",
    "{company} <> Salesloft intro",
    "Demo for {company}",
    "Pricing review - {company}",
    "QBR: {company}",
    "Follow-up with {first} ({company})",
    "{company} renewal discussion",
    "Technical deep dive - {company}",
    "Contract negotiation with {company}",
    "Onboarding kickoff: {company}",
)
_NON_ASCII_TITLES = (
    "Réunion — Société Générale",
    "東京 demo",
    "Démo produit \u2013 Crédit Agricole",
    "Gespräch mit Müller & Söhne GmbH",
    "São Paulo pipeline review",
    "Renewal 🎉 Nordlys AS",
)

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def format_timestamp(value: datetime) -> str:
    """Format a datetime the way the API does: UTC, microseconds, ``Z`` suffix.

    :param value: an aware datetime (a naive one is taken as UTC).
    :return: e.g. ``"2025-02-13T22:11:57.792123Z"``.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime with microsecond precision.

    Accepts a ``Z`` or ``+hh:mm`` offset (no offset means UTC), 0 to 9 fractional digits (digits
    past the sixth are truncated) and a bare date (midnight UTC).

    :param value: the text to parse.
    :return: the aware datetime in UTC.
    :raises ValueError: if ``value`` is not an ISO-8601 timestamp.
    """
    if len(value) == 27 and value[-1] == "Z" and value[10] == "T":  # the API's own format: fast path
        try:
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    match = _TS_RE.match(value.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or "0"))
        tz = timezone(delta if offset[0] == "+" else -delta)
    parsed = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=tz
    )
    return parsed.astimezone(timezone.utc)


def _ref(kind: str, ident: str) -> dict[str, str]:
    return {"id": ident, "_href": f"{API_BASE}/{kind}/{ident}"}


def _title(rng: random.Random) -> str:
    if rng.random() < 0.04:
        return rng.choice(_NON_ASCII_TITLES)
    template = rng.choice(_TEMPLATES)
    return template.format(company=rng.choice(_COMPANIES), first=rng.choice(_FIRST_NAMES))


def make_conversation(rng: random.Random, created_at: datetime) -> dict[str, Any]:
    """Build one realistic conversation record created at ``created_at``.

    The call ends a few minutes before ``created_at`` (processing delay), ``duration`` equals
    ``event_end_date - event_start_date`` in milliseconds and ``updated_at >= created_at``.

    :param rng: the random source (seed it for reproducible records).
    :param created_at: creation time; a naive datetime is taken as UTC.
    :return: a record with every field of the reference schema.
    """
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    conversation_id = _uuid(rng)
    owner_id = rng.choice(USER_IDS)
    user_guid = owner_id if rng.random() < 0.8 else rng.choice(USER_IDS)
    duration_ms = int(rng.triangular(45, 3600, 1500) * 1000) + rng.randrange(1000)
    event_end = created_at - timedelta(microseconds=rng.randrange(20_000_000, 900_000_000))
    event_end = event_end.replace(microsecond=event_end.microsecond // 1000 * 1000)
    event_start = event_end - timedelta(milliseconds=duration_ms)
    if rng.random() < 0.3:
        updated_at = created_at
    else:
        updated_at = created_at + timedelta(microseconds=rng.randrange(1_000_000, 3 * 86_400_000_000))
    transcription_id = _uuid(rng)
    return {
        "id": conversation_id,
        "duration": duration_ms,
        "is_api": rng.random() < 0.1,
        "platform": rng.choices(PLATFORMS, cum_weights=_PLATFORM_CUM)[0],
        "media_type": "video" if rng.random() < 0.7 else "audio",
        "organization_id": ORGANIZATION_ID,
        "title": _title(rng),
        "owner_id": owner_id,
        "user_guid": user_guid,
        "started_recording_at": int(event_start.timestamp() * 1000),
        "event_end_date": format_timestamp(event_end),
        "event_start_date": format_timestamp(event_start),
        "language_code": rng.choices(LANGUAGE_CODES, cum_weights=_LANGUAGE_CUM)[0],
        "created_at": format_timestamp(created_at),
        "updated_at": format_timestamp(updated_at),
        "call_id": str(rng.randrange(1_000_000_000, 9_999_999_999)),
        "account": _ref("accounts", rng.choice(ACCOUNT_IDS)),
        "person": _ref("people", rng.choice(PERSON_IDS)),
        "recording": {"id": _uuid(rng), "_href": f"{API_BASE}/conversations/{conversation_id}/recording"},
        "transcription": _ref("transcriptions", transcription_id),
        "transcription_sentences": {
            "id": _uuid(rng),
            "_href": f"{API_BASE}/transcriptions/{transcription_id}/sentences",
        },
        "transcription_artifact": {
            "id": _uuid(rng),
            "_href": f"{API_BASE}/transcriptions/{transcription_id}/artifact",
        },
    }


def generate_conversations(
    n: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    end: datetime | None = None,
    tie_share: float = 0.05,
) -> list[dict[str, Any]]:
    """Generate ``n`` deterministic conversations, sorted by ``created_at`` then ``id``.

    :param n: number of records.
    :param seed: random seed; the same seed gives the same records.
    :param start: lower bound (inclusive) of ``created_at``; default 2025-01-01T00:00Z.
    :param end: upper bound (exclusive) of ``created_at``; default ``start`` + 7 days.
    :param tie_share: share of records whose ``created_at`` is exactly another record's.
    :return: the records (fresh dicts, safe to mutate).
    :raises ValueError: on a negative ``n``, an empty range or a ``tie_share`` outside [0, 1].
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= tie_share <= 1.0:
        raise ValueError("tie_share must be in [0, 1]")
    start = DEFAULT_START if start is None else start
    start = start.replace(tzinfo=timezone.utc) if start.tzinfo is None else start
    end = start + timedelta(days=7) if end is None else end
    end = end.replace(tzinfo=timezone.utc) if end.tzinfo is None else end
    span_us = (end - start) // timedelta(microseconds=1)
    if span_us <= 0:
        raise ValueError("end must be after start")
    rng = random.Random(seed)
    offsets = [rng.randrange(span_us) for _ in range(n)]
    if n >= 2:
        for i in rng.sample(range(n), min(n - 1, round(n * tie_share))):
            j = rng.randrange(n - 1)
            offsets[i] = offsets[j if j < i else j + 1]
    records = [make_conversation(rng, start + timedelta(microseconds=off)) for off in offsets]
    records.sort(key=lambda r: (r["created_at"], r["id"]))  # one fixed-width format: text order is time order
    return records


# ---------------------------------------------------------------------------------------------
# Query semantics
# ---------------------------------------------------------------------------------------------

#: ``(first_page, last_page or None, cost)`` rows of the vendor's deep-paging cost table.
COST_TABLE: tuple[tuple[int, int | None, int], ...] = (
    (1, 100, 1),
    (101, 150, 3),
    (151, 250, 8),
    (251, 500, 10),
    (501, None, 30),
)
#: Accepted ``sort_by`` values.
SORT_FIELDS: tuple[str, ...] = ("created_at", "updated_at", "duration")
#: List filters (wire name without ``[]``) -> record field they match.
LIST_PARAMS: dict[str, str] = {
    "owner_ids": "owner_id",
    "user_guids": "user_guid",
    "ids": "id",
    "account_ids": "account",
    "person_ids": "person",
}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
_ENUMS: dict[str, tuple[str, ...]] = {
    "language_code": LANGUAGE_CODES,
    "platform": PLATFORMS,
    "media_type": MEDIA_TYPES,
    "sort_by": SORT_FIELDS,
    "sort_direction": ("ASC", "DESC"),
}
_BOOLS = ("is_api", "include_paging_counts")
_RANGES = tuple(f"{name}[{op}]" for name in ("created_at", "updated_at", "duration") for op in _OPS)
_SCALARS = frozenset(("title", "title[_starts_with]", "page", "per_page", *_ENUMS, *_BOOLS, *_RANGES))
_NOT_FILTERS = ("page", "per_page", "sort_by", "sort_direction", "include_paging_counts")
#: Every parameter name understood (list filters both as ``name[]`` and as ``name``).
KNOWN_PARAMS: frozenset[str] = _SCALARS | frozenset(LIST_PARAMS) | {f"{n}[]" for n in LIST_PARAMS}
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


def parse_query(pairs: list[tuple[str, str]], strict: bool = False) -> tuple[Query, list[str]]:
    """Validate decoded query pairs into a :class:`Query`.

    :param pairs: ``(name, value)`` pairs as decoded from the query string, in order.
    :param strict: raise on unknown names (400) instead of ignoring them.
    :return: the query and the unknown names (ignored).
    :raises QueryError: on an invalid value (422) or, if ``strict``, an unknown name (400).
    """
    scalars: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    unknown: list[str] = []
    for name, value in pairs:
        base = name.removesuffix("[]")
        if base in LIST_PARAMS:
            lists.setdefault(base, []).extend(v.strip() for v in value.split(",") if v.strip())
        elif name in _SCALARS:
            scalars[name] = value  # the last one wins, as in Rails
        else:
            unknown.append(name)
    if strict and unknown:
        known = ", ".join(sorted(KNOWN_PARAMS))
        raise QueryError(400, f"Unknown query parameter {unknown[0]!r}; known parameters: {known}")
    q = Query()
    for name, value in scalars.items():
        if name in _NOT_FILTERS:
            continue
        q.filtering[name] = value
        if name == "title":
            q.predicates.append(("title", operator.eq, value))
        elif name == "title[_starts_with]":
            q.predicates.append(("title", _startswith, value))
        elif name in _ENUMS:
            if value not in _ENUMS[name]:
                raise _invalid(name, value, "one of " + ", ".join(_ENUMS[name]))
            q.predicates.append((name, operator.eq, value))
        elif name in _BOOLS:
            q.predicates.append((name, operator.is_, _parse_bool(name, value)))
        else:
            fname, op = name[:-1].split("[")
            if fname == "duration":
                q.predicates.append((fname, _OPS[op], _parse_int(name, value)))
                continue
            try:
                bound = parse_timestamp(value)
            except ValueError:
                example = "an ISO-8601 timestamp, e.g. 2025-02-13T22:11:57.792123Z"
                raise _invalid(name, value, example) from None
            if fname == "created_at":
                (q.lower if op.startswith("g") else q.upper).append((bound, op.endswith("e")))
            else:
                q.predicates.append((fname, _OPS[op], bound))
    for name, ids in lists.items():
        q.filtering[name] = ids
        q.predicates.append((LIST_PARAMS[name], _member, frozenset(ids)))
    if scalars.get("sort_by", "created_at") not in SORT_FIELDS:
        raise _invalid("sort_by", scalars["sort_by"], "one of " + ", ".join(SORT_FIELDS))
    q.sort_by = scalars.get("sort_by", "created_at")
    q.direction = scalars.get("sort_direction", "DESC").strip().upper()
    if q.direction not in ("ASC", "DESC"):
        raise _invalid("sort_direction", scalars["sort_direction"], "one of ASC, DESC (case-insensitive)")
    q.page = _parse_int("page", scalars["page"], 1) if "page" in scalars else 1
    q.per_page = _parse_int("per_page", scalars["per_page"], 1, 100) if "per_page" in scalars else 25
    q.counts = _parse_bool("include_paging_counts", scalars.get("include_paging_counts", "false"))
    return q, unknown


def run_query(rows: list[Row], keys: list[datetime], q: Query, *, quirk: bool = False) -> tuple[dict[str, Any], bool]:
    """Answer ``q`` over ``rows`` (sorted by ``created_at`` then ``id``; ``keys`` their ``created``).

    :param rows: all rows, sorted.
    :param keys: ``[row.created for row in rows]``.
    :param q: the query.
    :param quirk: prepend the matching row just before the ``created_at`` lower bound, if any.
    :return: the response envelope and whether the quirk row was prepended.
    """
    lo, hi = 0, len(rows)
    for bound, inclusive in q.lower:
        lo = max(lo, (bisect.bisect_left if inclusive else bisect.bisect_right)(keys, bound))
    for bound, inclusive in q.upper:
        hi = min(hi, (bisect.bisect_right if inclusive else bisect.bisect_left)(keys, bound))
    matched = [r for r in rows[lo:hi] if q.matches(r)] if q.predicates else rows[lo:hi]
    if q.sort_by == "created_at":
        ordered = matched[::-1] if q.direction == "DESC" else matched
    elif q.sort_by == "updated_at":
        ordered = sorted(matched, key=lambda r: (r.updated, r.rid), reverse=q.direction == "DESC")
    else:
        ordered = sorted(matched, key=lambda r: (r.record.get("duration") or 0, r.rid), reverse=q.direction == "DESC")
    first = (q.page - 1) * q.per_page
    data = [r.record for r in ordered[first : first + q.per_page]]
    before = None
    if quirk and q.lower:  # the row just before the lower bound that passes the other filters
        before = next((rows[i] for i in range(lo - 1, -1, -1) if q.matches(rows[i])), None)
    if before is not None:
        data.insert(0, before.record)
    total = len(ordered)
    paging: dict[str, Any] = {
        "per_page": q.per_page,
        "current_page": q.page,
        "next_page": q.page + 1 if first + q.per_page < total else None,
        "prev_page": q.page - 1 if q.page > 1 else None,
    }
    if q.counts:
        paging |= {"total_pages": math.ceil(total / q.per_page), "total_count": total}
    sorting = {"sort_by": q.sort_by, "sort_direction": q.direction}
    metadata = {"filtering": q.filtering, "sorting": sorting, "paging": paging}
    return {"metadata": metadata, "data": data}, before is not None
