"""The range vocabulary: which timestamp keys a range is read on, the filters a range owns, a record's time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.exceptions import ConversationsFilterError, ConversationsResponseError
from airflow_provider_conversations.timestamps import parse_api_timestamp

#: Timestamp keys the endpoint both sorts (``sort_by``) and filters (``<key>[gte]`` ...) by: a range read
#: works on either of them.
RANGE_KEYS: tuple[str, ...] = ("created_at", "updated_at")


def check_range_key(key: object) -> str:
    """Return ``key`` if a range can be read on it (one of :data:`RANGE_KEYS`), else raise a clear error.

    :param key: the timestamp field to read a range of.
    :raises ConversationsFilterError: naming the allowed keys.
    """
    if key not in RANGE_KEYS:
        raise ConversationsFilterError(f"key: {key!r} cannot be read as a range; allowed: {', '.join(RANGE_KEYS)}")
    return str(key)


def range_fields(key: str = "created_at") -> tuple[str, ...]:
    """The filter fields that bound a range on ``key``: ``<key>_lt``, ``_lte``, ``_gt``, ``_gte``.

    :param key: one of :data:`RANGE_KEYS`.
    """
    return tuple(f"{check_range_key(key)}_{op}" for op in ("lt", "lte", "gt", "gte"))


#: Filter fields the keyset cursor owns on a ``created_at`` range; a caller's filters must leave them unset.
CURSOR_FIELDS = range_fields("created_at")


def check_no_range_filters(
    filters: ConversationFilters, *, why: str | None = None, keys: tuple[str, ...] = ("created_at",)
) -> ConversationFilters:
    """Return ``filters`` if they leave the bounds of every key in ``keys`` unset, else raise.

    A range read owns those bounds: a caller's own would be overwritten, or contradict the range.

    :param filters: the caller's further filters.
    :param why: the end of the error message, after the offending names (the caller's own wording);
        default ``"cannot be combined with a <key> range"``.
    :param keys: the range keys whose bounds are owned (see :func:`range_fields`).
    :raises ConversationsFilterError: ``"filters: <names> <why>"``.
    """
    clash = [name for key in keys for name in range_fields(key) if getattr(filters, name) is not None]
    if clash:
        raise ConversationsFilterError(
            f"filters: {', '.join(clash)} {why or f'cannot be combined with a {keys[0]} range'}"
        )
    return filters


def record_time(record: Any, key: str = "created_at") -> datetime:
    """Return a record's ``key`` timestamp as an aware UTC datetime, or raise a clear error.

    :param record: a conversation as the API returned it.
    :param key: one of :data:`RANGE_KEYS`.
    """
    if not isinstance(record, dict) or "id" not in record or key not in record:
        raise ConversationsResponseError(f"a conversation without 'id' or '{key}' in the response: {str(record)[:200]}")
    try:
        return parse_api_timestamp(record[key])
    except ValueError as err:
        raise ConversationsResponseError(f"conversation {record['id']}: {err}") from None


def record_created_at(record: Any) -> datetime:
    """Return a record's ``created_at`` as an aware UTC datetime, or raise a clear error."""
    return record_time(record, "created_at")
