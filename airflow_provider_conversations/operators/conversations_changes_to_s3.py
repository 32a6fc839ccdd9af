"""Keep the lake equal to the API: re-export the ``created_at`` windows that conversations updated in a range touched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.windows import Window, contiguous_runs, window_of
from airflow_provider_conversations.operators.conversations_to_s3 import (
    ConversationsToS3Operator,
    failing_fast_on_auth_errors,
)
from airflow_provider_conversations.reading.ranges import RANGE_KEYS, check_no_range_filters, record_created_at
from airflow_provider_conversations.timestamps import format_timestamp
from airflow_provider_conversations.utils.task_args import is_template, resolve_range

if TYPE_CHECKING:
    from airflow_provider_conversations.hooks.conversations import ConversationsHook
    from airflow_provider_conversations.version_compat import Context


def check_change_filters(filters: Any) -> ConversationFilters:
    """Validate the change sync's ``filters``: the hook's filters minus any ``created_at``/``updated_at`` bound.

    :param filters: a dict of :class:`ConversationFilters` field names (or ``None``).
    """
    return check_no_range_filters(
        ConversationFilters.from_mapping(filters),
        keys=RANGE_KEYS,
        why="cannot be a filter here; pass updated_at_gte/updated_at_lt instead (the created_at windows to "
        "re-export follow from the changes)",
    )


class ConversationsChangesToS3Operator(ConversationsToS3Operator):
    """Re-export to S3 every ``created_at`` window that a conversation updated in ``[updated_at_gte, updated_at_lt)`` falls in.

    It takes the arguments of :class:`ConversationsToS3Operator` (the same table: ``s3_bucket``,
    ``s3_prefix``, ``window_size``, ``filters``, ...), except that ``updated_at_gte``/``updated_at_lt``
    replace the ``created_at`` bounds. It reads the conversations updated in the range (sorted by
    ``updated_at``, one point per 100 conversations), collects the UTC-aligned windows of ``window_size``
    their ``created_at`` falls in, and re-exports each of those windows in full through the export's
    exactly-once protocol; adjacent windows are read with one read of their range. Afterwards every
    touched window equals the API's content for it (changed conversations in their newest version,
    conversations created or back-dated into it present, conversations deleted from it gone); windows
    that no change touched are not rewritten. A conversation deleted, or back-dated out of a window,
    leaves that window when it is next rewritten (see "Keeping the lake current" in the docs).

    :param updated_at_gte: inclusive start of the ``updated_at`` range: aware datetime or ISO-8601 string
        with offset; default the data interval's start. (templated)
    :param updated_at_lt: exclusive end; default the data interval's end. (templated)
    :param kwargs: the arguments of :class:`ConversationsToS3Operator` but ``created_at_gte`` /
        ``created_at_lt``; ``filters`` may bound neither ``created_at`` nor ``updated_at``.
    """

    template_fields: Sequence[str] = (
        *(f for f in ConversationsToS3Operator.template_fields if not f.startswith("created_at")),
        "updated_at_gte",
        "updated_at_lt",
    )
    ui_color = "#d7ecfb"

    def __init__(
        self,
        *,
        updated_at_gte: datetime | str | None = None,
        updated_at_lt: datetime | str | None = None,
        filters: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        for name in ("created_at_gte", "created_at_lt"):
            if name in kwargs:
                raise ConversationsFilterError(
                    f"{name}: not an argument of ConversationsChangesToS3Operator; pass updated_at_gte/updated_at_lt "
                    "(the created_at windows to re-export follow from the changes)"
                )
        if not is_template(filters):
            check_change_filters(filters)
        super().__init__(filters=filters, **kwargs)
        self.updated_at_gte = updated_at_gte
        self.updated_at_lt = updated_at_lt
        if not is_template([updated_at_gte, updated_at_lt]) and None not in (updated_at_gte, updated_at_lt):
            resolve_range(updated_at_gte, updated_at_lt, None, prefix="updated_at")

    def execute(self, context: Context) -> dict[str, Any]:
        filters = check_change_filters(self.filters)
        start, end = resolve_range(self.updated_at_gte, self.updated_at_lt, context, prefix="updated_at")
        layout = self._layout()
        hook, s3 = self._connect()
        self.log.info(
            "Reading conversations updated in [%s, %s) to find the created_at windows of %s to re-export to s3://%s/%s",
            format_timestamp(start),
            format_timestamp(end),
            self.window_size,
            self.s3_bucket,
            layout.prefix,
        )
        with failing_fast_on_auth_errors():
            changed, touched = self._scan(hook, filters, start, end)
        scan = {"requests": hook.stats.requests, "cost": hook.stats.cost}
        runs = contiguous_runs(touched)
        self.log.info(
            "Scan: %d conversation(s) changed, touching %d window(s) in %d read(s); %d request(s), rate-limit cost %d",
            changed,
            len(touched),
            len(runs),
            scan["requests"],
            scan["cost"],
        )
        results = []
        if touched:
            publisher = self._publisher(s3, layout, sorted(touched), context)
            with failing_fast_on_auth_errors():
                for run in runs:
                    results += self._export(hook, publisher, filters, run)
        export = {"requests": hook.stats.requests - scan["requests"], "cost": hook.stats.cost - scan["cost"]}
        total = self._report_committed(context, layout, results, {"updated_at": (start, end)})
        self.log.info(
            "Done: %d window(s) re-exported with %d record(s); cost %d (scan %d + re-export %d), %d request(s), "
            "%d retries, %d throttled",
            len(results),
            total,
            hook.stats.cost,
            scan["cost"],
            export["cost"],
            hook.stats.requests,
            hook.stats.retries,
            hook.stats.throttled,
        )
        return {
            "bucket": self.s3_bucket,
            "prefix": layout.prefix,
            "updated_at_gte": format_timestamp(start),
            "updated_at_lt": format_timestamp(end),
            "changed": changed,
            "records": total,
            "requests": hook.stats.requests,
            "cost": hook.stats.cost,
            "scan": scan,
            "export": export,
            "windows": [r.summary() for r in results],
        }

    def _scan(
        self, hook: ConversationsHook, filters: ConversationFilters, start: datetime, end: datetime
    ) -> tuple[int, set[Window]]:
        """Read the ``updated_at`` range; return how many conversations changed and the windows they fall in."""
        changed, touched = 0, set()
        pages = hook.read_pages(
            filters,
            updated_at_gte=start,
            updated_at_lt=end,
            per_page=self.per_page,
            max_concurrency=self._concurrency(hook),
        )
        for page in pages:
            for record in page.records:
                changed += 1
                touched.add(window_of(record_created_at(record), self.window_size))
        return changed, touched
