"""ConversationsChangesToIcebergOperator: updates, inserts, deletions and back-dating in one snapshot, while a reader scans."""

from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsFilterError
from airflow_provider_conversations.lake.iceberg.reads import committed_reads
from airflow_provider_conversations.lake.parquet import to_row
from airflow_provider_conversations.lake.windows import Window, split_windows, window_of
from airflow_provider_conversations.operators.conversations_changes_to_iceberg import (
    ConversationsChangesToIcebergOperator,
)
from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator
from airflow_provider_conversations.reading.ranges import record_created_at
from airflow_provider_conversations.testing import format_timestamp, generate_conversations
from tests.conftest import TOKEN
from tests.lake.iceberg.readers import duckdb_ids, duplicated

UTC = timezone.utc
DAY = datetime(2025, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
WINDOWS = split_windows(DAY, DAY + timedelta(days=1), HOUR)
CHANGED_AT = datetime(2025, 4, 1, tzinfo=UTC)
TABLE = "lake.conversations"


@pytest.fixture
def api(conversations_api_factory, set_conn):
    records = generate_conversations(400, seed=11, start=DAY, end=DAY + timedelta(days=1))
    for r in records:
        r["updated_at"] = r["created_at"]
    api = conversations_api_factory(records=records, token=TOKEN, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def backfill() -> dict:
    op = ConversationsToIcebergOperator(task_id="backfill", table=TABLE, window_size=HOUR, commit_group_size=6)
    return op.execute({"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)})


def sync(start: datetime = CHANGED_AT, end: datetime = CHANGED_AT + timedelta(days=1), **kwargs) -> dict:
    op = ConversationsChangesToIcebergOperator(
        task_id="sync", table=TABLE, window_size=HOUR, max_records_per_file=7, commit_group_size=2, **kwargs
    )
    return op.execute({"data_interval_start": start, "data_interval_end": end})


def by_window(rows: list[dict]) -> dict[Window, list[dict]]:
    out: dict[Window, list[dict]] = {w: [] for w in WINDOWS}
    for r in rows:
        out[window_of(r["created_at"], HOUR)].append(r)
    return {w: sorted(rs, key=lambda r: r["id"]) for w, rs in out.items()}


def api_rows(api) -> dict[Window, list[dict]]:
    return by_window([to_row(r) for r in api.records()])


def change_the_api(api) -> dict[str, set[Window]]:
    """Updates, inserts and deletions before 20:00; one conversation of each of 21, 22 and 23 h back-dated to 03-05 h.

    No other change touches the back-dated conversations' old windows: only the table knows them.
    """
    rng = random.Random(3)
    records = api.records()
    early = [r for r in records if record_created_at(r) < DAY + 20 * HOUR]
    at = iter(CHANGED_AT + timedelta(seconds=n) for n in range(1000))
    touched: set[Window] = set()
    for r in rng.sample(early, 12):
        api.update_record(r["id"], {"title": f"edited {r['id'][:6]}"}, updated_at=next(at))
        touched.add(window_of(record_created_at(r), HOUR))
    left: set[Window] = set()
    for hour in (21, 22, 23):
        r = next(r for r in records if window_of(record_created_at(r), HOUR).start == DAY + hour * HOUR)
        moved = record_created_at(r) - 18 * HOUR
        api.update_record(r["id"], {"created_at": format_timestamp(moved)}, updated_at=next(at))
        left.add(window_of(record_created_at(r), HOUR))
        touched.add(window_of(moved, HOUR))
    inserted = [{**r, "id": f"new-{n:03d}", "title": "inserted"} for n, r in enumerate(rng.sample(early, 4))]
    api.insert_records(inserted, updated_at=next(at))
    touched |= {window_of(record_created_at(r), HOUR) for r in inserted}
    first = window_of(record_created_at(inserted[0]), HOUR)  # a deletion shows when another change touches its window
    api.delete_records([r["id"] for r in early if window_of(record_created_at(r), HOUR) == first][:2])
    return {"touched": touched, "left": left}


def test_change_sync_commits_every_touched_window_in_one_snapshot_while_a_reader_scans(api, catalog, s3_endpoint):
    backfill()
    before = api_rows(api)
    change = change_the_api(api)
    after = api_rows(api)
    table = catalog.load_table(TABLE)
    snapshots_before = {s.snapshot_id for s in table.snapshots()}
    seen: dict[int, list[dict]] = {}
    stop = threading.Event()

    def reader() -> None:  # scans every new snapshot while the sync reads and commits, and once after it
        done = False
        while not done:
            done = stop.is_set()
            current = catalog.load_table(TABLE)
            snapshot = current.current_snapshot()
            if snapshot and snapshot.snapshot_id not in seen:
                seen[snapshot.snapshot_id] = current.scan(snapshot_id=snapshot.snapshot_id).to_arrow().to_pylist()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        out = sync()
    finally:
        stop.set()
        thread.join()

    table = catalog.load_table(TABLE)
    (new,) = [s.snapshot_id for s in table.snapshots() if s.snapshot_id not in snapshots_before]
    assert out["snapshot_id"] == new == table.current_snapshot().snapshot_id and out["commits"] == 1
    assert out["changed"] == 12 + 3 + 4 and out["skipped_older_read"] == 0
    rewritten = {w for w in WINDOWS if any(s["created_at_gte"] == format_timestamp(w.start) for s in out["windows"])}
    assert rewritten == change["touched"] | change["left"]
    assert out["records"] == sum(len(after[w]) for w in rewritten)
    assert all(s["keys"] for s in out["windows"] if s["records"]) and "outcome" not in json.dumps(out)
    assert new in seen
    for snapshot_id, rows in seen.items():  # the reader saw the table before the sync or after it, whole
        assert duplicated([r["id"] for r in rows]) == []
        assert by_window(rows) in (before, after), snapshot_id
    assert by_window(seen[new]) == after
    final = table.scan().to_arrow().to_pylist()
    assert by_window(final) == after
    assert sorted(duckdb_ids(table.metadata_location, s3_endpoint)) == sorted(r["id"] for r in final)
    assert set(committed_reads(table)) == set(WINDOWS)


def test_rerun_of_a_change_sync_converges_with_the_same_data_files(api, catalog):
    backfill()
    left = {format_timestamp(w.start) for w in change_the_api(api)["left"]}
    first = sync()
    files = {t.file.file_path for t in catalog.load_table(TABLE).scan().plan_files()}
    again = sync()
    table = catalog.load_table(TABLE)
    assert again["snapshot_id"] == table.current_snapshot().snapshot_id != first["snapshot_id"]
    assert {t.file.file_path for t in table.scan().plan_files()} == files  # the same bytes, the same files
    # the windows the back-dated conversations left are not touched again: the table no longer holds them there
    assert again["windows"] == [w for w in first["windows"] if w["created_at_gte"] not in left]
    assert by_window(table.scan().to_arrow().to_pylist()) == api_rows(api)


def test_a_later_export_wins_the_window_and_the_sync_keeps_it(api, catalog):
    backfill()
    change_the_api(api)
    op = ConversationsChangesToIcebergOperator(task_id="sync", table=TABLE, window_size=HOUR)
    real = op.open_destination

    def open_destination(*args, **kwargs):
        destination = real(*args, **kwargs)
        finish = destination.finish

        def export_then_finish() -> None:  # a later read commits every window before the sync's snapshot
            backfill()
            finish()

        destination.finish = export_then_finish
        return destination

    op.open_destination = open_destination  # type: ignore[method-assign]
    out = op.execute({"data_interval_start": CHANGED_AT, "data_interval_end": CHANGED_AT + timedelta(days=1)})
    assert out["skipped_older_read"] == len(out["windows"]) > 0 and out["snapshot_id"] is None
    assert all(w["outcome"] == "skipped_older_read" and w["keys"] == [] for w in out["windows"])
    assert by_window(catalog.load_table(TABLE).scan().to_arrow().to_pylist()) == api_rows(api)


def test_a_sync_that_fails_after_some_windows_were_read_commits_nothing(api, catalog):
    backfill()
    change_the_api(api)
    head = catalog.load_table(TABLE).current_snapshot().snapshot_id
    op = ConversationsChangesToIcebergOperator(task_id="sync", table=TABLE, window_size=HOUR)
    real, calls = op._export, []

    def export_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first run of windows is read, staged and handed over; the API fails now
            api.faults.error_rate = 1.0
        return real(*args, **kwargs)

    op._export = export_then_fail  # type: ignore[method-assign]
    with pytest.raises(ConversationsAPIError):
        op.execute({"data_interval_start": CHANGED_AT, "data_interval_end": CHANGED_AT + timedelta(days=1)})
    assert len(calls) == 2
    assert catalog.load_table(TABLE).current_snapshot().snapshot_id == head
    api.faults.error_rate = 0.0
    sync()
    assert by_window(catalog.load_table(TABLE).scan().to_arrow().to_pylist()) == api_rows(api)


def test_range_filters_are_refused_at_construction():
    with pytest.raises(ConversationsFilterError, match="created_at"):
        ConversationsChangesToIcebergOperator(task_id="x", table=TABLE, filters={"created_at_gte": "2025-01-01"})
