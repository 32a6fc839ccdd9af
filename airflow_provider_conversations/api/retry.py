"""One retry policy and one retry loop for every transport (the requests-based hook and the aiohttp trigger).

Transports turn whatever went wrong into a :class:`ConversationsAPIError` (``status=None`` when no
response arrived); :class:`RetryPolicy` alone decides whether and how long to wait, and
:meth:`RetryPolicy.retry_args` turns that into the arguments of tenacity's loop, which the sync
transport runs as ``tenacity.Retrying`` and the async one as ``tenacity.AsyncRetrying``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tenacity

from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsResponseError

if TYPE_CHECKING:
    from airflow_provider_conversations.api.connection import ConnectionSettings

#: Statuses worth another try: throttling and server-side failures.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Decide whether a failed request is retried and how long to wait first.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param backoff_base: first backoff in seconds; doubles each attempt.
    :param backoff_max: ceiling of one backoff.
    :param jitter: up to this share of the wait is added at random, so parallel clients spread out.
    :param rate_limit_window: length of the API's rate-limit window; a 429 without ``Retry-After``
        waits for the next window (located with the server's ``Date`` when the window is long enough
        for its 1 s resolution, else one whole window).
    """

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 0.25
    rate_limit_window: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> RetryPolicy:
        """Build the policy a connection asks for (its ``max_retries``, ``backoff_base`` and rate-limit window).

        :param settings: the checked connection settings.
        """
        return cls(
            max_retries=settings.max_retries,
            backoff_base=settings.backoff_base,
            rate_limit_window=settings.rate_limit_window_seconds,
        )

    def is_retryable(self, error: BaseException) -> bool:
        """Return whether ``error`` is transient: a 429, a 5xx, a timeout or a lost connection."""
        if isinstance(error, ConversationsResponseError):
            # A 2xx with a body we cannot read: often a proxy's error page; worth one more look.
            return True
        if isinstance(error, ConversationsAPIError):
            return error.status is None or error.status in RETRYABLE_STATUSES
        return False

    def retry_args(self, *, abandon: Callable[[], bool] | None = None) -> dict[str, Any]:
        """The arguments of the retry loop, for ``tenacity.Retrying`` and ``tenacity.AsyncRetrying`` alike.

        The transport adds its own ``sleep`` (and ``before_sleep``, to count and log retries). The
        last error is raised as it is when the policy gives up.

        :param abandon: when it returns true, the loop stops retrying (another request of the same
            read failed, so this one's result is no longer wanted).
        """

        def retryable(error: BaseException) -> bool:
            return self.is_retryable(error) and not (abandon is not None and abandon())

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            return (self.wait_seconds(state.attempt_number, error) if error is not None else None) or 0.0

        return {
            "retry": tenacity.retry_if_exception(retryable),
            "stop": tenacity.stop_after_attempt(self.max_retries + 1),
            "wait": wait,
            "reraise": True,
        }

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
        elif getattr(error, "status", None) == 429:
            window = self.rate_limit_window
            clock = getattr(error, "server_time", None)
            base = window - clock % window if clock is not None and window >= 10 else window
        else:
            base = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return base + base * self.jitter * self.rng.random()
