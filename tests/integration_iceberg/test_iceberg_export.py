"""ConversationsToIcebergOperator: an export, a rerun, and every bad input refused before any API request."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.iceberg.catalog import ConversationsIcebergError
from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator
from airflow_provider_conversations.testing import generate_conversations
from tests.conftest import TOKEN
from tests.lake.iceberg.readers import duckdb_ids, duplicated, expected_rows, pyiceberg_rows

UTC = timezone.utc
DAY = datetime(2025, 5, 1, tzinfo=UTC)
CONTEXT = {"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=4)}


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(
        records=generate_conversations(500, seed=9, start=DAY, end=DAY + timedelta(days=3)), token=TOKEN
    )
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def run(**kwargs) -> dict:
    kwargs.setdefault("table", "lake.conversations")
    op = ConversationsToIcebergOperator(task_id="export", commit_group_size=2, max_records_per_file=120, **kwargs)
    return op.execute(dict(CONTEXT))


def test_export_writes_the_table_in_groups_of_windows_and_reports_the_snapshot(api, catalog, s3_endpoint):
    out = run()
    table = catalog.load_table("lake.conversations")
    assert out["snapshot_id"] == table.current_snapshot().snapshot_id
    assert out["table"] == "lake.conversations" and out["records"] == 500 and out["commits"] == 2
    assert len(out["windows"]) == 4 and out["skipped_older_read"] == 0
    assert sum(len(w["keys"]) for w in out["windows"]) == len(list(table.scan().plan_files()))
    json.dumps(out)  # XCom-safe
    rows = pyiceberg_rows(table)
    assert sorted(rows, key=lambda r: r["id"]) == expected_rows(api.records())
    ids = duckdb_ids(table.metadata_location, s3_endpoint)
    assert duplicated(ids) == [] and sorted(ids) == sorted(r["id"] for r in rows)


def test_rerun_converges(api, catalog):
    run()
    api.update_record(api.records()[3]["id"], {"title": "changed"}, updated_at=DAY + timedelta(days=9))
    out = run()
    assert out["records"] == 500
    rows = pyiceberg_rows(catalog.load_table("lake.conversations"))
    assert sorted(rows, key=lambda r: r["id"]) == expected_rows(api.records())


def test_table_without_namespace_is_refused_at_construction():
    with pytest.raises(ConversationsFilterError, match="table: 'conversations' has no namespace"):
        ConversationsToIcebergOperator(task_id="x", table="conversations")


@pytest.mark.parametrize(
    ("conn", "error", "message"),
    [
        (None, ConversationsIcebergError, "is not defined"),
        ({"conn_type": "iceberg", "extra": {"type": "hadoop"}}, ConversationsFilterError, "unknown catalog type"),
        (
            {"conn_type": "iceberg", "host": "http://127.0.0.1:9", "extra": {"type": "rest"}},
            ConversationsIcebergError,
            "cannot be reached",
        ),
    ],
)
def test_bad_catalog_fails_before_any_api_request(api, monkeypatch, conn, error, message):
    if conn is None:
        monkeypatch.delenv("AIRFLOW_CONN_ICEBERG_DEFAULT", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_CONN_ICEBERG_DEFAULT", json.dumps(conn))
    with pytest.raises(error, match=message):
        run()
    assert api.request_log == []


def test_incompatible_table_fails_before_any_api_request_and_nothing_is_written(api, catalog):
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField

    catalog.create_namespace("lake")
    table = catalog.create_table("lake.conversations", Schema(NestedField(1, "id", LongType(), required=False)))
    with pytest.raises(ConversationsIcebergError, match="column 'id' is long, expected string"):
        run()
    assert api.request_log == []
    assert catalog.load_table("lake.conversations").metadata == table.metadata
