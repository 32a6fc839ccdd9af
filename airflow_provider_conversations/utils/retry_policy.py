"""A task retry policy that knows the provider's errors (Airflow 3.3 and later).

Airflow 3.3 lets a task carry a ``retry_policy`` that sees the exception and decides to retry, to
fail at once, or to let the task's ``retries`` decide. :data:`CONVERSATIONS_RETRY_POLICY` fails a
task at once on an API answer that the same request would get again (404, 422, a redirect), waits
as long as the API asked (``Retry-After``) before retrying a throttled or failing one, and leaves
everything else to the task's own settings. Errors that are ``AirflowFailException`` (bad arguments,
the connection, 401/403) fail without retries on every Airflow version and never reach a policy.

On Airflow before 3.3, :data:`CONVERSATIONS_RETRY_POLICY` is ``None``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.retry import RetryPolicy as RequestRetryPolicy
from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsArgumentError,
    ConversationsWindowBusyError,
)

try:
    from airflow.sdk import RetryDecision, RetryPolicy
except ImportError:  # Airflow < 3.3: no retry policies
    RetryPolicy = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from airflow_provider_conversations.version_compat import Context


def decide(exception: BaseException) -> tuple[str, timedelta | None, str | None]:
    """Classify an exception of a task: ``("fail" | "retry" | "default", delay, reason)``.

    Pure, so it is the same on every Airflow version; :class:`ConversationsRetryPolicy` wraps it.

    :param exception: what the task raised.
    """
    if isinstance(exception, ConversationsArgumentError):
        return "fail", None, "the task's arguments or connection are invalid: a retry cannot fix them"
    if isinstance(exception, ConversationsWindowBusyError):
        return "retry", None, "another task is rewriting the window"
    if isinstance(exception, ConversationsAPIError):
        if exception.status in (401, 403):
            return "fail", None, f"the API refused the credentials ({exception.status})"
        if not RequestRetryPolicy().is_retryable(exception):
            return "fail", None, f"the API refused the request ({exception.status}); it would refuse it again"
        delay = timedelta(seconds=exception.retry_after) if exception.retry_after else None
        return "retry", delay, "a transient API failure" + (f" ({exception.status})" if exception.status else "")
    return "default", None, None


if RetryPolicy is not None:

    class ConversationsRetryPolicy(RetryPolicy):
        """Retry what can heal, fail at once on what cannot (see :func:`decide`); defer the rest to the task."""

        def evaluate(
            self,
            exception: BaseException,
            try_number: int,
            max_tries: int,
            context: Context | None = None,
        ) -> RetryDecision:
            """Return Airflow's decision for ``exception``.

            :param exception: what the task raised.
            :param try_number: the try that failed (1-based).
            :param max_tries: the task's tries.
            :param context: the task context.
            """
            action, delay, reason = decide(exception)
            if action == "fail":
                return RetryDecision.fail(reason)
            if action == "retry":
                return RetryDecision.retry(delay, reason)
            return RetryDecision.default()

        def serialize(self) -> dict[str, Any]:
            """The policy as JSON (it has no settings)."""
            return {"__type": f"{type(self).__module__}.{type(self).__qualname__}"}

        @classmethod
        def deserialize(cls, data: dict[str, Any]) -> ConversationsRetryPolicy:
            """Rebuild the policy from :meth:`serialize`'s JSON.

            :param data: the JSON.
            """
            return cls()

    #: The provider's default task retry policy (``None`` before Airflow 3.3).
    CONVERSATIONS_RETRY_POLICY: Any = ConversationsRetryPolicy()
else:
    CONVERSATIONS_RETRY_POLICY = None
