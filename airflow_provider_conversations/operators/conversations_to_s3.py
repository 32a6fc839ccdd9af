"""Transfer conversations of a ``created_at`` range to S3 as JSONL partitions, window by window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.export import WindowResult, export_window
from airflow_provider_conversations.filters import MAX_PER_PAGE, format_timestamp
from airflow_provider_conversations.layout import PartitionLayout, check_compression
from airflow_provider_conversations.task_args import check_filters, is_template, resolve_range
from airflow_provider_conversations.windows import Window, check_window_size, split_windows

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Context

    from airflow_provider_conversations.filters import ConversationFilters
    from airflow_provider_conversations.hooks.conversations import ConversationsHook


class ConversationsToS3Operator(BaseOperator):
    """Copy conversations created in ``[created_at_gte, created_at_lt)`` to S3 as JSONL partitions.

    The range (by default the run's data interval) is cut into UTC-aligned windows of ``window_size``.
    Each window is read completely with keyset paging, then written under
    ``{s3_prefix}/date=YYYY-MM-DD/part-HHMMSS-HHMMSS-NNNNN.jsonl[.gz]`` and committed by
    ``_manifest-HHMMSS-HHMMSS.json``, written last. A rerun of a window replaces its objects, stale
    parts included. See the provider docs for the layout and how readers use the manifests.

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
    :param max_active_windows: windows fetched at once within the task, so requests overlap the API's
        latency (the rate-limit budget is still respected); default the connection's ``max_concurrency``.
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_prefix", "created_at_gte", "created_at_lt", "filters")
    template_fields_renderers = {"filters": "json"}
    ui_color = "#e8f4fd"

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
        max_active_windows: int | None = None,
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
        self.max_active_windows = max_active_windows
        if max_active_windows is not None and (
            isinstance(max_active_windows, bool) or not isinstance(max_active_windows, int) or max_active_windows < 1
        ):
            raise ConversationsFilterError(f"max_active_windows: expected an integer >= 1, got {max_active_windows!r}")
        if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
            raise ConversationsFilterError(f"per_page: {per_page!r} is out of range; allowed: [1, {MAX_PER_PAGE}]")
        if (
            isinstance(max_records_per_file, bool)
            or not isinstance(max_records_per_file, int)
            or max_records_per_file < 1
        ):
            raise ConversationsFilterError(
                f"max_records_per_file: expected an integer >= 1, got {max_records_per_file!r}"
            )
        # Literals are checked now, templates after rendering.
        if not is_template(filters):
            check_filters(filters)
        if not is_template([created_at_gte, created_at_lt]) and None not in (created_at_gte, created_at_lt):
            resolve_range(created_at_gte, created_at_lt, None)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_provider_conversations.hooks.conversations import ConversationsHook

        filters = check_filters(self.filters)
        start, end = resolve_range(self.created_at_gte, self.created_at_lt, context)
        windows = split_windows(start, end, self.window_size)
        if not isinstance(self.s3_bucket, str) or not self.s3_bucket.strip():
            raise ConversationsFilterError(f"s3_bucket: expected a bucket name, got {self.s3_bucket!r}")
        layout = PartitionLayout(str(self.s3_prefix or ""), self.compression)
        if not all(w.is_aligned(self.window_size) for w in windows):
            self.log.warning(
                "The range [%s, %s) is not aligned to window_size %s: its edge windows are clipped, and another "
                "run over an overlapping range would write them under other keys.",
                format_timestamp(start),
                format_timestamp(end),
                self.window_size,
            )

        hook = ConversationsHook(self.conversations_conn_id)
        hook.settings  # noqa: B018 (checks the connection before any I/O)
        # Two upload threads per part: each holds a multipart chunk (8 MB) in memory, and boto3's default of 10
        # would make memory grow with the part size. The AWS connection's transfer_config_args still win.
        s3 = S3Hook(aws_conn_id=self.aws_conn_id, transfer_config_args={"max_concurrency": 2})
        if not s3.check_for_bucket(self.s3_bucket):
            raise ConversationsFilterError(f"s3_bucket: bucket {self.s3_bucket!r} does not exist or is not reachable")

        self.log.info(
            "Exporting conversations created in [%s, %s) in %d window(s) of %s to s3://%s/%s",
            format_timestamp(start),
            format_timestamp(end),
            len(windows),
            self.window_size,
            self.s3_bucket,
            layout.prefix,
        )
        workers = min(self.max_active_windows or hook.settings.max_concurrency, len(windows))
        results = self._export_windows(windows, workers, hook, s3, layout, filters)
        total = sum(r.records for r in results)
        self.log.info(
            "Done: %d record(s) in %d window(s), %d at a time; %d request(s), %d retries, %d throttled, "
            "rate-limit cost %d",
            total,
            len(results),
            workers,
            hook.stats["requests"],
            hook.stats["retries"],
            hook.stats["throttled"],
            hook.stats["cost"],
        )
        return {
            "bucket": self.s3_bucket,
            "prefix": layout.prefix,
            "created_at_gte": format_timestamp(start),
            "created_at_lt": format_timestamp(end),
            "records": total,
            "requests": hook.stats["requests"],
            "cost": hook.stats["cost"],
            "windows": [r.summary() for r in results],
        }

    def _export_windows(
        self,
        windows: list[Window],
        workers: int,
        hook: ConversationsHook,
        s3: S3Hook,
        layout: PartitionLayout,
        filters: ConversationFilters,
    ) -> list[WindowResult]:
        """Export windows, ``workers`` at a time, so requests overlap the API's latency within the budget.

        Each window is committed on its own; on the first failure no further window starts, the ones in
        flight finish, and the error is raised (a retry redoes every window, idempotently).
        """

        def one(window: Window) -> WindowResult:
            result = export_window(
                hook,
                s3,
                self.s3_bucket,
                layout,
                window,
                filters=filters,
                per_page=self.per_page,
                max_records_per_file=self.max_records_per_file,
            )
            self.log.info(
                "Window [%s, %s): %d record(s), %d page(s), %d object(s) %s, %d stale removed, budget left %s, "
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
            return result

        if workers <= 1:
            return [one(window) for window in windows]
        results: dict[Window, WindowResult] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conversations-window") as pool:
            pending = {pool.submit(one, window): window for window in windows}
            try:
                for future in as_completed(pending):
                    results[pending[future]] = future.result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return [results[window] for window in windows]
