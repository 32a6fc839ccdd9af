"""Transfer conversations of a ``created_at`` range to S3 as JSONL partitions, window by window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.checks import check_int, check_positive
from airflow_provider_conversations.exceptions import ConversationsDestinationError, ConversationsFilterError
from airflow_provider_conversations.export import WindowPublisher, WindowResult, export_range
from airflow_provider_conversations.filters import MAX_PER_PAGE, ConversationFilters
from airflow_provider_conversations.layout import PartitionLayout, check_compression
from airflow_provider_conversations.lease import LEASE_SECONDS, WAIT_SECONDS, LeasedWindowPublisher, task_owner
from airflow_provider_conversations.table_guard import check_committed_windows
from airflow_provider_conversations.task_args import check_filters, is_template, resolve_range
from airflow_provider_conversations.timestamps import format_timestamp
from airflow_provider_conversations.version_compat import BaseOperator
from airflow_provider_conversations.windows import Window, check_window_size, split_windows

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_conversations.hooks.conversations import ConversationsHook
    from airflow_provider_conversations.version_compat import Context


class ConversationsToS3Operator(BaseOperator):
    """Copy conversations created in ``[created_at_gte, created_at_lt)`` to S3 as JSONL partitions.

    The range (by default the run's data interval) is cut into UTC-aligned windows of ``window_size``.
    The range is read once, in ``created_at`` order, with several requests in flight (each at a cost
    of 1 point); each window, once the read has passed its end, is written under
    ``{s3_prefix}/date=YYYY-MM-DD/part-HHMMSS-HHMMSS-NNNNN.jsonl[.gz]`` and committed by
    ``_manifest-HHMMSS-HHMMSS.json``, written last, while the read goes on. A rerun of a window
    replaces its objects, stale parts included. See the provider docs for the layout and how readers
    use the manifests.

    :param s3_bucket: destination bucket. (templated)
    :param s3_prefix: key prefix of the table. (templated)
    :param conversations_conn_id: the ``conversations`` connection.
    :param aws_conn_id: the AWS connection used by ``S3Hook`` (``None``: boto3's default chain).
    :param created_at_gte: inclusive start: aware datetime or ISO-8601 string with offset; default the
        data interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    :param window_size: window length, whole seconds dividing one day (default one hour).
    :param filters: further filters of the hook, as a dict of :class:`ConversationFilters` field names
        (no ``created_at`` bounds). (templated)
    :param per_page: records per request, 1..100.
    :param max_records_per_file: records per data object, at most.
    :param compression: ``None`` (``.jsonl``) or ``"gzip"`` (``.jsonl.gz``).
    :param max_concurrency: API requests in flight at once within the task, so requests overlap the
        API's latency (the rate-limit budget is still respected); default the connection's
        ``max_concurrency``.
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_prefix", "created_at_gte", "created_at_lt", "filters")
    template_fields_renderers = {"filters": "json"}
    ui_color = "#e8f4fd"
    #: How long a window's lease holds, and how long a task waits for another task's (see :mod:`.lease`).
    lease_seconds: float = LEASE_SECONDS
    lease_wait_seconds: float = WAIT_SECONDS

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_prefix: str,
        conversations_conn_id: str = "conversations_default",
        aws_conn_id: str | None = "aws_default",
        created_at_gte: datetime | str | None = None,
        created_at_lt: datetime | str | None = None,
        window_size: timedelta = timedelta(hours=1),
        filters: Mapping[str, Any] | None = None,
        per_page: int = MAX_PER_PAGE,
        max_records_per_file: int = 100_000,
        compression: str | None = None,
        max_concurrency: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix
        self.conversations_conn_id = conversations_conn_id
        self.aws_conn_id = aws_conn_id
        self.created_at_gte = created_at_gte
        self.created_at_lt = created_at_lt
        self.window_size = check_window_size(window_size)
        self.filters = filters
        self.per_page = per_page
        self.max_records_per_file = max_records_per_file
        self.compression = check_compression(compression)
        self.max_concurrency = max_concurrency
        if max_concurrency is not None:
            check_positive(max_concurrency, "max_concurrency")
        check_int(per_page, "per_page", minimum=1, maximum=MAX_PER_PAGE)
        check_positive(max_records_per_file, "max_records_per_file")
        # Literals are checked now, templates after rendering.
        if not is_template(filters):
            check_filters(filters)
        if not is_template([created_at_gte, created_at_lt]) and None not in (created_at_gte, created_at_lt):
            resolve_range(created_at_gte, created_at_lt, None)

    def execute(self, context: Context) -> dict[str, Any]:
        filters = check_filters(self.filters)
        start, end = resolve_range(self.created_at_gte, self.created_at_lt, context)
        windows = split_windows(start, end, self.window_size)
        layout = self._layout()
        if not all(w.is_aligned(self.window_size) for w in windows):
            self.log.warning(
                "The range [%s, %s) is not aligned to window_size %s: its edge windows are clipped, and another "
                "run over an overlapping range would write them under other keys.",
                format_timestamp(start),
                format_timestamp(end),
                self.window_size,
            )
        hook, s3 = self._connect()
        publisher = self._publisher(s3, layout, windows, context)
        self.log.info(
            "Exporting conversations created in [%s, %s) in %d window(s) of %s to s3://%s/%s",
            format_timestamp(start),
            format_timestamp(end),
            len(windows),
            self.window_size,
            self.s3_bucket,
            layout.prefix,
        )
        results = self._export(hook, publisher, filters, windows)
        total = sum(r.records for r in results)
        self.log.info(
            "Done: %d record(s) in %d window(s), up to %d request(s) at a time; %d request(s), %d retries, "
            "%d throttled, rate-limit cost %d",
            total,
            len(results),
            self._concurrency(hook),
            hook.stats.requests,
            hook.stats.retries,
            hook.stats.throttled,
            hook.stats.cost,
        )
        return {
            "bucket": self.s3_bucket,
            "prefix": layout.prefix,
            "created_at_gte": format_timestamp(start),
            "created_at_lt": format_timestamp(end),
            "records": total,
            "requests": hook.stats.requests,
            "cost": hook.stats.cost,
            "windows": [r.summary() for r in results],
        }

    # -- the steps, shared with ConversationsChangesToS3Operator ------------------------------------

    def _layout(self) -> PartitionLayout:
        """The table's key names, once the bucket name is checked (no I/O)."""
        if not isinstance(self.s3_bucket, str) or not self.s3_bucket.strip():
            raise ConversationsFilterError(f"s3_bucket: expected a bucket name, got {self.s3_bucket!r}")
        return PartitionLayout(str(self.s3_prefix or ""), self.compression)

    def _connect(self) -> tuple[ConversationsHook, S3Hook]:
        """The API hook (its connection checked) and the S3 hook (the bucket checked), before any write."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_provider_conversations.hooks.conversations import ConversationsHook

        hook = ConversationsHook(self.conversations_conn_id)
        hook.settings  # noqa: B018 (checks the connection before any I/O)
        # Uploads run in the publishing thread, one multipart chunk (8 MB) at a time: no thread pool per upload
        # (its start-up costs more than a small part's PUT), and memory does not grow with the part size.
        # Windows are published concurrently instead. The AWS connection's transfer_config_args still win.
        s3 = S3Hook(aws_conn_id=self.aws_conn_id, transfer_config_args={"use_threads": False})
        if not s3.check_for_bucket(self.s3_bucket):
            raise ConversationsDestinationError(
                f"s3_bucket: bucket {self.s3_bucket!r} does not exist or is not reachable"
            )
        return hook, s3

    def _concurrency(self, hook: ConversationsHook) -> int:
        return self.max_concurrency or hook.settings.max_concurrency

    def _publisher(
        self, s3: S3Hook, layout: PartitionLayout, windows: list[Window], context: Context
    ) -> WindowPublisher:
        """Check the table's window size against ``windows`` (before any write); the leased publisher."""
        check_committed_windows(s3, self.s3_bucket, layout, windows, self.window_size)
        return LeasedWindowPublisher(
            s3,
            self.s3_bucket,
            layout,
            owner=task_owner(context, self.task_id),
            lease_seconds=self.lease_seconds,
            wait_seconds=self.lease_wait_seconds,
        )

    def _export(
        self, hook: ConversationsHook, publisher: WindowPublisher, filters: ConversationFilters, windows: list[Window]
    ) -> list[WindowResult]:
        """Export contiguous ``windows`` with one read of their range, in ``created_at`` order; each window
        is published once the read has passed its end (two windows at a time), while the read goes on.
        """
        pages = hook.read_pages(
            filters,
            created_at_gte=windows[0].start,
            created_at_lt=windows[-1].end,
            per_page=self.per_page,
            max_concurrency=self._concurrency(hook),
        )
        return export_range(
            pages,
            windows,
            publisher,
            filters=filters,
            max_records_per_file=self.max_records_per_file,
            on_published=self._log_window,
        )

    def _log_window(self, result: WindowResult) -> None:
        window = result.window
        self.log.info(
            "Window [%s, %s): %d record(s) from %d page(s), %d object(s) %s, %d stale removed, budget left %s, "
            "%.2fs; manifest %s",
            format_timestamp(window.start),
            format_timestamp(window.end),
            result.records,
            result.pages,
            len(result.keys),
            result.keys if len(result.keys) <= 3 else f"{result.keys[:2]} ... {result.keys[-1]}",
            result.deleted_stale,
            result.remaining_budget,
            result.seconds,
            result.manifest_key,
        )
