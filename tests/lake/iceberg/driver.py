"""A small export driver for the sink: read a range, route records into windows, stage Parquet parts, commit groups.

It stands in for the operators' export loop: the same calls into the destination, in the same order.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

from airflow_provider_conversations.lake.destination import WindowParts
from airflow_provider_conversations.lake.iceberg.reads import CommitResult
from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
from airflow_provider_conversations.lake.parquet import ParquetPartWriter
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.reading.ranges import record_created_at

Item = WindowParts


def read_windows(hook, windows: list[Window], filters=None) -> dict[Window, list[dict]]:
    """Every record of the windows' range, by window, each window sorted by (created_at, id)."""
    by_window: dict[Window, list[dict]] = {w: [] for w in windows}
    pages = hook.read_pages(filters, created_at_gte=windows[0].start, created_at_lt=windows[-1].end)
    for page in pages:
        for record in page.records:
            ts = record_created_at(record)
            (window,) = [w for w in windows if w.start <= ts < w.end]
            by_window[window].append(record)
    for records in by_window.values():
        records.sort(key=lambda r: (record_created_at(r), r["id"]))
    return by_window


def stage_window(
    dest: IcebergDestination,
    window: Window,
    records: list[dict],
    read_started: datetime,
    directory: Path,
    max_records: int = 40,
) -> Item:
    """Write a window's records into Parquet parts and stage each one."""
    workdir = directory / f"{window.start:%Y%m%d%H%M%S}-{window.end:%Y%m%d%H%M%S}"
    workdir.mkdir(parents=True, exist_ok=True)
    writer = ParquetPartWriter(workdir, compression=dest.compression, max_records=max_records)
    for record in records:
        writer.write(record)
    item = Item(window, read_started)
    for n, part in enumerate(writer.close()):
        item.parts.append(part)
        item.staged.append(dest.stage(window, n, part))
    return item


def export(
    hook,
    dest: IcebergDestination,
    windows: list[Window],
    *,
    group_size: int = 2,
    max_records: int = 40,
    read_started: datetime | None = None,
    filters=None,
) -> list[CommitResult]:
    """Check, read, stage and commit ``windows`` in groups of ``group_size``."""
    dest.check(windows)
    started = read_started or datetime.now(timezone.utc)
    by_window = read_windows(hook, windows, filters)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        items = [stage_window(dest, w, by_window[w], started, Path(tmp), max_records) for w in windows]
        for i in range(0, len(items), group_size):
            results.append(dest.commit_group(items[i : i + group_size]))
    return results


def change_sync(
    hook, dest: IcebergDestination, updated_gte: datetime, updated_lt: datetime, window_size, max_records: int = 40
) -> CommitResult | None:
    """Rewrite, in one snapshot, every window a conversation updated in the range is in now or was in before."""
    from airflow_provider_conversations.lake.windows import contiguous_runs, window_of

    dest.check([])
    started = datetime.now(timezone.utc)
    changed = [
        r for page in hook.read_pages(None, updated_at_gte=updated_gte, updated_at_lt=updated_lt) for r in page.records
    ]
    touched = {window_of(record_created_at(r), window_size) for r in changed}
    touched |= dest.windows_holding([r["id"] for r in changed], window_size)  # back-dated: the old window too
    if not touched:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for run in contiguous_runs(touched):
            by_window = read_windows(hook, run)
            items += [stage_window(dest, w, by_window[w], started, Path(tmp), max_records) for w in run]
        return dest.commit_group(items)
