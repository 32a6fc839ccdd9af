"""Invariants of the table under an export and a change sync, checked snapshot by snapshot.

No snapshot holds an id twice, and every window of every snapshot equals one complete read of the API
(its content before or after the changes); a reader scanning the table while the sync commits sees
only such snapshots.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.lake.iceberg.reads import committed_reads
from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
from airflow_provider_conversations.lake.parquet import to_row
from airflow_provider_conversations.lake.windows import Window, split_windows, window_of
from airflow_provider_conversations.reading.ranges import record_created_at
from airflow_provider_conversations.testing import format_timestamp, generate_conversations
from tests.conftest import TOKEN
from tests.lake.iceberg.driver import change_sync, export
from tests.lake.iceberg.readers import duckdb_ids, duplicated

UTC = timezone.utc
DAY = datetime(2025, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
WINDOWS = split_windows(DAY, DAY + timedelta(days=1), HOUR)
CHANGED_AT = datetime(2025, 4, 1, tzinfo=UTC)


@pytest.fixture
def api(conversations_api_factory, set_conn):
    records = generate_conversations(400, seed=11, start=DAY, end=DAY + timedelta(days=1))
    for r in records:
        r["updated_at"] = r["created_at"]
    api = conversations_api_factory(records=records, token=TOKEN)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def by_window(records: list[dict]) -> dict[Window, list[dict]]:
    out: dict[Window, list[dict]] = {w: [] for w in WINDOWS}
    for r in records:
        out[window_of(record_created_at(r), HOUR)].append(to_row(r))
    return {w: sorted(rows, key=lambda r: r["id"]) for w, rows in out.items()}


def change_the_api(api) -> None:
    """Updates, inserts and deletions before 20:00; back-dating of one conversation of each of 21, 22 and 23 h into 03-05 h.

    No other change touches the back-dated conversations' old windows: only the table knows them.
    """
    rng = random.Random(3)
    records = api.records()
    early = [r for r in records if record_created_at(r) < DAY + 20 * HOUR]
    at = iter(CHANGED_AT + timedelta(seconds=n) for n in range(1000))
    for r in rng.sample(early, 12):
        api.update_record(r["id"], {"title": f"edited {r['id'][:6]}"}, updated_at=next(at))
    for hour in (21, 22, 23):
        r = next(r for r in records if window_of(record_created_at(r), HOUR).start == DAY + hour * HOUR)
        api.update_record(
            r["id"], {"created_at": format_timestamp(record_created_at(r) - 18 * HOUR)}, updated_at=next(at)
        )
    inserted = [{**r, "id": f"new-{n:03d}", "title": "inserted"} for n, r in enumerate(rng.sample(early, 4))]
    api.insert_records(inserted, updated_at=next(at))
    # a deletion shows when another change touches its window
    first = window_of(record_created_at(inserted[0]), HOUR)
    gone = [r["id"] for r in early if window_of(record_created_at(r), HOUR) == first][:2]
    api.delete_records(gone)


def test_no_snapshot_holds_an_id_twice_or_a_torn_window(api, catalog, s3_endpoint):
    dest = IcebergDestination(catalog, "lake", "conversations")
    export(ConversationsHook(), dest, WINDOWS, group_size=5)
    before = by_window(api.records())
    change_the_api(api)
    after = by_window(api.records())

    seen: dict[int, list[str]] = {}
    stop = threading.Event()

    def reader() -> None:  # scans every new snapshot while the sync commits
        while not stop.is_set():
            table = catalog.load_table("lake.conversations")
            snapshot = table.current_snapshot()
            if snapshot and snapshot.snapshot_id not in seen:
                seen[snapshot.snapshot_id] = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow()["id"].to_pylist()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = change_sync(ConversationsHook(), dest, CHANGED_AT, CHANGED_AT + timedelta(days=1), HOUR)
    finally:
        stop.set()
        thread.join()
    assert result is not None and all(o.committed for o in result.windows)
    table = catalog.load_table("lake.conversations")
    assert result.snapshot_id in seen and len(seen) >= 2
    for ids in seen.values():
        assert duplicated(ids) == []

    for snapshot in table.snapshots():
        rows = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow().to_pylist()
        assert duplicated([r["id"] for r in rows]) == [], snapshot.snapshot_id
        written = committed_reads(table, snapshot.snapshot_id)
        got = {w: [] for w in WINDOWS}
        for r in rows:
            got[window_of(r["created_at"], HOUR)].append(r)
        for w in WINDOWS:
            window_rows = sorted(got[w], key=lambda r: r["id"])
            if w in written:
                assert window_rows in (before[w], after[w]), (snapshot.snapshot_id, w)
            else:
                assert window_rows == []
    final = sorted(r["id"] for r in table.scan().to_arrow().to_pylist())
    assert final == sorted(r["id"] for rows in after.values() for r in rows)
    assert sorted(duckdb_ids(table.metadata_location, s3_endpoint)) == final
