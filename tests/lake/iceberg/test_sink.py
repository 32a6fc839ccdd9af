"""IcebergDestination: staged parts, one snapshot per group, the read order, against moto S3 and a SQLite catalog."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.lake.iceberg.reads import READ_STARTED, committed_reads
from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
from airflow_provider_conversations.lake.windows import Window, split_windows
from airflow_provider_conversations.testing import generate_conversations
from tests.conftest import TOKEN
from tests.lake.iceberg.driver import export, read_windows, stage_window
from tests.lake.iceberg.readers import duckdb_ids, duplicated, expected_rows, polars_ids, pyiceberg_rows

UTC = timezone.utc
DAY = datetime(2025, 1, 1, tzinfo=UTC)
WINDOWS = split_windows(DAY, DAY + timedelta(days=3), timedelta(days=1))


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(
        records=generate_conversations(300, seed=5, start=DAY, end=DAY + timedelta(days=2)), token=TOKEN
    )
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


@pytest.fixture
def dest(catalog) -> IcebergDestination:
    return IcebergDestination(catalog, "lake", "conversations")


def reload(dest: IcebergDestination):
    return dest.catalog.load_table(dest.identifier)


def assert_table_equals_api(table, api, s3_endpoint: str) -> None:
    rows = pyiceberg_rows(table)
    assert sorted(rows, key=lambda r: r["id"]) == expected_rows(api.records())
    ids = sorted(r["id"] for r in rows)
    assert sorted(duckdb_ids(table.metadata_location, s3_endpoint)) == ids
    assert sorted(polars_ids(table, s3_endpoint)) == ids
    assert duplicated(ids) == []


def test_export_commits_each_group_in_one_snapshot_and_every_reader_sees_the_api(api, dest, s3_endpoint):
    results = export(ConversationsHook(), dest, WINDOWS, group_size=2)
    table = reload(dest)
    assert [r.snapshot_id for r in results] == [s.snapshot_id for s in table.snapshots()]
    assert all(o.committed for r in results for o in r.windows)
    assert_table_equals_api(table, api, s3_endpoint)
    # the empty third day has its read recorded too
    assert set(committed_reads(table)) == set(WINDOWS)
    assert table.spec().fields[0].name == "created_at_day"


def test_rerun_of_unchanged_api_converges_without_new_data_files(api, dest, s3_endpoint):
    export(ConversationsHook(), dest, WINDOWS)
    files = {t.file.file_path for t in reload(dest).scan().plan_files()}
    export(ConversationsHook(), dest, WINDOWS)
    table = reload(dest)
    assert {t.file.file_path for t in table.scan().plan_files()} == files
    assert_table_equals_api(table, api, s3_endpoint)


def test_rerun_after_changes_replaces_whole_windows(api, dest, s3_endpoint):
    export(ConversationsHook(), dest, WINDOWS)
    records = api.records()
    api.update_record(records[0]["id"], {"title": "edited"}, updated_at=DAY + timedelta(days=5))
    api.delete_records([records[-1]["id"]])
    api.insert_records([{**records[1], "id": "new-one", "title": "inserted"}], updated_at=DAY + timedelta(days=5))
    export(ConversationsHook(), dest, WINDOWS)
    assert_table_equals_api(reload(dest), api, s3_endpoint)


def test_an_older_read_never_replaces_a_newer_one(api, dest, tmp_path: Path):
    dest.check(WINDOWS)
    window = WINDOWS[0]
    old_records = read_windows(ConversationsHook(), [window])[window]
    api.update_record(old_records[0]["id"], {"title": "newer"}, updated_at=DAY + timedelta(days=5))
    new_records = read_windows(ConversationsHook(), [window])[window]
    t0 = datetime.now(UTC)
    older = stage_window(dest, window, old_records, t0, tmp_path / "old")
    newer = stage_window(dest, window, new_records, t0 + timedelta(seconds=1), tmp_path / "new")
    assert dest.commit_group([newer]).windows[0].committed
    result = dest.commit_group([older])
    assert not result.windows[0].committed and result.snapshot_id is None
    assert result.windows[0].kept_read_started == t0 + timedelta(seconds=1)
    table = reload(dest)
    assert {r["title"] for r in pyiceberg_rows(table) if r["id"] == old_records[0]["id"]} == {"newer"}
    live = {t.file.file_path for t in table.scan().plan_files()}
    assert live == set(newer.staged)


def test_two_tasks_on_one_window_the_later_read_wins_whole_and_neither_fails(api, dest, catalog, tmp_path: Path):
    dest.check(WINDOWS)
    window = WINDOWS[0]
    records = read_windows(ConversationsHook(), [window])[window]
    t0 = datetime.now(UTC)
    edited = [{**r, "title": f"second {r['id']}"} for r in records]
    dests = [IcebergDestination(catalog, "lake", "conversations") for _ in range(2)]
    items = []
    for n, (d, recs) in enumerate(zip(dests, [records, edited])):
        d.check(WINDOWS)
        items.append(stage_window(d, window, recs, t0 + timedelta(seconds=n), tmp_path / str(n)))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def commit(d, item):
        barrier.wait()
        try:
            d.commit_group([item])
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=commit, args=(d, i)) for d, i in zip(dests, items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = pyiceberg_rows(reload(dest))
    assert sorted(r["title"] for r in rows) == sorted(r["title"] for r in edited)


def test_a_killed_export_leaves_only_unreferenced_files(api, dest, tmp_path: Path, s3_endpoint):
    export(ConversationsHook(), dest, WINDOWS)
    table = reload(dest)
    before = (table.current_snapshot().snapshot_id, sorted(r["id"] for r in pyiceberg_rows(table)))
    api.update_record(api.records()[0]["id"], {"title": "later"}, updated_at=DAY + timedelta(days=5))
    window = WINDOWS[0]
    staged = stage_window(
        dest, window, read_windows(ConversationsHook(), [window])[window], datetime.now(UTC), tmp_path
    )
    table = reload(dest)  # the task dies here: staged, never committed
    assert (table.current_snapshot().snapshot_id, sorted(r["id"] for r in pyiceberg_rows(table))) == before
    live = {t.file.file_path for t in table.scan().plan_files()}
    assert set(staged.staged) - live and all(table.io.new_input(p).exists() for p in staged.staged)
    export(ConversationsHook(), dest, WINDOWS)  # the retry
    assert_table_equals_api(reload(dest), api, s3_endpoint)


def test_a_file_spanning_window_edges_is_rewritten_without_the_windows_rows(api, dest, tmp_path: Path):
    hours = split_windows(DAY, DAY + timedelta(hours=4), timedelta(hours=1))
    dest.check(hours)
    by_window = read_windows(ConversationsHook(), hours)
    t0 = datetime.now(UTC)
    # one file for four hours, as a compaction leaves it
    wide = stage_window(
        dest,
        Window(DAY, DAY + timedelta(hours=4)),
        [r for w in hours for r in by_window[w]],
        t0,
        tmp_path / "wide",
        max_records=10_000,
    )
    wide.read_started = t0
    dest.commit_group([wide])
    fresh = stage_window(dest, hours[1], by_window[hours[1]][1:], t0 + timedelta(seconds=1), tmp_path / "h1")
    result = dest.commit_group([fresh])
    assert result.windows[0].committed
    ids = sorted(r["id"] for r in pyiceberg_rows(reload(dest)))
    expected = sorted(r["id"] for w in hours for r in by_window[w] if r is not by_window[hours[1]][0])
    assert ids == expected


def test_summary_records_the_read_start_of_each_committed_window(api, dest):
    started = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    export(ConversationsHook(), dest, WINDOWS[:2], group_size=2, read_started=started)
    summary = reload(dest).current_snapshot().summary.additional_properties
    keys = sorted(k for k in summary if k.startswith(READ_STARTED))
    assert keys == [
        f"{READ_STARTED}2025-01-01T00:00:00.000000Z/2025-01-02T00:00:00.000000Z",
        f"{READ_STARTED}2025-01-02T00:00:00.000000Z/2025-01-03T00:00:00.000000Z",
    ]
    assert {summary[k] for k in keys} == {"2026-01-02T03:04:05.678901Z"}


def test_single_snapshot_mode_defers_every_commit_to_finish_and_updates_the_results(api, catalog, tmp_path: Path):
    dest = IcebergDestination(catalog, "lake", "conversations", single_snapshot=True)
    dest.check(WINDOWS)
    by_window = read_windows(ConversationsHook(), WINDOWS)
    t0 = datetime.now(UTC)
    items = [stage_window(dest, w, by_window[w], t0, tmp_path) for w in WINDOWS]
    pending = dest.commit(items[:2]) + dest.commit(items[2:])
    assert reload(dest).current_snapshot() is None  # uploaded, not committed
    assert [r.keys for r in pending] == [i.staged for i in items]
    dest.finish()
    table = reload(dest)
    assert [s.snapshot_id for s in table.snapshots()] == [dest.snapshot_id] and len(dest.commits) == 1
    assert dest.deferred_results == pending and all(r.committed for r in pending)
    assert set(committed_reads(table)) == set(WINDOWS)
    assert sorted(r["id"] for r in pyiceberg_rows(table)) == sorted(r["id"] for w in WINDOWS for r in by_window[w])
    dest.finish()  # nothing left to commit
    assert len(reload(dest).snapshots()) == 1


def test_single_snapshot_mode_keeps_a_window_read_later_and_commits_the_others(api, catalog, tmp_path: Path):
    dest = IcebergDestination(catalog, "lake", "conversations", single_snapshot=True)
    dest.check(WINDOWS)
    by_window = read_windows(ConversationsHook(), WINDOWS)
    t0 = datetime.now(UTC)
    pending = dest.commit([stage_window(dest, w, by_window[w], t0, tmp_path / "sync") for w in WINDOWS[:2]])
    other = IcebergDestination(catalog, "lake", "conversations")
    other.check(WINDOWS)
    later = stage_window(other, WINDOWS[1], by_window[WINDOWS[1]][1:], t0 + timedelta(seconds=1), tmp_path / "other")
    other.commit_group([later])
    dest.finish()
    assert [r.outcome.value for r in pending] == ["committed", "skipped_older_read"]
    assert pending[1].keys == [] and pending[0].keys
    ids = {r["id"] for r in pyiceberg_rows(reload(dest))}
    assert ids == {r["id"] for r in by_window[WINDOWS[0]]} | {r["id"] for r in by_window[WINDOWS[1]][1:]}
