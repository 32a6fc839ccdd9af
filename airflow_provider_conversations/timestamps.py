"""Parse and format ``created_at``-style timestamps: user input, and the API's own format (a hot path).

Every timestamp inside the provider is an aware UTC :class:`~datetime.datetime`; on the wire it is
ISO-8601 with microseconds and a ``Z`` suffix (``2025-02-13T22:11:57.792000Z``), which the API
compares with microsecond precision.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsFilterError

_TS_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:[.,](?P<frac>\d+))?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_timestamp(value: str | datetime, name: str, *, assume_utc: bool = False) -> datetime:
    """Parse an aware datetime or ISO-8601 string into an aware UTC :class:`datetime`.

    :param value: a timezone-aware datetime or an ISO-8601 string with an offset (``Z`` or ``+hh:mm``).
    :param name: the field name, for the error message.
    :param assume_utc: treat a value without offset as UTC instead of rejecting it (used for
        timestamps the API returns, never for user input).
    :raises ConversationsFilterError: naming ``name``, when the value is not such a timestamp.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        match = _TS_RE.match(value.strip())
        if not match:
            raise ConversationsFilterError(
                f"{name}: {value!r} is not an ISO-8601 timestamp (expected e.g. '2025-02-13T22:11:57.792000Z')"
            )
        time_part = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
        frac = (match["frac"] or "0")[:6].ljust(6, "0")
        tz = match["tz"] or ""
        if tz in ("Z", "z"):
            tz = "+00:00"
        elif tz and ":" not in tz:
            tz = f"{tz[:3]}:{tz[3:] or '00'}"
        try:
            dt = datetime.fromisoformat(f"{match['date']}T{time_part}.{frac}{tz}")
        except ValueError as err:
            raise ConversationsFilterError(f"{name}: {value!r} is not a valid timestamp ({err})") from None
    else:
        raise ConversationsFilterError(
            f"{name}: expected a timezone-aware datetime or an ISO-8601 string, got {type(value).__name__}"
        )
    if dt.tzinfo is None or dt.utcoffset() is None:
        if not assume_utc:
            raise ConversationsFilterError(
                f"{name}: {value!r} has no timezone; pass an aware datetime or a string ending in 'Z' "
                "or '+00:00' (naive times are ambiguous)"
            )
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        utc = dt.astimezone(timezone.utc)
    except OverflowError:
        raise ConversationsFilterError(
            f"{name}: {value!r} is outside the timestamps Python can hold (years 1 to 9999, in UTC)"
        ) from None
    # A plain datetime, even from pendulum (Airflow's context): its arithmetic differs from the stdlib's.
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=timezone.utc
    )


def format_range(start: datetime, end: datetime) -> str:
    """``[start, end)`` with both bounds as :func:`format_timestamp` writes them (for messages).

    :param start: inclusive bound.
    :param end: exclusive bound.
    """
    return f"[{format_timestamp(start)}, {format_timestamp(end)})"


def format_timestamp(dt: datetime) -> str:
    """Format an aware datetime as the API expects: UTC ISO-8601 with microseconds, ``Z`` suffix.

    :param dt: an aware datetime.
    """
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_api_timestamp(value: Any, name: str = "created_at") -> datetime:
    """Parse a timestamp the API returned: its own format fast, anything else with :func:`parse_timestamp`.

    A value without offset is taken as UTC (the API's timestamps are UTC).

    :param value: the field's value as the API returned it.
    :param name: the field name, for the error message.
    :raises ConversationsFilterError: when the value is not a timestamp (callers turn it into a response error).
    """
    # The API's own format, 2025-02-13T22:11:57.792000Z, without the general parser: a hot path (once per
    # record). Its shape is checked first, so fromisoformat (C code) only reads what every Python reads.
    if type(value) is str and len(value) == 27 and value[26] == "Z" and value[10] == "T" and value[19] == ".":
        try:
            return datetime.fromisoformat(value[:26] + "+00:00")
        except ValueError:
            pass  # e.g. February 30th: the general parser names the problem
    return parse_timestamp(value, name, assume_utc=True)
