"""Which windows an export rewrites: a ``created_at`` range, or the windows that changes touched.

Each is the one step :class:`~.base.BaseConversationsExportOperator` leaves open, written once and
combined with a destination (S3 layout, Iceberg table) by the public operators.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.lake.windows import Window, contiguous_runs, split_windows, window_of
from airflow_provider_conversations.operators.base import BaseConversationsExportOperator, Bounds, ExportPlan
from airflow_provider_conversations.reading.ranges import RANGE_KEYS, check_no_range_filters, record_created_at
from airflow_provider_conversations.timestamps import format_range
from airflow_provider_conversations.utils.task_args import is_template, resolve_range

if TYPE_CHECKING:
    from airflow_provider_conversations.hooks.conversations import ConversationsHook
    from airflow_provider_conversations.lake.destination import Destination
    from airflow_provider_conversations.reading.walk import RangePage
    from airflow_provider_conversations.version_compat import Context

#: How much before its interval a change sync reads again by default: updates the API shows late.
DEFAULT_LOOKBACK = timedelta(minutes=15)


class CreatedAtRange(BaseConversationsExportOperator):
    """Export every window of ``[created_at_gte, created_at_lt)`` (by default the run's data interval).

    :param created_at_gte: inclusive start: aware datetime or ISO-8601 string with offset; default the
        data interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    """

    range_template_fields: Sequence[str] = ("created_at_gte", "created_at_lt")

    def __init__(
        self,
        *,
        created_at_gte: datetime | str | None = None,
        created_at_lt: datetime | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.created_at_gte = created_at_gte
        self.created_at_lt = created_at_lt
        if not is_template([created_at_gte, created_at_lt]) and None not in (created_at_gte, created_at_lt):
            resolve_range(created_at_gte, created_at_lt, None)

    def resolve_bounds(self, context: Context) -> Bounds:
        return {"created_at": resolve_range(self.created_at_gte, self.created_at_lt, context)}

    def planned_windows(self, bounds: Bounds) -> list[Window]:
        return split_windows(*bounds["created_at"], self.window_size)

    def windows_to_export(
        self, hook: ConversationsHook, filters: ConversationFilters, bounds: Bounds, destination: Destination
    ) -> ExportPlan:
        start, end = bounds["created_at"]
        windows = self.planned_windows(bounds)
        if not all(w.is_aligned(self.window_size) for w in windows):
            self.log.warning(
                "The range %s is not aligned to window_size %s: its edge windows are clipped, and another "
                "run over an overlapping range would write them under other keys.",
                format_range(start, end),
                self.window_size,
            )
        self.log.info(
            "Exporting %s created in %s in %d window(s) of %s",
            self.records_name,
            format_range(start, end),
            len(windows),
            self.window_size,
        )
        return ExportPlan([windows], {"created_at": (start, end)})


def check_change_filters(filters: Any) -> ConversationFilters:
    """Validate a change sync's ``filters``: the hook's filters minus any ``created_at``/``updated_at`` bound.

    :param filters: a dict of :class:`ConversationFilters` field names (or ``None``).
    """
    return check_no_range_filters(
        ConversationFilters.from_mapping(filters),
        keys=RANGE_KEYS,
        why="cannot be a filter here; pass updated_at_gte/updated_at_lt instead (the created_at windows to "
        "re-export follow from the changes)",
    )


class ChangedWindows(BaseConversationsExportOperator):
    """Re-export every ``created_at`` window that a conversation updated in ``[updated_at_gte - lookback, updated_at_lt)``
    falls in.

    :param updated_at_gte: inclusive start of the ``updated_at`` range: aware datetime or ISO-8601 string
        with offset; default the data interval's start. (templated)
    :param updated_at_lt: exclusive end; default the data interval's end. (templated)
    :param lookback: how much before ``updated_at_gte`` to read again (default 15 minutes): an update the
        API shows only after its interval was scanned is still synced by the next run. The windows only
        the overlap touched, and their cost, are reported as ``lookback`` in XCom.
    """

    range_template_fields: Sequence[str] = ("updated_at_gte", "updated_at_lt")

    def __init__(
        self,
        *,
        updated_at_gte: datetime | str | None = None,
        updated_at_lt: datetime | str | None = None,
        lookback: timedelta = DEFAULT_LOOKBACK,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.updated_at_gte = updated_at_gte
        self.updated_at_lt = updated_at_lt
        if not isinstance(lookback, timedelta) or lookback < timedelta(0):
            from airflow_provider_conversations.exceptions import ConversationsFilterError

            raise ConversationsFilterError(f"lookback: expected a timedelta of 0 or more, got {lookback!r}")
        self.lookback = lookback
        if not is_template([updated_at_gte, updated_at_lt]) and None not in (updated_at_gte, updated_at_lt):
            resolve_range(updated_at_gte, updated_at_lt, None, prefix="updated_at")

    def check_filters(self, filters: Any) -> ConversationFilters:
        return check_change_filters(filters)

    def resolve_bounds(self, context: Context) -> Bounds:
        return {"updated_at": resolve_range(self.updated_at_gte, self.updated_at_lt, context, prefix="updated_at")}

    def read_changed(
        self, hook: ConversationsHook, filters: Any, start: datetime, end: datetime
    ) -> Iterable[RangePage]:
        """The records updated in ``[start, end)``, in ``updated_at`` order (the scan).

        :param hook: the API hook.
        :param filters: the checked filters.
        :param start: inclusive start (the lookback included).
        :param end: exclusive end.
        """
        return hook.read_pages(
            filters,
            updated_at_gte=start,
            updated_at_lt=end,
            per_page=self.per_page,
            max_concurrency=self.concurrency(hook),
        )

    def windows_to_export(
        self, hook: ConversationsHook, filters: ConversationFilters, bounds: Bounds, destination: Destination
    ) -> ExportPlan:
        start, end = bounds["updated_at"]
        self.log.info(
            "Reading %s updated in %s (%s of lookback before it) to find the created_at windows of %s to re-export",
            self.records_name,
            format_range(start, end),
            self.lookback,
            self.window_size,
        )
        changed: set[str] = set()  # ids updated in the interval
        earlier: set[str] = set()  # ids seen only with an update in the lookback
        touched: set[Window] = set()
        by_interval: set[Window] = set()
        for page in self.read_changed(hook, filters, start - self.lookback, end):
            for record in page.records:
                window = window_of(record_created_at(record), self.window_size)
                touched.add(window)
                if _updated_at(record) >= start:
                    changed.add(str(record["id"]))
                    by_interval.add(window)
                else:
                    earlier.add(str(record["id"]))
        moved_from = destination.windows_holding(changed | earlier, self.window_size) - touched
        touched |= moved_from
        runs = contiguous_runs(touched)
        scan = {"requests": hook.stats.requests, "cost": hook.stats.cost}
        self.log.info(
            "Scan: %d record(s) changed, touching %d window(s) (%d only through the lookback, %d they left) in "
            "%d read(s); %d request(s), rate-limit cost %d",
            len(changed),
            len(touched),
            len(touched - by_interval - moved_from),
            len(moved_from),
            len(runs),
            scan["requests"],
            scan["cost"],
        )
        report = {
            "changed": len(changed),
            "scan": scan,
            "lookback": {
                "seconds": int(self.lookback.total_seconds()),
                "conversations": len(earlier - changed),
                "windows": len(touched - by_interval - moved_from),
            },
        }
        return ExportPlan(
            runs, {"updated_at": (start, end)}, report, lookback_windows=touched - by_interval - moved_from
        )


def _updated_at(record: dict[str, Any]) -> datetime:
    from airflow_provider_conversations.reading.ranges import record_time

    return record_time(record, "updated_at")
