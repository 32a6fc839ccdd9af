"""One attempt at committing a group of windows: the read-order check, the file diff, one ``overwrite`` snapshot.

:func:`apply_group` works on a freshly loaded table and commits against its current snapshot only: a
concurrent commit makes it raise ``CommitFailedException`` (the caller reloads and tries again, so the
read-order check always runs on the head it commits onto).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.lake.iceberg.reads import (
    GroupItem,
    WindowOutcome,
    committed_reads,
    newer_read,
    read_started_key,
)
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import FileScanTask, Table

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def window_filter(windows: Sequence[Window], field: str = "created_at") -> BooleanExpression:
    """Rows whose ``field`` (the table's window field) lies in any of ``windows`` (half-open).

    :param windows: the windows.
    :param field: the table's window field.
    """
    from pyiceberg.expressions import AlwaysFalse, Or
    from pyiceberg.expressions.parser import parse

    expr: BooleanExpression = AlwaysFalse()
    for w in windows:
        expr = Or(expr, parse(f"{field} >= '{w.start.isoformat()}' AND {field} < '{w.end.isoformat()}'"))
    return expr


def _spans(windows: Sequence[Window]) -> list[tuple[datetime, datetime]]:
    """Adjacent windows merged into half-open spans."""
    spans: list[tuple[datetime, datetime]] = []
    for w in sorted(windows):
        if spans and spans[-1][1] == w.start:
            spans[-1] = (spans[-1][0], w.end)
        else:
            spans.append((w.start, w.end))
    return spans


def _bounds(table: Table, data_file: DataFile, name: str) -> tuple[datetime, datetime] | None:
    """The file's lower and upper bounds of the timestamp column ``name`` from its statistics (``None``: absent or null)."""
    from pyiceberg.conversions import from_bytes
    from pyiceberg.types import TimestamptzType

    field = table.schema().find_field(name)
    lower, upper = data_file.lower_bounds or {}, data_file.upper_bounds or {}
    if field.field_id not in lower or field.field_id not in upper:
        return None
    if (data_file.null_value_counts or {}).get(field.field_id):
        return None
    micros = [int(from_bytes(TimestamptzType(), b[field.field_id])) for b in (lower, upper)]
    return _EPOCH + micros[0] * _MICRO, _EPOCH + micros[1] * _MICRO


def _inside(bounds: tuple[datetime, datetime] | None, spans: list[tuple[datetime, datetime]]) -> bool:
    return bounds is not None and any(lo <= bounds[0] and bounds[1] < hi for lo, hi in spans)


def _no_retry(table: Table) -> Table:
    """``table`` with pyiceberg's in-transaction commit retries off, in memory only."""
    from pyiceberg.table import Table

    properties = {**table.metadata.properties, "commit.retry.num-retries": "0"}
    metadata = table.metadata.model_copy(update={"properties": properties})
    return Table(table.name(), metadata, table.metadata_location, table.io, table.catalog)


def apply_group(
    table: Table, group: Sequence[GroupItem], staged: Mapping[str, DataFile], window_field: str = "created_at"
) -> tuple[int | None, list[WindowOutcome]]:
    """Commit ``group`` onto ``table``'s current snapshot in one snapshot (see :mod:`.sink`).

    :param table: the table, freshly loaded.
    :param group: the windows, fully read and staged.
    :param staged: the data file entry of every staged path.
    :param window_field: the table's window field (the timestamp column its windows and partitions cut).
    :return: the new snapshot id (``None`` when nothing changed) and each window's outcome, in order.
    :raises pyiceberg.exceptions.CommitFailedException: another writer committed first.
    """
    committed = committed_reads(table)
    outcomes: list[WindowOutcome] = []
    writing: list[GroupItem] = []
    for item in group:
        kept = newer_read(item.window, item.read_started, committed)
        if kept is not None:
            outcomes.append(WindowOutcome(item.window, committed=False, kept_read_started=kept))
            continue
        files = list(item.staged)
        outcomes.append(
            WindowOutcome(
                item.window,
                committed=True,
                records=sum(p.records for p in item.parts),
                size=sum(p.size for p in item.parts),
                files=files,
            )
        )
        writing.append(item)
    if not writing:
        return None, outcomes
    current = _current_files(table, [item.window for item in writing], window_field)
    new_paths = {p for item in writing for p in item.staged}
    spans = _spans([item.window for item in writing])
    deletes, rewrites, kept_paths = [], [], set()
    for path, task in current:
        if path in new_paths:
            kept_paths.add(path)
        elif not task.delete_files and _inside(_bounds(table, task.file, window_field), spans):
            deletes.append(task.file)
        else:
            rewrites.append(task)
    properties = {read_started_key(item.window): format_timestamp(item.read_started) for item in writing}
    unchanged = not deletes and not rewrites and kept_paths == new_paths
    if unchanged and all(committed.get(item.window) == item.read_started for item in writing):
        return None, outcomes
    for outcome in outcomes:
        if outcome.committed:
            window = _spans([outcome.window])
            outcome.removed = sum(1 for f in deletes if _inside(_bounds(table, f, window_field), window))
    adds = [staged[p] for p in sorted(new_paths - kept_paths)]
    snapshot_id = _commit(table, properties, deletes, rewrites, adds, writing, window_field)
    return snapshot_id, outcomes


def _current_files(table: Table, windows: list[Window], window_field: str) -> list[tuple[str, FileScanTask]]:
    """The live data files that may hold rows of ``windows`` (by partition and statistics)."""
    if table.current_snapshot() is None:
        return []
    tasks = table.scan(row_filter=window_filter(windows, window_field)).plan_files()
    return sorted(((t.file.file_path, t) for t in tasks), key=lambda pt: pt[0])


def _commit(
    table: Table,
    properties: dict[str, str],
    deletes: list[DataFile],
    rewrites: list[FileScanTask],
    adds: list[DataFile],
    writing: Sequence[GroupItem],
    window_field: str,
) -> int:
    """One ``overwrite`` snapshot: drop ``deletes``, rewrite ``rewrites`` without the windows' rows, add ``adds``."""
    tx = _no_retry(table).transaction()
    windows = [item.window for item in writing]
    replaced = _rewritten(table, rewrites, windows, window_field) if rewrites else []
    with tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for data_file in deletes:
            overwrite.delete_data_file(data_file)
        for original, new_files in replaced:
            overwrite.delete_data_file(original)
            for data_file in new_files:
                overwrite.append_data_file(data_file)
        for data_file in adds:
            overwrite.append_data_file(data_file)
        snapshot_id = overwrite.snapshot_id
    tx.commit_transaction()
    return snapshot_id


def _rewritten(
    table: Table, tasks: list[FileScanTask], windows: list[Window], window_field: str
) -> list[tuple[DataFile, list[DataFile]]]:
    """Each file spanning a window edge, and its rows outside ``windows`` written as new data files."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.expressions.visitors import bind
    from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files, _expression_to_complementary_pyarrow

    metadata = table.metadata
    keep = _expression_to_complementary_pyarrow(
        bind(metadata.schema(), window_filter(windows, window_field), True), metadata.schema()
    )
    counter, write_uuid = itertools.count(0), uuid.uuid4()
    out: list[tuple[DataFile, list[DataFile]]] = []
    for task in tasks:
        rows = ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue()).to_table(tasks=[task])
        kept = rows.filter(keep)
        if len(kept) == len(rows):
            continue
        files: list[Any] = []
        if len(kept):
            files = list(_dataframe_to_data_files(metadata, kept, table.io, write_uuid=write_uuid, counter=counter))
        out.append((task.file, files))
    return out


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc) - _EPOCH
