"""The export operators' shared flow: check, connect, choose the windows, read and commit them, report.

Every export operator is this base plus two choices, each a small class of its own:

* **which windows to export** (:meth:`BaseConversationsExportOperator.windows_to_export`): a
  ``created_at`` range (:class:`~.steps.CreatedAtRange`) or the windows that changes touched
  (:class:`~.steps.ChangedWindows`);
* **where they are committed** (:meth:`BaseConversationsExportOperator.open_destination`): the S3
  layout (:class:`~.s3.S3Destination`), or an Iceberg table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.filters import MAX_PER_PAGE, ConversationFilters
from airflow_provider_conversations.checks import check_int, check_positive
from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsAuthError
from airflow_provider_conversations.lake.destination import Destination, Outcome, WindowResult
from airflow_provider_conversations.lake.export import RangeExport
from airflow_provider_conversations.lake.formats import require_pyarrow
from airflow_provider_conversations.lake.settings import check_tmp_dir, redacting
from airflow_provider_conversations.lake.windows import DEFAULT_WINDOW_SIZE, Window, check_window_size
from airflow_provider_conversations.timestamps import format_timestamp
from airflow_provider_conversations.utils.partitions import run_partition
from airflow_provider_conversations.utils.resume import WindowResume, table_shape
from airflow_provider_conversations.utils.task_args import check_filters, is_template
from airflow_provider_conversations.version_compat import BaseOperator, mask_secret

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_conversations.hooks.conversations import ConversationsHook
    from airflow_provider_conversations.version_compat import Context

#: A task's range per field, e.g. ``{"created_at": (start, end)}``.
Bounds = dict[str, tuple[datetime, datetime]]

#: API answers that retrying cannot fix: the task fails at once, without Airflow's retries.
NOT_RETRIED_STATUSES = (401, 403)


@dataclass
class ExportPlan:
    """The windows a task exports, and what it reports about choosing them.

    :param runs: contiguous windows, each run read with one read of its range, in order.
    :param ranges: the range the task covers per field, e.g. ``{"created_at": (start, end)}``.
    :param report: further XCom fields (the change sync's scan).
    :param lookback_windows: windows only the change sync's lookback touched (their pages are reported).
    """

    runs: list[list[Window]]
    ranges: Bounds
    report: dict[str, Any] = field(default_factory=dict)
    lookback_windows: set[Window] = field(default_factory=set)

    @property
    def windows(self) -> list[Window]:
        """Every window, in order."""
        return [w for run in self.runs for w in run]


class BaseConversationsExportOperator(BaseOperator):
    """Read windows of conversations from the API and commit each window whole into a table.

    Subclasses choose the windows (:meth:`windows_to_export`, with :meth:`resolve_bounds` and
    :meth:`planned_windows`) and the destination (:meth:`open_destination`, :meth:`destination_report`,
    :meth:`destination_lineage`).

    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param window_size: window length, whole seconds dividing one day (default one day). A table keeps
        one window size.
    :param filters: further filters of the hook, as a dict of :class:`ConversationFilters` field names.
        (templated)
    :param per_page: records per request, 1..100.
    :param max_records_per_file: records per data file, at most.
    :param max_concurrency: API requests in flight at once within the task (default the connection's).
    :param tmp_dir: directory for the local part files of the windows being read (default the
        system's temp dir).
    :param resume_on_retry: on Airflow 3.3 and later, let a retry skip the windows an earlier try of
        the task committed, unless they changed since (:mod:`~airflow_provider_conversations.utils.resume`).
    """

    template_fields_renderers = {"filters": "json"}
    #: What the task's records are, for log lines.
    records_name: str = "conversations"
    #: Windows committed in one commit (the S3 layout commits each window alone).
    commit_group_size: int = 1
    #: Windows committed at once while the read goes on (0: in the reading thread, the read waiting).
    publish_concurrency: int = 2

    def __init__(
        self,
        *,
        conversations_conn_id: str = "conversations_default",
        window_size: timedelta = DEFAULT_WINDOW_SIZE,
        filters: Mapping[str, Any] | None = None,
        per_page: int = MAX_PER_PAGE,
        max_records_per_file: int = 100_000,
        max_concurrency: int | None = None,
        tmp_dir: str | None = None,
        resume_on_retry: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conversations_conn_id = conversations_conn_id
        self.window_size = check_window_size(window_size)
        self.filters = filters
        self.per_page = check_int(per_page, "per_page", minimum=1, maximum=MAX_PER_PAGE)
        self.max_records_per_file = check_positive(max_records_per_file, "max_records_per_file")
        self.max_concurrency = None if max_concurrency is None else check_positive(max_concurrency, "max_concurrency")
        self.tmp_dir = tmp_dir
        self.resume_on_retry = bool(resume_on_retry)
        if not is_template(filters):
            self.check_filters(filters)

    # -- the choices of a subclass ------------------------------------------------------------------

    def check_filters(self, filters: Any) -> ConversationFilters:
        """Validate the rendered ``filters`` (no range bounds the task owns).

        :param filters: the ``filters`` argument.
        """
        return check_filters(filters)

    def resolve_bounds(self, context: Context) -> Bounds:
        """The task's range per field, from its arguments or the run's data interval (no I/O).

        :param context: the task context.
        """
        raise NotImplementedError

    def planned_windows(self, bounds: Bounds) -> list[Window]:
        """The windows known before any API request (checked against the table's); none for a change sync.

        :param bounds: :meth:`resolve_bounds`' result.
        """
        return []

    def windows_to_export(
        self, hook: ConversationsHook, filters: ConversationFilters, bounds: Bounds, destination: Destination
    ) -> ExportPlan:
        """The one step that tells exports apart: which windows this task rewrites.

        :param hook: the API hook.
        :param filters: the checked filters.
        :param bounds: :meth:`resolve_bounds`' result.
        :param destination: the table (it may know where changed conversations are now).
        """
        raise NotImplementedError

    def open_destination(self, context: Context, filters: ConversationFilters) -> Destination:
        """The table the windows are committed to, its arguments checked and reachable (no API request yet).

        :param context: the task context.
        :param filters: the checked filters (part of the table's shape).
        """
        raise NotImplementedError

    def destination_report(self, destination: Destination) -> dict[str, Any]:
        """The XCom fields naming the table (e.g. ``bucket`` and ``prefix``).

        :param destination: what :meth:`open_destination` returned.
        """
        return {}

    def destination_lineage(self, records: int | None, size: int | None) -> OperatorLineage | None:
        """The OpenLineage of the export (the API in, the table out), with output statistics once known."""
        return None

    def publish_event(self, context: Context, destination: Destination, extra: dict[str, Any]) -> None:
        """Put what was committed on the table's asset event, when the task's outlets hold the table.

        :param context: the task context.
        :param destination: the table.
        :param extra: records, windows, ranges and the destination's own fields.
        """

    # -- the flow -------------------------------------------------------------------------------------

    def log_secrets(self) -> list[str]:
        """Secrets among the task's arguments that libraries might log (an SSE-C key): kept out of every line."""
        return []

    def execute(self, context: Context) -> dict[str, Any]:
        secrets = self.log_secrets()
        for secret in secrets:
            mask_secret(secret)
        with redacting(secrets):
            return self._run(context)

    def _run(self, context: Context) -> dict[str, Any]:
        filters = self.check_filters(self.filters)
        bounds = self.resolve_bounds(context)
        staging = self._check_local_args()
        hook = self._api_hook()
        destination = self.open_destination(context, filters)
        destination.check(self.planned_windows(bounds))
        with failing_fast_on_auth_errors():
            plan = self.windows_to_export(hook, filters, bounds, destination)
            resume = self._resume(context, destination, filters)
            runs, results = resume.skip_committed(plan.runs, destination) if resume else (plan.runs, [])
            before = hook.stats.cost
            for run in runs:
                results += self._export(hook, destination, filters, run, staging, resume)
            destination.finish()
        results.sort(key=lambda r: r.window.start)
        export_cost = hook.stats.cost - before
        skipped = sum(1 for r in results if not r.committed)
        resumed = sum(1 for r in results if r.outcome is Outcome.RESUMED)
        total = sum(r.records for r in results if r.committed)
        self._written = (total, sum(r.size for r in results if r.committed))
        event: dict[str, Any] = {"records": total, "windows": sum(1 for r in results if r.committed)}
        event["manifests"] = [r.manifest_key for r in results if r.committed and r.manifest_key]
        for name, (gte, lt) in plan.ranges.items():
            event[f"{name}_gte"], event[f"{name}_lt"] = format_timestamp(gte), format_timestamp(lt)
        partition_key, _date = run_partition(context)
        if partition_key:
            event["partition_key"] = partition_key
        self.publish_event(context, destination, event)
        if resume:
            resume.forget(results)
        self.log.info(
            "Done: %d record(s) in %d window(s) committed (%d resumed from an earlier try), %d kept (a later read "
            "was committed first); up to %d request(s) at a time; %d request(s), %d retries, %d throttled, "
            "rate-limit cost %d (windows %d)",
            total,
            len(results) - skipped,
            resumed,
            skipped,
            self.concurrency(hook),
            hook.stats.requests,
            hook.stats.retries,
            hook.stats.throttled,
            hook.stats.cost,
            export_cost,
        )
        out: dict[str, Any] = {**self.destination_report(destination)}
        for name, (gte, lt) in plan.ranges.items():
            out[f"{name}_gte"], out[f"{name}_lt"] = format_timestamp(gte), format_timestamp(lt)
        out.update(plan.report)
        out.update(records=total, requests=hook.stats.requests, cost=hook.stats.cost)
        if "scan" in plan.report:
            out["export"] = {"requests": hook.stats.requests - plan.report["scan"]["requests"], "cost": export_cost}
            out["lookback"]["pages"] = sum(r.pages for r in results if r.window in plan.lookback_windows)
        out["skipped_older_read"] = skipped
        out["resumed"] = resumed
        out["windows"] = [r.summary() for r in results]
        return out

    def _check_local_args(self) -> str | None:
        """Check what only the worker can (pyarrow for Parquet, ``tmp_dir``) before any I/O; return ``tmp_dir``."""
        require_pyarrow(getattr(self, "file_format", "jsonl"))
        return check_tmp_dir(self.tmp_dir)

    def _api_hook(self) -> ConversationsHook:
        """The API hook, its connection checked before any request."""
        from airflow_provider_conversations.hooks.conversations import ConversationsHook

        hook = ConversationsHook(self.conversations_conn_id)
        hook.settings  # noqa: B018 (checks the connection before any I/O)
        return hook

    def _resume(self, context: Context, destination: Destination, filters: ConversationFilters) -> WindowResume | None:
        """The task's resume records (Airflow 3.3's task state store), or ``None`` (off, or no store)."""
        if not self.resume_on_retry:
            return None
        shape = table_shape(
            self.destination_report(destination),
            window_size=self.window_size.total_seconds(),
            file_format=destination.file_format,
            compression=destination.compression,
            filters=filters.as_dict(),
        )
        return WindowResume.from_context(context, shape)

    def concurrency(self, hook: ConversationsHook) -> int:
        """Requests in flight at once: ``max_concurrency``, else the connection's."""
        return self.max_concurrency or hook.settings.max_concurrency

    def _export(
        self,
        hook: ConversationsHook,
        destination: Destination,
        filters: ConversationFilters,
        windows: list[Window],
        staging: str | None,
        resume: WindowResume | None = None,
    ) -> list[WindowResult]:
        """Export contiguous ``windows`` with one read of their range; each window is committed once the
        read has passed its end, while the read goes on (and recorded for a retry to resume).
        """

        def committed(result: WindowResult) -> None:
            self._log_window(result)
            if resume is not None:
                resume.record(result)

        read_started = datetime.now(timezone.utc)
        pages = hook.read_pages(
            filters,
            created_at_gte=windows[0].start,
            created_at_lt=windows[-1].end,
            per_page=self.per_page,
            max_concurrency=self.concurrency(hook),
        )
        export = RangeExport(
            windows,
            destination,
            read_started=read_started,
            max_records_per_file=self.max_records_per_file,
            publish_concurrency=self.publish_concurrency,
            group_size=self.commit_group_size,
            tmp_dir=staging,
            on_committed=committed,
        )
        return export.run(pages)

    def _log_window(self, result: WindowResult) -> None:
        window = result.window
        if not result.committed:
            return  # the destination logged why it kept the committed version
        self.log.info(
            "Window %s: %d record(s) from %d page(s), %d object(s) %s, %d stale removed, budget left %s, "
            "%.2fs; manifest %s",
            window.label,
            result.records,
            result.pages,
            len(result.keys),
            result.keys if len(result.keys) <= 3 else f"{result.keys[:2]} ... {result.keys[-1]}",
            result.deleted_stale,
            result.remaining_budget,
            result.seconds,
            result.manifest_key,
        )

    def get_openlineage_facets_on_start(self) -> OperatorLineage | None:
        """The API as input, the table with its schema as the one output."""
        return self.destination_lineage(None, None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """As on start, with the output's statistics: records and bytes of the data files committed.

        :param task_instance: the finished task instance (unused: the counts come from this run).
        """
        records, size = getattr(self, "_written", (None, None))
        return self.destination_lineage(records, size)


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
