"""Read HTTP response headers the same way for every transport (requests, aiohttp, plain dicts in tests).

Header names are case-insensitive; a plain ``dict`` (as tests pass) is not, so every lookup goes
through :func:`header`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return the value of header ``name`` (lower case), whatever the case it was sent in; ``None`` if absent.

    :param headers: response headers.
    :param name: the header's name in lower case.
    """
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def int_header(headers: Mapping[str, str], name: str) -> int | None:
    """Return header ``name`` as an integer (``"3.0"`` reads as 3); ``None`` if absent or not a number.

    :param headers: response headers.
    :param name: the header's name in lower case.
    """
    value = header(headers, name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Return the ``Retry-After`` of a response in seconds (a number or an HTTP date), if any.

    :param headers: response headers.
    :param now: the current time, for an HTTP-date value (for tests).
    """
    value = header(headers, "retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - (now or datetime.now(timezone.utc))).total_seconds())
    except (TypeError, ValueError):
        return None


def server_time(headers: Mapping[str, str]) -> float | None:
    """Return the server's clock from the ``Date`` header as epoch seconds (1 s resolution); ``None`` if unusable.

    :param headers: response headers.
    """
    value = header(headers, "date")
    try:
        return parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None
