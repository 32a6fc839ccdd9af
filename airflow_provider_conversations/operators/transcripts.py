"""The transcripts export and change sync: their window flow, whatever the destination, and its S3 half.

Per window (see :mod:`~airflow_provider_conversations.lake.transcripts` for the two tables):

1. list the window's transcriptions (``GET /v2/transcriptions`` by ``created_at``, one point per 100);
2. read each one's sentences (one point per 100 sentences, several transcriptions at once, in order),
   or, in the change sync, take them from the window's committed version when the transcription's
   ``updated_at`` is the committed one's (a transcription unchanged since it was last written costs
   nothing);
3. commit the window's sentences, then its transcriptions; transcriptions gone from the list are gone
   from both tables.

``max_points`` caps a task's rate-limit points: before each window the points spent so far are
compared with it, and once they reach it no further window is read; the windows committed stay, the
windows left are reported in XCom (``budget``) and the log. With ``max_points`` the export skips the
windows both tables already hold, so the next run goes on where this one stopped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow_provider_conversations.api.transcriptions import TranscriptionFilters
from airflow_provider_conversations.checks import check_positive
from airflow_provider_conversations.lake.export import RangeExport, ties_sorted_by_id
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA, TRANSCRIPTIONS_SCHEMA, TableSchema
from airflow_provider_conversations.lake.transcripts import SENTENCES, TRANSCRIPTIONS, TranscriptTables
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.operators.base import BaseConversationsExportOperator
from airflow_provider_conversations.operators.s3 import S3Destination
from airflow_provider_conversations.reading.ranges import RANGE_KEYS, check_no_range_filters
from airflow_provider_conversations.timestamps import format_timestamp

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_conversations.hooks.conversations import ConversationsHook
    from airflow_provider_conversations.lake.destination import Destination, WindowResult
    from airflow_provider_conversations.reading.walk import RangePage
    from airflow_provider_conversations.utils.resume import WindowResume
    from airflow_provider_conversations.version_compat import Context

__all__ = ["WINDOW_KEY", "TranscriptsExport", "TranscriptsS3Destination", "in_order"]

#: The key the export adds to each sentence after the hook's: its transcription's ``created_at`` (its window).
WINDOW_KEY = SENTENCES_SCHEMA.window_field

_T = TypeVar("_T")
_R = TypeVar("_R")


def in_order(fn: Callable[[_T], _R], items: Iterable[_T], concurrency: int) -> Generator[_R, None, None]:
    """``map(fn, items)`` with up to ``concurrency`` calls at once, results in order, at most ``2 x concurrency`` ahead.

    :param fn: the call (thread-safe).
    :param items: its arguments.
    :param concurrency: calls at once (1: on the calling thread).
    """
    if concurrency <= 1:
        yield from map(fn, items)
        return
    pending: deque[Future[_R]] = deque()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="conversations-sentences") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


@dataclass
class TranscriptProgress:
    """What a transcripts task did, for XCom (``transcripts`` and ``budget``) and the log."""

    transcriptions: int = 0
    read: int = 0
    kept: int = 0
    resumed: list[Window] = field(default_factory=list)
    left: list[Window] = field(default_factory=list)


class TranscriptsExport(BaseConversationsExportOperator):
    """Export transcripts window by window into two tables, whatever the destination.

    The destination half (:meth:`open_destination`) builds the two tables
    (:class:`~airflow_provider_conversations.lake.transcripts.TranscriptTables`); ``filters`` are those of
    ``GET /v2/transcriptions`` (``ids``, ``language_code``).

    :param max_points: the most rate-limit points the task spends (``None``: no cap): it stops at the
        first window boundary where it has spent them (see the module docstring).
    """

    records_name = "transcriptions"
    #: Take an unchanged transcription's sentences from the committed window (the change sync).
    keep_unchanged_sentences = False

    def __init__(self, *, max_points: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_points = None if max_points is None else check_positive(max_points, "max_points")

    def check_filters(self, filters: Any) -> TranscriptionFilters:  # type: ignore[override]
        return check_no_range_filters(
            TranscriptionFilters.from_mapping(filters),
            keys=RANGE_KEYS,
            why="cannot be a filter here; pass created_at_gte/created_at_lt (or updated_at_gte/updated_at_lt) instead",
        )

    def read_changed(
        self, hook: ConversationsHook, filters: Any, start: datetime, end: datetime
    ) -> Iterable[RangePage]:
        """The transcriptions updated in ``[start, end)`` (the change sync's scan).

        :param hook: the API hook.
        :param filters: the checked filters.
        :param start: inclusive start.
        :param end: exclusive end.
        """
        return hook.read_transcriptions(
            filters,
            updated_at_gte=start,
            updated_at_lt=end,
            per_page=self.per_page,
            max_concurrency=self.concurrency(hook),
        )

    def _run(self, context: Context) -> dict[str, Any]:
        self._progress = TranscriptProgress()
        out = super()._run(context)
        progress, left = self._progress, self._progress.left
        out["sentences"] = out["records"]
        out["transcripts"] = {"transcriptions": progress.transcriptions, "read": progress.read, "kept": progress.kept}
        out["budget"] = {
            "max_points": self.max_points,
            "points": out["cost"],
            "stopped": bool(left),
            "windows_left": [w.as_kwargs() for w in left],
            "windows_already_committed": len(progress.resumed),
        }
        self.log.info(
            "Transcripts: %d transcription(s), sentences read for %d and kept from the lake for %d; %d point(s) spent "
            "(max_points %s)%s",
            progress.transcriptions,
            progress.read,
            progress.kept,
            out["cost"],
            self.max_points,
            f"; stopped with {len(left)} window(s) left, from {format_timestamp(left[0].start)}" if left else "",
        )
        return out

    def _export(
        self,
        hook: ConversationsHook,
        destination: Destination,
        filters: Any,
        windows: list[Window],
        staging: str | None,
        resume: WindowResume | None = None,
    ) -> list[WindowResult]:
        """Export ``windows`` one at a time (transcriptions, then their sentences), within ``max_points``.

        ``resume`` is not used: with ``max_points`` the export skips windows both tables already hold.
        """
        tables = cast(TranscriptTables, destination)
        results: list[WindowResult] = []
        for window in windows:
            if self._progress.left or (self.max_points is not None and hook.stats.cost >= self.max_points):
                self._progress.left.append(window)
            elif self.max_points is not None and not self.keep_unchanged_sentences and tables.is_committed(window):
                self._progress.resumed.append(window)
            else:
                results += self._export_window(hook, tables, filters, window, staging)
        return results

    def _export_window(
        self, hook: ConversationsHook, tables: TranscriptTables, filters: Any, window: Window, staging: str | None
    ) -> list[WindowResult]:
        """List the window's transcriptions, get their sentences, commit sentences then transcriptions."""
        read_started, before = datetime.now(timezone.utc), hook.stats.cost
        pages = hook.read_transcriptions(
            filters,
            created_at_gte=window.start,
            created_at_lt=window.end,
            per_page=self.per_page,
            max_concurrency=self.concurrency(hook),
        )
        listed = list(ties_sorted_by_id((r, ts, n) for n, page in enumerate(pages) for r, ts in page.timed))
        committed = tables.committed(window) if self.keep_unchanged_sentences else None

        def from_api(record: dict[str, Any]) -> list[dict[str, Any]]:
            ref = record.get("conversation")
            cid = ref.get("id") if isinstance(ref, dict) else None
            read = hook.read_sentences(record["id"], conversation_id=None if cid is None else str(cid))
            return [{**row, WINDOW_KEY: record.get("created_at")} for row in read.rows]

        # Unchanged transcriptions keep their committed sentences, taken in one forward pass over the
        # committed rows; the others' are read from the API, several at once, in order.
        keep = [committed is not None and committed.is_current(record) for record, _, _ in listed]
        to_read = [record for (record, _, _), kept in zip(listed, keep, strict=True) if not kept]

        exports = [
            RangeExport(
                [window],
                table,
                read_started=read_started,
                max_records_per_file=self.max_records_per_file,
                publish_concurrency=0,
                tmp_dir=staging,
            )
            for table in (tables.sentences, tables.transcriptions)
        ]
        rows = read = 0
        try:
            with closing(in_order(from_api, to_read, self.concurrency(hook))) as reads:
                for (record, ts, serial), kept in zip(listed, keep, strict=True):
                    sentences = committed.take(record) if kept and committed is not None else None
                    if sentences is None:  # changed, new, or not to be had from the committed rows
                        sentences = from_api(record) if kept else next(reads)
                        read += 1
                    for row in sentences:
                        exports[0].route(row, ts, serial)
                    exports[1].route(record, ts, serial)
                    rows += len(sentences)
            sentence_results = exports[0].finish()
            exports[1].finish()
        except BaseException:
            for export in exports:
                export.abort()
            raise
        self._progress.transcriptions += len(listed)
        self._progress.read += read
        self._progress.kept += len(listed) - read
        self.log.info(
            "Window %s: %d transcription(s), %d sentence(s) (read for %d, kept from the lake for %d); %d point(s)",
            window.label,
            len(listed),
            rows,
            read,
            len(listed) - read,
            hook.stats.cost - before,
        )
        return sentence_results


class TranscriptsS3Destination(TranscriptsExport, S3Destination):
    """Commit transcripts into two tables of the S3 layout under ``s3_prefix`` (``sentences``, ``transcriptions``).

    Takes the arguments of :class:`~.s3.S3Destination` and ``max_points``. In Parquet the tables' columns
    are :data:`~airflow_provider_conversations.lake.schema.SENTENCE_FIELDS` and
    :data:`~airflow_provider_conversations.lake.schema.TRANSCRIPTION_FIELDS`, each then ``extra_json``.
    """

    #: Each table's name (its sub-prefix under ``s3_prefix``) and records, the sentences first.
    tables: tuple[tuple[str, TableSchema], ...] = (
        (SENTENCES, SENTENCES_SCHEMA),
        (TRANSCRIPTIONS, TRANSCRIPTIONS_SCHEMA),
    )

    def _table_layouts(self) -> list[PartitionLayout]:
        """The layouts of the sentences and the transcriptions table."""
        prefix = self._layout().prefix
        return [
            PartitionLayout(f"{prefix}/{name}" if prefix else name, self.compression, self.file_format, schema)
            for name, schema in self.tables
        ]

    def open_destination(self, context: Context, filters: Any) -> Destination:
        s3 = self._s3_hook()
        sentences, transcriptions = (
            self.s3_table(context, s3, layout, filters.as_dict()) for layout in self._table_layouts()
        )
        return cast("Destination", TranscriptTables(sentences, transcriptions))

    def destination_lineage(self, records: int | None, size: int | None) -> OperatorLineage | None:
        """``/v2/transcriptions`` in; the sentences table (with the statistics) and the transcriptions table out."""
        from airflow_provider_conversations.hooks.conversations import ConversationsHook
        from airflow_provider_conversations.utils.lineage import transcripts_lineage

        return transcripts_lineage(
            api_base_url=ConversationsHook(self.conversations_conn_id).settings.base_url,
            bucket=str(self.s3_bucket),
            tables=[(layout.prefix, layout.schema) for layout in self._table_layouts()],
            file_format=self.file_format,
            records=records,
            size=size,
        )
