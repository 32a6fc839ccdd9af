"""Both Iceberg operators inside real DAG runs (dag.test()): the fake API over HTTP, a SQLite catalog over moto S3."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.lake.parquet import to_row
from airflow_provider_conversations.testing import generate_conversations
from tests.conftest import TOKEN
from tests.integration.conftest import run_dag_source
from tests.lake.iceberg.readers import duckdb_ids, duplicated

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)  # the data interval of the daily run at DAY + 1 day
CHANGED_AT = datetime(2025, 2, 1, tzinfo=UTC)
TABLE = "lake.conversations"

pytestmark = pytest.mark.usefixtures("airflow_db")

EXPORT = (
    "from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator\n"
    "    ConversationsToIcebergOperator(task_id='export', table={table!r}, window_size=datetime.timedelta(hours=1),"
    " commit_group_size=6, max_records_per_file=50)"
)
SYNC = (
    "from airflow_provider_conversations.operators.conversations_changes_to_iceberg import "
    "ConversationsChangesToIcebergOperator\n"
    "    ConversationsChangesToIcebergOperator(task_id='sync', table={table!r}, window_size=datetime.timedelta(hours=1))"
)


@pytest.fixture
def api(conversations_api_factory, set_conn):
    records = generate_conversations(600, seed=4, start=DAY, end=DAY + timedelta(days=1))
    for r in records:
        r["updated_at"] = r["created_at"]
    api = conversations_api_factory(records=records, token=TOKEN, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def table_rows(catalog) -> list[dict]:
    return sorted(catalog.load_table(TABLE).scan().to_arrow().to_pylist(), key=lambda r: r["id"])


def api_rows(api) -> list[dict]:
    return sorted((to_row(r) for r in api.records()), key=lambda r: r["id"])


def test_daily_export_dag_run_writes_the_day_and_its_rerun_converges(api, catalog, s3_endpoint):
    _run, tis = run_dag_source("t_ice_export", DAY + timedelta(days=1), EXPORT.format(table=TABLE))
    ti = tis["export"]
    assert ti.state == "success", ti.state
    out = ti.xcom_pull(task_ids="export")
    table = catalog.load_table(TABLE)
    assert out["snapshot_id"] == table.current_snapshot().snapshot_id and out["commits"] == 4
    assert out["records"] == 600 and len(out["windows"]) == 24
    assert table_rows(catalog) == api_rows(api)
    ids = duckdb_ids(table.metadata_location, s3_endpoint)
    assert duplicated(ids) == [] and len(ids) == 600
    files = {t.file.file_path for t in table.scan().plan_files()}
    _run, tis = run_dag_source("t_ice_export_again", DAY + timedelta(days=1), EXPORT.format(table=TABLE))
    assert tis["export"].state == "success"
    assert {t.file.file_path for t in catalog.load_table(TABLE).scan().plan_files()} == files
    assert table_rows(catalog) == api_rows(api)


def test_hourly_change_sync_dag_run_commits_one_snapshot(api, catalog, s3_endpoint):
    assert run_dag_source("t_ice_backfill", DAY + timedelta(days=1), EXPORT.format(table=TABLE))[1]["export"].state == (
        "success"
    )
    records = api.records()
    before = len(catalog.load_table(TABLE).snapshots())
    api.update_record(records[5]["id"], {"title": "edited"}, updated_at=CHANGED_AT + timedelta(minutes=5))
    moved = records[-1]  # back-dated from the day's last hour into its first
    api.update_record(moved["id"], {"created_at": "2025-01-03T00:30:00Z"}, updated_at=CHANGED_AT + timedelta(minutes=6))
    api.insert_records(
        [{**records[9], "id": "new-1", "title": "inserted"}], updated_at=CHANGED_AT + timedelta(minutes=7)
    )
    _run, tis = run_dag_source("t_ice_sync", CHANGED_AT + timedelta(days=1), SYNC.format(table=TABLE))
    ti = tis["sync"]
    assert ti.state == "success", ti.state
    out = ti.xcom_pull(task_ids="sync")
    table = catalog.load_table(TABLE)
    assert len(table.snapshots()) == before + 1 and out["snapshot_id"] == table.current_snapshot().snapshot_id
    assert out["changed"] == 3 and out["skipped_older_read"] == 0
    assert {w["created_at_gte"][11:13] for w in out["windows"]} >= {"00", "23"}
    assert table_rows(catalog) == api_rows(api)
    assert sorted(duckdb_ids(table.metadata_location, s3_endpoint)) == [r["id"] for r in api_rows(api)]
