"""Commit windows into the Iceberg table: parts uploaded during the read, one metadata-only snapshot per group.

The protocol, top to bottom:

1. :meth:`IcebergDestination.check` (before any API request): the catalog answers, the table exists
   (created when absent) and is compatible, our Parquet parts fit its schema.
2. :meth:`IcebergDestination.stage` (a publishing thread, as soon as a part file is finished): upload it
   under the table's data location as ``created_at_day=YYYY-MM-DD/HHMMSS-HHMMSS-<md5>.parquet`` (the
   table's window field names the folder; the
   same bytes give the same name) and compute its Iceberg statistics from the local file. No metadata
   lists it: readers do not see it, and a task killed here leaves only unreferenced files.
3. :meth:`IcebergDestination.commit` (a group of fully read windows): one ``overwrite`` snapshot that,
   per window, removes the data files of its committed version and adds the staged ones; a file
   already committed with the same bytes stays. A file of another writer that spans a window edge
   (after a compaction) is rewritten without the window's rows. Each window's read start is recorded
   in the snapshot summary (``conversations.read-started.<gte>/<lt>``), empty windows included.

**An older read never wins.** Before each attempt the table is loaded afresh, and a window whose
committed version (the newest summary entry of a window overlapping it, along the current snapshot's
ancestry) was read later than this read began is not replaced: it is skipped, logged and counted, and
its staged files are left unreferenced (orphan cleanup removes them: another task may have staged the same
bytes under the same name). A concurrent commit makes the attempt fail on its base snapshot; the
whole check is then redone on the new head, so of two tasks on one window the later read wins whole
and neither fails. pyiceberg's own retries replay a transaction without this check, so they are off for
our commits (only in memory: the table's properties are not changed).
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_conversations.lake.destination import Outcome, WindowParts, WindowResult
from airflow_provider_conversations.lake.iceberg.catalog import ConversationsIcebergError
from airflow_provider_conversations.lake.iceberg.reads import (
    CommitResult,
    GroupItem,
    WindowOutcome,
    committed_reads,
)
from airflow_provider_conversations.lake.iceberg.table import open_table, partition_name
from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.schema import CONVERSATIONS_SCHEMA, TableSchema
from airflow_provider_conversations.lake.windows import Window, window_of
from airflow_provider_conversations.timestamps import format_timestamp

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

log = logging.getLogger(__name__)


class IcebergDestination:
    """The Iceberg table as the export's destination (see the module docstring for the protocol).

    :param catalog: the pyiceberg catalog (:func:`~.catalog.load_catalog`).
    :param namespace: the table's namespace.
    :param name: the table's name.
    :param compression: the part files' Parquet codec.
    :param commit_attempts: attempts of one commit when other writers commit meanwhile.
    :param single_snapshot: defer every :meth:`commit` to :meth:`finish`, which commits all the task's
        windows in one snapshot (a change sync); the parts are still uploaded during the read, only their
        metadata waits.
    :param schema: the table's records (its columns, window field and key; default the conversations').
    """

    file_format = "parquet"

    def __init__(
        self,
        catalog: Catalog,
        namespace: str,
        name: str,
        *,
        compression: str | None = "zstd",
        commit_attempts: int = 10,
        single_snapshot: bool = False,
        schema: TableSchema = CONVERSATIONS_SCHEMA,
    ) -> None:
        self.catalog, self.namespace, self.name, self.schema = catalog, namespace, name, schema
        self.compression, self.commit_attempts = compression, commit_attempts
        self.identifier = f"{namespace}.{name}"
        self._table: Table | None = None
        self._staged: dict[str, DataFile] = {}
        self._lock = threading.Lock()
        #: The snapshot of the last commit that made one.
        self.snapshot_id: int | None = None
        #: Every commit of this destination, in order.
        self.commits: list[CommitResult] = []
        self.single_snapshot = single_snapshot
        self._pending: list[tuple[WindowParts, WindowResult]] = []
        #: In single-snapshot mode, once :meth:`finish` committed: the results :meth:`commit` returned, final.
        self.deferred_results: list[WindowResult] = []

    @property
    def table(self) -> Table:
        """The table as loaded by :meth:`check`."""
        if self._table is None:
            raise RuntimeError("IcebergDestination.check() must run before the table is used")
        return self._table

    def check(self, windows: list[Window]) -> None:
        """Before any API request: create or check the table, and check that our Parquet parts fit it.

        :param windows: every window the task may commit (each inside one UTC day, hence one partition).
        :raises ConversationsIcebergError: an incompatible table (the difference named; nothing written).
        """
        from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible

        from airflow_provider_conversations.lake.parquet import arrow_schema

        table = open_table(self.catalog, self.namespace, self.name, self.schema)
        try:
            _check_pyarrow_schema_compatible(
                table.schema(), arrow_schema(self.schema), format_version=table.format_version
            )
        except ValueError as err:
            raise ConversationsIcebergError(
                f"table: the Parquet parts do not fit Iceberg table {self.identifier}: {str(err).splitlines()[0]}"
            ) from None
        for window in windows:
            if window.start.date() != (window.end - (window.end - window.start) / 2).date():
                raise ConversationsIcebergError(f"table: window {window} crosses a UTC day: one partition per window")
        self._table = table

    def data_location(self) -> str:
        """Where data files go: the table's ``write.data.path``, else ``<location>/data``."""
        table = self.table
        return table.properties.get("write.data.path", f"{table.location().rstrip('/')}/data").rstrip("/")

    def file_path(self, window: Window, part: LocalPart) -> str:
        """The staged path of ``part``: its partition folder, its window, the MD5 of its bytes."""
        end = "240000" if window.end.date() != window.start.date() else f"{window.end:%H%M%S}"
        span = f"{window.start:%H%M%S}-{end}"
        folder = f"{partition_name(self.schema)}={window.start:%Y-%m-%d}"
        return f"{self.data_location()}/{folder}/{span}-{part.md5}.parquet"

    def stage(self, window: Window, number: int, part: LocalPart) -> str:
        """Upload one finished part file where the commit will reference it; invisible until then.

        Thread-safe; called while the read goes on.

        :param window: its window.
        :param number: its 0-based position in the window (the name comes from the content instead).
        :param part: the local Parquet file.
        :return: its path in the table's storage.
        """
        path = self.file_path(window, part)
        data_file = self._data_file(part, path)
        with open(part.path, "rb") as src, self.table.io.new_output(path).create(overwrite=True) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        with self._lock:
            self._staged[path] = data_file
        return path

    def _data_file(self, part: LocalPart, path: str) -> DataFile:
        """The Iceberg data file entry of ``part`` at ``path``, from the local file's Parquet footer."""
        import pyarrow.parquet as pq
        from pyiceberg.io.pyarrow import (
            compute_statistics_plan,
            data_file_statistics_from_parquet_metadata,
            parquet_path_to_id_mapping,
        )
        from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

        metadata = self.table.metadata
        schema = metadata.schema()
        stats = data_file_statistics_from_parquet_metadata(
            parquet_metadata=pq.read_metadata(part.path),
            stats_columns=compute_statistics_plan(schema, metadata.properties),
            parquet_column_mapping=parquet_path_to_id_mapping(schema),
        )
        return DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=path,
            file_format=FileFormat.PARQUET,
            partition=stats.partition(metadata.spec(), schema),
            file_size_in_bytes=part.size,
            sort_order_id=None,
            spec_id=metadata.default_spec_id,
            equality_ids=None,
            key_metadata=None,
            **stats.to_serialized_dict(),
        )

    def commit(self, group: list[WindowParts]) -> list[WindowResult]:
        """Replace each window of ``group`` by its new version in one snapshot, never by an older read.

        The :class:`~airflow_provider_conversations.lake.destination.Destination` method; the snapshot
        id is :attr:`snapshot_id`, each commit's details in :attr:`commits`.

        In single-snapshot mode nothing is committed yet: the results are pending until :meth:`finish`
        commits them and updates them in place.

        :param group: fully read windows whose parts are all staged (:meth:`stage`).
        :return: one result per window, in order (``keys``: its data files; ``deleted_stale``: data
            files of the replaced version taken out of the table).
        """
        if self.single_snapshot:
            results = [_result(item) for item in group]
            with self._lock:
                self._pending += zip(group, results)
            return results
        result = self.commit_group(group)
        return [_result(item, outcome) for item, outcome in zip(group, result.windows, strict=True)]

    def finish(self) -> None:
        """In single-snapshot mode, commit every deferred window in one snapshot (the read-order rule
        still per window) and update the results :meth:`commit` returned; otherwise nothing is deferred.
        """
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        result = self.commit_group([item for item, _ in pending])
        for (item, pending_result), outcome in zip(pending, result.windows, strict=True):
            final = _result(item, outcome)
            pending_result.keys, pending_result.deleted_stale = final.keys, final.deleted_stale
            pending_result.outcome = final.outcome
        self.deferred_results += [r for _, r in pending]

    def commit_group(self, group: Sequence[GroupItem]) -> CommitResult:
        """Replace each window of ``group`` by its new version in one snapshot, never by an older read.

        :param group: fully read windows whose parts are all staged (:meth:`stage`).
        :return: the snapshot id and each window's outcome, in order.
        :raises ConversationsIcebergError: still conflicting after ``commit_attempts`` attempts.
        """
        from pyiceberg.exceptions import CommitFailedException

        from airflow_provider_conversations.lake.iceberg.commit import apply_group

        started = time.monotonic()
        for attempt in range(1, self.commit_attempts + 1):
            table = self.catalog.load_table(self.identifier)
            with self._lock:
                staged = {p: self._staged[p] for item in group for p in item.staged}
            try:
                snapshot_id, outcomes = apply_group(table, group, staged, self.schema.window_field)
            except CommitFailedException as err:
                if attempt == self.commit_attempts:
                    raise ConversationsIcebergError(
                        f"table {self.identifier}: the commit of {len(group)} window(s) still conflicted with other "
                        f"writers after {attempt} attempts ({err}); the staged files stay unreferenced"
                    ) from err
                wait = min(0.1 * 2**attempt, 5.0) * random.uniform(0.5, 1.0)
                log.info(
                    "Commit to %s conflicted with another writer; attempt %d in %.2fs",
                    self.identifier,
                    attempt + 1,
                    wait,
                )
                time.sleep(wait)
                continue
            self._log_skipped(group, outcomes)
            result = CommitResult(snapshot_id, outcomes, attempt, time.monotonic() - started)
            with self._lock:
                self.commits.append(result)
                if snapshot_id is not None:
                    self.snapshot_id = snapshot_id
            return result
        raise AssertionError("unreachable")

    def _log_skipped(self, group: Sequence[GroupItem], outcomes: list[WindowOutcome]) -> None:
        """Log each window kept at a later read's version (its staged files are left for orphan cleanup)."""
        for item, outcome in zip(group, outcomes):
            if outcome.committed:
                continue
            log.warning(
                "Window %s: kept the committed version, read from %s, after this read began (%s); "
                "%d record(s) of this read not committed",
                item.window.label,
                format_timestamp(outcome.kept_read_started) if outcome.kept_read_started else "?",
                format_timestamp(item.read_started),
                sum(p.records for p in item.parts),
            )

    def windows_holding(self, ids: Iterable[str], window_size: timedelta) -> set[Window]:
        """The windows on the grid of ``window_size`` whose committed rows hold any of ``ids``.

        A change sync adds them to the windows it rewrites, so a conversation back-dated into another
        window leaves its old one in the same snapshot (no snapshot holds an id twice). Reads the ``id``
        and window field columns of the files whose statistics may hold the ids.

        :param ids: conversation ids.
        :param window_size: the table's window size.
        """
        from pyiceberg.expressions import In

        wanted = sorted(set(ids))
        if not wanted or self.table.current_snapshot() is None:
            return set()
        table = self.catalog.load_table(self.identifier)
        found: set[Window] = set()
        field = self.schema.window_field
        for chunk in range(0, len(wanted), 1000):
            ids_in = cast(Any, In)("id", wanted[chunk : chunk + 1000])  # pyiceberg's stubs do not type its constructor
            scan = table.scan(row_filter=ids_in, selected_fields=(field,))
            for batch in scan.to_arrow_batch_reader():
                found.update(window_of(ts, window_size) for ts in batch.column(field).to_pylist() if ts)
        return found

    def committed_reads(self, windows: list[Window]) -> dict[Window, datetime]:
        """The read start recorded for each window's committed version in the table's snapshots.

        :param windows: the windows to look up.
        """
        recorded = committed_reads(self.table)
        return {w: recorded[w] for w in windows if w in recorded}

    def has_window(self, window: Window) -> bool:
        """Whether the table held a committed version of ``window`` when :meth:`check` loaded it.

        :param window: the window.
        """
        return window in committed_reads(self.table)

    def committed_rows(self, window: Window) -> list[dict[str, Any]] | None:
        """The records of the window's committed version in the current snapshot, in the table's sort order.

        :param window: the window.
        :return: its records, or ``None`` when no snapshot recorded a read of the window.
        """
        records = self.committed_records(window)
        return None if records is None else list(records)

    def committed_records(self, window: Window) -> Iterator[dict[str, Any]] | None:
        """The window's committed records, in the table's sort order, rebuilt one Arrow batch at a time.

        Each row of the schema's columns whose window field lies in ``window`` is rebuilt into its record
        (:func:`~..parquet.from_row`); the window is held as Arrow columns, not as records.

        :param window: the window.
        :return: its records, or ``None`` when no snapshot recorded a read of the window.
        """
        from airflow_provider_conversations.lake.iceberg.commit import window_filter

        table = self.catalog.load_table(self.identifier)
        if window not in committed_reads(table):
            return None
        field, columns = self.schema.window_field, tuple(c.name for c in self.schema.columns)
        present = {f.name for f in table.schema().fields}
        scan = table.scan(
            row_filter=window_filter([window], field), selected_fields=tuple(c for c in columns if c in present)
        )
        arrow = scan.to_arrow().sort_by([(name, "ascending") for name in (field, *self.schema.key)])
        return _rebuilt(arrow)

    def lineage_summary(self) -> dict[str, Any]:
        """The table's identity for lineage and XCom: catalog name, identifier, location."""
        return {"catalog": self.catalog.name, "table": self.identifier, "location": self.table.location()}


def _rebuilt(arrow: Any) -> Iterator[dict[str, Any]]:
    from airflow_provider_conversations.lake.parquet import from_row

    for batch in arrow.to_batches(max_chunksize=10_000):
        yield from map(from_row, batch.to_pylist())


def _result(item: WindowParts, outcome: WindowOutcome | None = None) -> WindowResult:
    """The :class:`WindowResult` of ``item`` once committed (``outcome``), or pending its commit (``None``)."""
    skipped = outcome is not None and not outcome.committed
    return WindowResult(
        item.window,
        records=item.records,
        size=item.size,
        pages=item.pages,
        keys=list(item.staged) if outcome is None else outcome.files,
        deleted_stale=0 if outcome is None else outcome.removed,
        outcome=Outcome.SKIPPED_OLDER_READ if skipped else Outcome.COMMITTED,
        read_started=item.read_started,
    )
