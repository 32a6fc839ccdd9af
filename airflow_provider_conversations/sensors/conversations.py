"""Wait until the Conversations API has conversations for an interval (they are processed late)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.checks import check_positive
from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsAuthError,
    ConversationsConnectionError,
    ConversationsFilterError,
)
from airflow_provider_conversations.timestamps import format_range
from airflow_provider_conversations.triggers.conversations import EVENT_STATUSES, ConversationsTrigger
from airflow_provider_conversations.utils.task_args import check_filters, is_template, resolve_range
from airflow_provider_conversations.version_compat import (
    AirflowException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

if TYPE_CHECKING:
    from airflow_provider_conversations.version_compat import Context


class ConversationsSensor(BaseSensorOperator):
    """Succeed when at least ``min_count`` conversations were created in ``[created_at_gte, created_at_lt)``.

    Each check is one cheap request (``include_paging_counts``), never a scan. The count found goes to
    XCom. With ``deferrable=True`` the wait runs in the triggerer (:class:`ConversationsTrigger`).

    :param conversations_conn_id: the ``conversations`` connection.
    :param created_at_gte: inclusive start; default the data interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    :param filters: further filters, as for the operator (no ``created_at`` bounds). (templated)
    :param min_count: how many conversations are enough (>= 1).
    :param deferrable: defer to the triggerer; default ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("created_at_gte", "created_at_lt", "filters")
    template_fields_renderers = {"filters": "json"}
    ui_color = "#d6ecfa"

    def __init__(
        self,
        *,
        conversations_conn_id: str = "conversations_default",
        created_at_gte: datetime | str | None = None,
        created_at_lt: datetime | str | None = None,
        filters: Mapping[str, Any] | None = None,
        min_count: int = 1,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conversations_conn_id = conversations_conn_id
        self.created_at_gte = created_at_gte
        self.created_at_lt = created_at_lt
        self.filters = filters
        self.min_count = min_count
        self.deferrable = deferrable
        check_positive(min_count, "min_count")
        if not is_template(filters):
            check_filters(filters)
        if not is_template([created_at_gte, created_at_lt]) and None not in (created_at_gte, created_at_lt):
            resolve_range(created_at_gte, created_at_lt, None)

    def _filters(self, context: Context) -> tuple[str, ConversationFilters]:
        """The filters with the range added, and the range as text for logs."""
        start, end = resolve_range(self.created_at_gte, self.created_at_lt, context)
        label = format_range(start, end)
        return label, check_filters(self.filters).merged(created_at_gte=start, created_at_lt=end)

    def _hook(self) -> Any:
        from airflow_provider_conversations.hooks.conversations import ConversationsHook

        return ConversationsHook(self.conversations_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        label, filters = self._filters(context)
        hook = self._hook()
        try:
            count = hook.count_conversations(filters)
        except ConversationsAPIError as err:
            if err.status in (401, 403):
                raise ConversationsAuthError.from_api_error(err) from err
            if not hook.retry_policy.is_retryable(err):
                raise
            self.log.warning("Counting conversations failed after retries (%s); trying again next poke", err)
            return PokeReturnValue(is_done=False)
        self.log.info("%d conversation(s) created in %s; waiting for %d", count, label, self.min_count)
        return PokeReturnValue(is_done=count >= self.min_count, xcom_value=count)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        label, filters = self._filters(context)
        self.log.info("Deferring: waiting for %d conversation(s) created in %s", self.min_count, label)
        self._hook().settings  # noqa: B018 (checks the connection and masks the token, in the task)
        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=ConversationsTrigger(
                conversations_conn_id=self.conversations_conn_id,
                filters=filters.as_dict(),
                min_count=self.min_count,
                poke_interval=float(
                    self.poke_interval.total_seconds()
                    if isinstance(self.poke_interval, timedelta)
                    else self.poke_interval
                ),
                deadline=time.time() + timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> int:
        """Turn the trigger's event into the task's result: the count, a timeout, or a clear failure.

        A wrong connection, wrong filters or refused credentials fail the task without retries.
        """
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
            raise AirflowException(f"ConversationsTrigger sent an unexpected event: {event!r}")
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(
                f"Sensor timed out: {event.get('count')} conversation(s) found, {self.min_count} wanted"
            )
        if event["status"] == "error":
            message = f"waiting for conversations failed: {event.get('message')}"
            kind = event.get("error")
            if kind == "connection":
                raise ConversationsConnectionError(message)
            if kind == "argument":
                raise ConversationsFilterError(message)
            if kind == "auth":
                raise ConversationsAuthError(f"{message}; not retried", status=event.get("status_code"))
            raise ConversationsAPIError(message, status=event.get("status_code"))
        self.log.info("%d conversation(s) found (wanted %d)", event["count"], self.min_count)
        return int(event["count"])
