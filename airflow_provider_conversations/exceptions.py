"""Errors raised by the Conversations provider.

Two families, so callers can tell a mistake in the task's configuration from a failed outcome:

* bad arguments and configuration subclass :class:`ConversationsArgumentError`, raised before any
  I/O with a message naming the field, the value and what is allowed. It is both a
  :class:`ValueError` and Airflow's ``AirflowFailException``: a retry cannot heal a wrong argument or
  connection, so the task fails once, without Airflow's retries;
* I/O outcomes subclass Airflow's ``AirflowException`` (imported, like every Airflow exception of the
  provider, from :mod:`airflow_provider_conversations.version_compat`): what the API answered
  (:class:`ConversationsAPIError`, carrying attributes callers branch on, never on message text), or
  an S3 destination that cannot be used (:class:`ConversationsDestinationError`). An answer that
  retrying cannot fix (401, 403) fails the task as :class:`ConversationsAuthError`, which is also an
  ``AirflowFailException``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_conversations.version_compat import AirflowException, AirflowFailException


class ConversationsArgumentError(ValueError, AirflowFailException):
    """An argument or the configuration is invalid. The base of every error raised before any I/O.

    Also Airflow's ``AirflowFailException``: the task fails without Airflow's retries.
    """


class ConversationsFilterError(ConversationsArgumentError):
    """A filter, range, paging or task argument is invalid. Raised before any HTTP request."""


class ConversationsConnectionError(ConversationsArgumentError):
    """The Airflow connection is unusable: wrong type, no token, bad or unsafe URL, bad extras.

    Its message names the connection and the field, never a secret.
    """


class ConversationsTableMismatchError(ConversationsFilterError):
    """The task would write a table whose committed shape (window size, file format, compression or
    filters) differs from its own; raised before any API request or write, and not retried.

    :param differences: each difference, named (``"window_size: table 1 day, 0:00:00, task 1:00:00"``).
    """

    def __init__(self, message: str, *, differences: list[str]) -> None:
        super().__init__(message)
        self.differences = differences


class ConversationsDestinationError(AirflowException):
    """The S3 destination cannot be used: the bucket does not exist or is not reachable."""


class ConversationsWindowBusyError(ConversationsDestinationError):
    """Another task holds a window's lease (it is rewriting the window); this task waited and gave up.

    :param window: the window's ``[start, end)`` as ISO strings, and its lease's key.
    :param owner: the task that holds the lease.
    """

    def __init__(self, message: str, *, window: str, owner: str) -> None:
        super().__init__(message)
        self.window, self.owner = window, owner


class ConversationsAPIError(AirflowException):
    """The Conversations API answered with an error, or not at all.

    :param message: what went wrong, in words a user can act on (kept as ``message``; ``str()`` adds the rest).
    :param status: HTTP status code, or ``None`` when no response arrived.
    :param api_message: the error message from the API's JSON body, if any.
    :param request_id: the ``x-request-id`` response header, for the vendor's support.
    :param retry_after: seconds the API asked us to wait (``Retry-After``), if any.
    :param server_time: the server's clock (``Date`` header, epoch seconds), if sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        api_message: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        server_time: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.api_message = api_message
        self.request_id = request_id
        self.retry_after = retry_after
        self.server_time = server_time
        parts = [message]
        if status is not None:
            parts.append(f"status={status}")
        if api_message:
            parts.append(f"api_message={api_message!r}")
        if request_id:
            parts.append(f"request_id={request_id}")
        super().__init__("; ".join(parts))


class ConversationsNotFoundError(ConversationsAPIError):
    """The API has no object with the id asked for (404), e.g. an unknown or deleted transcription.

    Takes the arguments of :class:`ConversationsAPIError`, and:

    :param resource: what was asked for, e.g. ``"transcription"``.
    :param ident: its id.
    """

    def __init__(self, message: str, *, resource: str, ident: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resource, self.ident = resource, ident


class ConversationsResponseError(ConversationsAPIError):
    """The API answered 2xx but the body is not the expected JSON envelope."""


class ConversationsAuthError(ConversationsAPIError, AirflowFailException):
    """The API refused the credentials (401) or their scope (403): the task fails without Airflow's retries.

    Both a :class:`ConversationsAPIError` (same attributes) and Airflow's ``AirflowFailException``.
    """

    @classmethod
    def from_api_error(cls, err: ConversationsAPIError) -> ConversationsAuthError:
        """The same error, saying that it is not retried.

        :param err: the API's 401 or 403 error.
        """
        return cls(
            f"{err.message}; not retried: bad credentials do not heal by retrying",
            status=err.status,
            api_message=err.api_message,
            request_id=err.request_id,
            retry_after=err.retry_after,
            server_time=err.server_time,
        )
