"""Transfer conversations of a ``created_at`` range to S3 as JSONL or Parquet partitions, window by window."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.filters import MAX_PER_PAGE, ConversationFilters
from airflow_provider_conversations.checks import check_int, check_positive
from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsAuthError,
    ConversationsDestinationError,
    ConversationsFilterError,
)
from airflow_provider_conversations.lake.export import WindowPublisher, WindowResult, export_range
from airflow_provider_conversations.lake.formats import check_compression, check_file_format, require_pyarrow
from airflow_provider_conversations.lake.s3.guard import check_committed_windows
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.s3.lease import LEASE_SECONDS, WAIT_SECONDS, LeasedWindowPublisher, task_owner
from airflow_provider_conversations.lake.settings import check_s3_extra_args, check_tmp_dir
from airflow_provider_conversations.lake.windows import DEFAULT_WINDOW_SIZE, Window, check_window_size, split_windows
from airflow_provider_conversations.timestamps import format_timestamp
from airflow_provider_conversations.utils.assets import add_table_event_extra, table_asset_uri
from airflow_provider_conversations.utils.task_args import check_filters, is_template, resolve_range
from airflow_provider_conversations.version_compat import BaseOperator

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_conversations.hooks.conversations import ConversationsHook
    from airflow_provider_conversations.version_compat import Context

#: API answers that retrying cannot fix: the task fails at once, without Airflow's retries.
NOT_RETRIED_STATUSES = (401, 403)


class ConversationsToS3Operator(BaseOperator):
    """Copy conversations created in ``[created_at_gte, created_at_lt)`` to S3 as JSONL or Parquet partitions.

    The range (by default the run's data interval) is cut into UTC-aligned windows of ``window_size``.
    The range is read once, in ``created_at`` order, with several requests in flight (each at a cost
    of 1 point); each window, once the read has passed its end, is written under
    ``{s3_prefix}/date=YYYY-MM-DD/part-HHMMSS-HHMMSS-NNNNN.jsonl[.gz]`` (or ``.parquet``) and committed by
    ``_manifest-HHMMSS-HHMMSS.json``, written last, while the read goes on. A rerun of a window
    replaces its objects, stale parts included. See the provider docs for the layout and how readers
    use the manifests.

    An API answer of 401 or 403 fails the task without Airflow's retries. When the task's ``outlets``
    hold the table's Asset (``s3://<bucket>/<prefix>``), its event carries what was committed; the
    operator reports OpenLineage (the API in, the table out) when the OpenLineage provider is installed.

    :param s3_bucket: destination bucket. (templated)
    :param s3_prefix: key prefix of the table. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param aws_conn_id: the AWS connection used by ``S3Hook`` (``None``: boto3's default chain). (templated)
    :param created_at_gte: inclusive start: aware datetime or ISO-8601 string with offset; default the
        data interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    :param window_size: window length, whole seconds dividing one day (default one day: two objects a
        day; an hourly schedule wants ``timedelta(hours=1)``). A table keeps one window size.
    :param filters: further filters of the hook, as a dict of :class:`ConversationFilters` field names
        (no ``created_at`` bounds). (templated)
    :param per_page: records per request, 1..100.
    :param max_records_per_file: records per data object, at most.
    :param compression: JSONL: ``None`` (``.jsonl``) or ``"gzip"`` (``.jsonl.gz``); Parquet: the column
        codec, ``None``, ``"snappy"``, ``"gzip"`` or ``"zstd"``.
    :param max_concurrency: API requests in flight at once within the task, so requests overlap the
        API's latency (the rate-limit budget is still respected); default the connection's
        ``max_concurrency``.
    :param file_format: ``"jsonl"`` (records exactly as the API returned them) or ``"parquet"`` (one typed
        schema; needs the ``[parquet]`` extra).
    :param s3_extra_args: upload arguments applied to every object written, parts and manifests alike
        (e.g. ``{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "..."}``); keys boto3 accepts for uploads.
    :param tmp_dir: directory for the local part files of the windows being read or published (default
        the system's temp dir); it holds up to five windows' data at once.
    """

    template_fields: Sequence[str] = (
        "s3_bucket",
        "s3_prefix",
        "conversations_conn_id",
        "aws_conn_id",
        "created_at_gte",
        "created_at_lt",
        "filters",
    )
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
        window_size: timedelta = DEFAULT_WINDOW_SIZE,
        filters: Mapping[str, Any] | None = None,
        per_page: int = MAX_PER_PAGE,
        max_records_per_file: int = 100_000,
        compression: str | None = None,
        max_concurrency: int | None = None,
        file_format: str = "jsonl",
        s3_extra_args: Mapping[str, Any] | None = None,
        tmp_dir: str | None = None,
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
        self.file_format = check_file_format(file_format)
        self.compression = check_compression(compression, self.file_format)
        self.s3_extra_args = check_s3_extra_args(s3_extra_args)
        self.tmp_dir = tmp_dir
        self._staging_dir: str | None = None  # tmp_dir once checked on the worker
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
        with failing_fast_on_auth_errors():
            results = self._export(hook, publisher, filters, windows)
        total = self._report_committed(context, layout, results, {"created_at": (start, end)})
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
        return PartitionLayout(str(self.s3_prefix or ""), self.compression, self.file_format)

    def _connect(self) -> tuple[ConversationsHook, S3Hook]:
        """The API hook (its connection checked) and the S3 hook (the bucket checked), before any write."""
        from airflow_provider_conversations.hooks.conversations import ConversationsHook

        self._staging_dir = self._check_write_args()
        hook = ConversationsHook(self.conversations_conn_id)
        hook.settings  # noqa: B018 (checks the connection before any I/O)
        return hook, self._s3_hook()

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
            tmp_dir=self._staging_dir,
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

    def _check_write_args(self) -> str | None:
        """Check what only the worker can (pyarrow for Parquet, ``tmp_dir``) before any I/O; return ``tmp_dir``."""
        require_pyarrow(self.file_format)
        return check_tmp_dir(self.tmp_dir)

    def _s3_hook(self) -> S3Hook:
        """The S3 hook writing every object with ``s3_extra_args``, once the bucket is known to be reachable."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        # Uploads run in the publishing thread, one multipart chunk (8 MB) at a time: no thread pool per upload
        # (its start-up costs more than a small part's PUT), and memory does not grow with the part size.
        # Windows are published concurrently instead. The AWS connection's transfer_config_args still win.
        s3 = S3Hook(
            aws_conn_id=self.aws_conn_id, transfer_config_args={"use_threads": False}, extra_args=self.s3_extra_args
        )
        if not s3.check_for_bucket(self.s3_bucket):
            raise ConversationsDestinationError(
                f"s3_bucket: bucket {self.s3_bucket!r} does not exist or is not reachable"
            )
        return s3

    def _report_committed(
        self,
        context: Context,
        layout: PartitionLayout,
        results: list[WindowResult],
        ranges: dict[str, tuple[datetime, datetime]],
    ) -> int:
        """Keep the counts for the OpenLineage output and put what was committed on the table's asset event.

        :param context: the task's context.
        :param layout: the table's key names.
        :param results: one result per committed window.
        :param ranges: the range exported per field, e.g. ``{"created_at": (start, end)}`` (``<field>_gte`` and
            ``<field>_lt`` in the event's extra).
        :return: the records written.
        """
        total = sum(r.records for r in results)
        self._written = (total, sum(r.size for r in results))
        extra: dict[str, Any] = {
            "records": total,
            "windows": len(results),
            "manifests": [r.manifest_key for r in results],
        }
        for name, (gte, lt) in ranges.items():
            extra[f"{name}_gte"], extra[f"{name}_lt"] = format_timestamp(gte), format_timestamp(lt)
        extra["file_format"] = self.file_format
        add_table_event_extra(context, self.outlets, table_asset_uri(self.s3_bucket, layout.prefix), extra)
        return total

    def get_openlineage_facets_on_start(self) -> OperatorLineage | None:
        """The API as input, the table (``s3://<bucket>``, name ``<prefix>``) with its schema as the one output."""
        return self._lineage(None, None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """As on start, with the output's statistics: records and bytes of the data objects written.

        :param task_instance: the finished task instance (unused: the counts come from this run).
        """
        records, size = getattr(self, "_written", (None, None))
        return self._lineage(records, size)

    def _lineage(self, records: int | None, size: int | None) -> OperatorLineage | None:
        from airflow_provider_conversations.hooks.conversations import ConversationsHook
        from airflow_provider_conversations.utils.lineage import operator_lineage

        return operator_lineage(
            api_base_url=ConversationsHook(self.conversations_conn_id).settings.base_url,
            bucket=str(self.s3_bucket),
            prefix=self._layout().prefix,
            file_format=self.file_format,
            records=records,
            size=size,
        )


@contextmanager
def failing_fast_on_auth_errors() -> Iterator[None]:
    """Let API errors through, except those retrying cannot fix (401, 403): those fail without Airflow retries."""
    try:
        yield
    except ConversationsAPIError as err:
        raise_if_not_retryable(err)
        raise


def raise_if_not_retryable(err: ConversationsAPIError) -> None:
    """Turn an API answer that retrying cannot fix (401, 403) into an ``AirflowFailException`` (no Airflow retries).

    :param err: the API error.
    :raises ConversationsAuthError: (an ``AirflowFailException``) for :data:`NOT_RETRIED_STATUSES`,
        chained to ``err``.
    """
    if err.status in NOT_RETRIED_STATUSES:
        raise ConversationsAuthError.from_api_error(err) from err
