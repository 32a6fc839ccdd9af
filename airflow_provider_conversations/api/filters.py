"""Filters of ``GET /v2/conversations``: typed, validated, and turned into wire parameters.

This module is pure (no I/O). :data:`WIRE_NAMES` is the single table of query-parameter names;
the API silently ignores names it does not know, so a misspelling here would return every record.
What the vendor does not document (the list encoding, :data:`LIST_SUFFIX`) is an assumption kept
here and only here; the provider docs (``docs/hook.rst``, "Filters") list the wire names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from airflow_provider_conversations.checks import check_int
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "LANGUAGE_CODES",
    "LIST_SUFFIX",
    "MAX_PER_PAGE",
    "MEDIA_TYPES",
    "PLATFORMS",
    "SORT_BY",
    "SORT_DIRECTIONS",
    "WIRE_NAMES",
    "ConversationFilters",
    "count_params",
    "format_timestamp",  # from timestamps, kept importable from here
    "paging_params",
    "parse_timestamp",  # from timestamps, kept importable from here
    "validate_range",
]

LANGUAGE_CODES: tuple[str, ...] = (
    "en-AU",
    "en-AB",
    "en-GB",
    "en-IN",
    "en-IE",
    "en-NZ",
    "en-ZA",
    "en-US",
    "en-WL",
    "es-ES",
    "es-US",
    "nl-NL",
    "it-IT",
    "fr-FR",
    "fr-CA",
    "de-DE",
    "de-CH",
)
PLATFORMS: tuple[str, ...] = (
    "bluejeans",
    "gotomeeting",
    "joinme",
    "manual_upload",
    "ms_teams",
    "salesloft",
    "uberconference",
    "webex",
    "zoom",
    "google_meet",
    "external_audio",
)
MEDIA_TYPES: tuple[str, ...] = ("audio", "video")
SORT_BY: tuple[str, ...] = ("created_at", "updated_at", "duration")
SORT_DIRECTIONS: tuple[str, ...] = ("ASC", "DESC")
MAX_PER_PAGE = 100

#: Python field name -> query parameter name sent on the wire.
WIRE_NAMES: dict[str, str] = {
    "title": "title",
    "title_starts_with": "title[_starts_with]",
    "created_at_lt": "created_at[lt]",
    "created_at_lte": "created_at[lte]",
    "created_at_gt": "created_at[gt]",
    "created_at_gte": "created_at[gte]",
    "updated_at_lt": "updated_at[lt]",
    "updated_at_lte": "updated_at[lte]",
    "updated_at_gt": "updated_at[gt]",
    "updated_at_gte": "updated_at[gte]",
    "duration_lt": "duration[lt]",
    "duration_lte": "duration[lte]",
    "duration_gt": "duration[gt]",
    "duration_gte": "duration[gte]",
    "language_code": "language_code",
    "platform": "platform",
    "owner_ids": "owner_ids",
    "user_guids": "user_guids",
    "ids": "ids",
    "account_ids": "account_ids",
    "person_ids": "person_ids",
    "is_api": "is_api",
    "media_type": "media_type",
    "sort_by": "sort_by",
    "sort_direction": "sort_direction",
    "page": "page",
    "per_page": "per_page",
    "include_paging_counts": "include_paging_counts",
}
#: How a list value is encoded: Rails parses repeated ``name[]=a&name[]=b`` as a list (*assumed*).
LIST_SUFFIX = "[]"


def _choice(value: Any, name: str, allowed: Sequence[str], *, case_insensitive: bool = False) -> str:
    if isinstance(value, str):
        candidate = value.upper() if case_insensitive else value
        if candidate in allowed:
            return candidate
    raise ConversationsFilterError(f"{name}: {value!r} is not allowed; allowed values: {', '.join(allowed)}")


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConversationsFilterError(f"{name}: expected true or false, got {value!r}")


def _id_list(value: Any, name: str, *, uuids: bool) -> tuple[str, ...]:
    items: Iterable[Any] = [value] if isinstance(value, (str, int)) else value
    if not isinstance(items, Iterable) or isinstance(items, Mapping):
        raise ConversationsFilterError(f"{name}: expected a list of ids, got {type(value).__name__}")
    result: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)) or str(item).strip() == "":
            raise ConversationsFilterError(f"{name}: {item!r} is not a valid id")
        text = str(item).strip()
        if uuids:
            try:
                uuid.UUID(text)
            except ValueError:
                raise ConversationsFilterError(f"{name}: {text!r} is not a UUID") from None
        result.append(text)
    if not result:
        # An empty list would send no parameter at all, and the API would return every record.
        raise ConversationsFilterError(f"{name}: must not be empty (omit the filter instead)")
    return tuple(result)


def _nonempty_str(value: Any, name: str) -> str:
    if not isinstance(value, str) or value == "":
        raise ConversationsFilterError(f"{name}: expected a non-empty string, got {value!r}")
    return value


class FilterSet:
    """What every endpoint's filters share: values normalised at construction, ranges that are not empty
    or inverted, a dict of field names in, wire parameters and JSON-safe values out.

    A subclass is a frozen dataclass of optional fields that says how one value is checked
    (:meth:`_normalise`), which fields are ranges (:attr:`RANGE_FIELDS`) and their wire names
    (:attr:`WIRE`).
    """

    #: Field prefixes with ``_lt``/``_lte``/``_gt``/``_gte`` bounds.
    RANGE_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: Field name -> query parameter name.
    WIRE: ClassVar[Mapping[str, str]] = {}
    #: What the filters are of, in messages (``"transcription "``; empty for conversations).
    KIND: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, self._normalise(f.name, value))
        for prefix in self.RANGE_FIELDS:
            # (value, exclusive) of each bound that is set
            lower = [(getattr(self, f"{prefix}_{op}"), op == "gt") for op in ("gt", "gte")]
            upper = [(getattr(self, f"{prefix}_{op}"), op == "lt") for op in ("lt", "lte")]
            for low, low_open in (b for b in lower if b[0] is not None):
                for high, high_open in (b for b in upper if b[0] is not None):
                    if low > high or (low == high and (low_open or high_open)):
                        raise ConversationsFilterError(
                            f"{prefix}: the range is empty or inverted: the lower bound {low} is not before "
                            f"the upper bound {high}"
                        )

    @staticmethod
    def _normalise(name: str, value: Any) -> Any:
        """Check one set value and return it normalised."""
        raise NotImplementedError

    @classmethod
    def from_mapping(cls: type[_F], mapping: Mapping[str, Any] | _F | None) -> _F:
        """Build filters from a dict of field names (as an operator's templated ``filters`` is).

        :param mapping: field name -> value; ``None`` values are ignored.
        :raises ConversationsFilterError: on an unknown name (naming the allowed ones) or a bad value.
        """
        if mapping is None:
            return cls()
        if isinstance(mapping, cls):
            return mapping
        if not isinstance(mapping, Mapping):
            raise ConversationsFilterError(f"filters: expected a dict of filter names, got {type(mapping).__name__}")
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(str(k) for k in mapping if k not in known)
        if unknown:
            raise ConversationsFilterError(
                f"filters: unknown {cls.KIND}filter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
            )
        return cls(**{k: v for k, v in mapping.items() if v is not None})

    def merged(self: _F, **overrides: Any) -> _F:
        """Return a copy with some fields replaced (and the whole validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        values.update(overrides)
        return type(self)(**values)

    def set_fields(self) -> list[str]:
        """Names of the fields that are set."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        """The set fields as JSON-safe values (timestamps as UTC ISO strings, lists as lists)."""
        result: dict[str, Any] = {}
        for name in self.set_fields():
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = format_timestamp(value)
            elif isinstance(value, tuple):
                value = list(value)
            result[name] = value
        return result

    def to_params(self) -> list[tuple[str, str]]:
        """Return the query parameters as ``(wire name, value)`` pairs, in field order."""
        params: list[tuple[str, str]] = []
        for name in self.set_fields():
            value, wire = getattr(self, name), self.WIRE[name]
            if isinstance(value, tuple):
                params.extend((wire + LIST_SUFFIX, item) for item in value)
            elif isinstance(value, datetime):
                params.append((wire, format_timestamp(value)))
            elif isinstance(value, bool):
                params.append((wire, "true" if value else "false"))
            else:
                params.append((wire, str(value)))
        return params


_F = TypeVar("_F", bound=FilterSet)


@dataclass(frozen=True)
class ConversationFilters(FilterSet):
    """Every filter of ``GET /v2/conversations``, validated and normalised at construction.

    Timestamps accept aware datetimes or ISO-8601 strings with an offset and are normalised to UTC;
    naive values are rejected. Enumerated values are checked against the API reference's lists.
    Range pairs (``*_gt``/``*_gte`` against ``*_lt``/``*_lte``) must not be inverted.

    :param title: exact title.
    :param title_starts_with: title prefix.
    :param created_at_lt: ``created_at`` strictly before. Likewise ``_lte``, ``_gt``, ``_gte``.
    :param updated_at_lt: ``updated_at`` strictly before. Likewise ``_lte``, ``_gt``, ``_gte``.
    :param duration_lt: duration in milliseconds strictly less than. Likewise ``_lte``, ``_gt``, ``_gte``.
    :param language_code: transcription language, one of :data:`LANGUAGE_CODES`.
    :param platform: source platform, one of :data:`PLATFORMS`.
    :param owner_ids: owner user UUIDs.
    :param user_guids: recording user UUIDs.
    :param ids: conversation UUIDs.
    :param account_ids: account ids.
    :param person_ids: person ids.
    :param is_api: whether the conversation was created through the API.
    :param media_type: ``audio`` or ``video``.
    """

    title: str | None = None
    title_starts_with: str | None = None
    created_at_lt: datetime | str | None = None
    created_at_lte: datetime | str | None = None
    created_at_gt: datetime | str | None = None
    created_at_gte: datetime | str | None = None
    updated_at_lt: datetime | str | None = None
    updated_at_lte: datetime | str | None = None
    updated_at_gt: datetime | str | None = None
    updated_at_gte: datetime | str | None = None
    duration_lt: int | None = None
    duration_lte: int | None = None
    duration_gt: int | None = None
    duration_gte: int | None = None
    language_code: str | None = None
    platform: str | None = None
    owner_ids: Sequence[str] | None = field(default=None)
    user_guids: Sequence[str] | None = field(default=None)
    ids: Sequence[str] | None = field(default=None)
    account_ids: Sequence[str | int] | None = field(default=None)
    person_ids: Sequence[str | int] | None = field(default=None)
    is_api: bool | None = None
    media_type: str | None = None

    RANGE_FIELDS: ClassVar[tuple[str, ...]] = ("created_at", "updated_at", "duration")
    WIRE: ClassVar[Mapping[str, str]] = WIRE_NAMES

    @staticmethod
    def _normalise(name: str, value: Any) -> Any:
        if name.startswith(("created_at_", "updated_at_")):
            return parse_timestamp(value, name)
        if name.startswith("duration_"):
            return check_int(value, name, minimum=0, strings=True)
        if name == "language_code":
            return _choice(value, name, LANGUAGE_CODES)
        if name == "platform":
            return _choice(value, name, PLATFORMS)
        if name == "media_type":
            return _choice(value, name, MEDIA_TYPES)
        if name == "is_api":
            return _bool(value, name)
        if name in ("owner_ids", "user_guids", "ids"):
            return _id_list(value, name, uuids=True)
        if name in ("account_ids", "person_ids"):
            return _id_list(value, name, uuids=False)
        return _nonempty_str(value, name)


def paging_params(
    *,
    sort_by: str = "created_at",
    sort_direction: str = "ASC",
    per_page: int = MAX_PER_PAGE,
    page: int = 1,
    include_paging_counts: bool = False,
) -> list[tuple[str, str]]:
    """Validate sorting and paging arguments and return them as wire parameters.

    :param sort_by: one of :data:`SORT_BY`.
    :param sort_direction: ``ASC`` or ``DESC`` (any case).
    :param per_page: records per page, 1..100.
    :param page: 1-based page number.
    :param include_paging_counts: ask for ``total_count``/``total_pages`` in the metadata.
    """
    return [
        (WIRE_NAMES["sort_by"], _choice(sort_by, "sort_by", SORT_BY)),
        (
            WIRE_NAMES["sort_direction"],
            _choice(sort_direction, "sort_direction", SORT_DIRECTIONS, case_insensitive=True),
        ),
        (WIRE_NAMES["per_page"], str(check_int(per_page, "per_page", minimum=1, maximum=MAX_PER_PAGE, strings=True))),
        (WIRE_NAMES["page"], str(check_int(page, "page", minimum=1, strings=True))),
        (
            WIRE_NAMES["include_paging_counts"],
            "true" if _bool(include_paging_counts, "include_paging_counts") else "false",
        ),
    ]


def validate_range(
    gte: datetime | str | None, lt: datetime | str | None, *, prefix: str = "created_at"
) -> tuple[datetime, datetime]:
    """Validate a half-open range ``[gte, lt)`` and return it as aware UTC datetimes.

    :param gte: inclusive lower bound.
    :param lt: exclusive upper bound.
    :param prefix: field name used in error messages.
    """
    if gte is None or lt is None:
        missing = f"{prefix}_gte" if gte is None else f"{prefix}_lt"
        raise ConversationsFilterError(f"{missing}: required for a range")
    start = parse_timestamp(gte, f"{prefix}_gte")
    end = parse_timestamp(lt, f"{prefix}_lt")
    if start >= end:
        raise ConversationsFilterError(
            f"{prefix}: the range is empty or inverted: {prefix}_gte={format_timestamp(start)} "
            f"must be before {prefix}_lt={format_timestamp(end)}"
        )
    return start, end


def count_params(filters: ConversationFilters) -> list[tuple[str, str]]:
    """Parameters of the cheapest request that counts ``filters``' matches: one record, paging counts on."""
    return filters.to_params() + paging_params(per_page=1, include_paging_counts=True)
