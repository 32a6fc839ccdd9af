"""The range vocabulary: which timestamp keys a range is read on, the filters a range owns, a record's time.

Nothing here is specific to one endpoint: a range read takes the endpoint
(:class:`~airflow_provider_conversations.api.endpoints.ListEndpoint`) and its further filters as
anything with ``to_params()`` and ``set_fields()`` (:class:`RangeFilters`), as
:class:`~airflow_provider_conversations.api.filters.ConversationFilters` has.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from airflow_provider_conversations.api.endpoints import TIMESTAMP_KEYS
from airflow_provider_conversations.exceptions import ConversationsFilterError, ConversationsResponseError
from airflow_provider_conversations.timestamps import parse_api_timestamp

#: Timestamp keys the list endpoints both sort (``sort_by``) and filter (``<key>[gte]`` ...) by: a range read
#: works on either of them.
RANGE_KEYS: tuple[str, ...] = TIMESTAMP_KEYS


class RangeFilters(Protocol):
    """What a range read needs of an endpoint's further filters (the range's own bounds excluded)."""

    def to_params(self) -> list[tuple[str, str]]:
        """Return the set filters as ``(wire name, value)`` query parameters."""
        ...

    def set_fields(self) -> list[str]:
        """Return the names of the set filters (a bound is named ``<key>_<op>``, e.g. ``created_at_gte``)."""
        ...


F = TypeVar("F", bound=RangeFilters)


class NoFilters:
    """No further filters: the whole range."""

    def to_params(self) -> list[tuple[str, str]]:
        """Return no parameters."""
        return []

    def set_fields(self) -> list[str]:
        """Return no names."""
        return []


def check_range_key(key: object, allowed: Sequence[str] = RANGE_KEYS) -> str:
    """Return ``key`` if a range can be read on it (one of ``allowed``), else raise a clear error.

    :param key: the timestamp field to read a range of.
    :param allowed: the endpoint's range keys.
    :raises ConversationsFilterError: naming the allowed keys.
    """
    if key not in allowed:
        raise ConversationsFilterError(f"key: {key!r} cannot be read as a range; allowed: {', '.join(allowed)}")
    return str(key)


def range_fields(key: str = "created_at") -> tuple[str, ...]:
    """The filter fields that bound a range on ``key``: ``<key>_lt``, ``_lte``, ``_gt``, ``_gte``.

    :param key: the range's timestamp field.
    """
    return tuple(f"{key}_{op}" for op in ("lt", "lte", "gt", "gte"))


def check_no_range_filters(filters: F, *, why: str | None = None, keys: tuple[str, ...] = ("created_at",)) -> F:
    """Return ``filters`` if they leave the bounds of every key in ``keys`` unset, else raise.

    A range read owns those bounds: a caller's own would be overwritten, or contradict the range.

    :param filters: the caller's further filters.
    :param why: the end of the error message, after the offending names (the caller's own wording);
        default ``"cannot be combined with a <key> range"``.
    :param keys: the range keys whose bounds are owned (see :func:`range_fields`).
    :raises ConversationsFilterError: ``"filters: <names> <why>"``.
    """
    given = set(filters.set_fields())
    clash = [name for key in keys for name in range_fields(key) if name in given]
    if clash:
        raise ConversationsFilterError(
            f"filters: {', '.join(clash)} {why or f'cannot be combined with a {keys[0]} range'}"
        )
    return filters


def record_time(record: Any, key: str = "created_at") -> datetime:
    """Return a record's ``key`` timestamp as an aware UTC datetime, or raise a clear error.

    :param record: a record as the API returned it.
    :param key: the range's timestamp field.
    :raises ConversationsResponseError: no ``id`` or ``key``, or a timestamp that does not parse.
    """
    if not isinstance(record, dict) or "id" not in record or key not in record:
        raise ConversationsResponseError(f"a record without 'id' or '{key}' in the response: {str(record)[:200]}")
    try:
        return parse_api_timestamp(record[key])
    except ValueError as err:
        raise ConversationsResponseError(f"record {record['id']}: {err}") from None


def record_created_at(record: Any) -> datetime:
    """Return a record's ``created_at`` as an aware UTC datetime, or raise a clear error.

    :param record: a record as the API returned it.
    """
    return record_time(record, "created_at")
