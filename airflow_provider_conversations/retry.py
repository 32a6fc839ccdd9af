"""One retry policy for every transport (the requests-based hook and the aiohttp trigger).

Transports turn whatever went wrong into a :class:`ConversationsAPIError` (``status=None`` when no
response arrived); :class:`RetryPolicy` alone decides whether and how long to wait.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsResponseError

#: Statuses worth another try: throttling and server-side failures.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str], *, status: int, now: datetime | None = None) -> float | None:
    """Return how long the API asked us to wait, from response headers.

    ``Retry-After`` (seconds or an HTTP date) wins. A 429 without it (the vendor documents none) waits
    for the start of the next rate-limit minute, located with the server's ``Date`` header.

    :param headers: response headers.
    :param status: response status.
    :param now: the current time (for tests).
    """
    now = now or datetime.now(timezone.utc)
    value = _header(headers, "retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    if status == 429:
        date = _header(headers, "date")
        try:
            server_now = parsedate_to_datetime(date) if date else now
        except (TypeError, ValueError):
            server_now = now
        return float(60 - server_now.second)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Decide whether a failed request is retried and how long to wait first.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param backoff_base: first backoff in seconds; doubles each attempt.
    :param backoff_max: ceiling of one backoff.
    :param jitter: up to this share of the wait is added at random, so parallel clients spread out.
    """

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 0.25
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def is_retryable(self, error: BaseException) -> bool:
        """Return whether ``error`` is transient: a 429, a 5xx, a timeout or a lost connection."""
        if isinstance(error, ConversationsResponseError):
            # A 2xx with a body we cannot read: often a proxy's error page; worth one more look.
            return True
        if isinstance(error, ConversationsAPIError):
            return error.status is None or error.status in RETRYABLE_STATUSES
        return False

    def wait_seconds(self, attempt: int, error: BaseException) -> float | None:
        """Return seconds to wait before retry number ``attempt`` (1-based), or ``None`` to give up.

        :param attempt: which retry this would be (1 for the first retry).
        :param error: what the previous attempt raised.
        """
        if attempt > self.max_retries or not self.is_retryable(error):
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            base = float(retry_after)
        else:
            base = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return base + base * self.jitter * self.rng.random()
