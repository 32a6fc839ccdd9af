"""Snapshot expiry: the function on a real table, the operator's checks and its run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.lake.iceberg.catalog import ConversationsIcebergError
from airflow_provider_conversations.lake.iceberg.maintenance import expire_snapshots
from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
from airflow_provider_conversations.lake.windows import split_windows
from airflow_provider_conversations.operators.conversations_iceberg_maintenance import (
    ConversationsIcebergMaintenanceOperator,
)
from airflow_provider_conversations.testing import generate_conversations
from tests.conftest import TOKEN
from tests.lake.iceberg.driver import export
from tests.lake.iceberg.readers import expected_rows, pyiceberg_rows

UTC = timezone.utc
DAY = datetime(2025, 1, 1, tzinfo=UTC)
WINDOWS = split_windows(DAY, DAY + timedelta(days=3), timedelta(days=1))


@pytest.fixture
def table_with_snapshots(conversations_api_factory, set_conn, catalog):
    """A table whose three windows were committed one snapshot each, twice (six snapshots)."""
    api = conversations_api_factory(
        records=generate_conversations(200, seed=5, start=DAY, end=DAY + timedelta(days=3)), token=TOKEN
    )
    set_conn(api.url, TOKEN, backoff_base=0.01)
    dest = IcebergDestination(catalog, "lake", "conversations")
    for _ in range(2):
        export(ConversationsHook(), dest, WINDOWS, group_size=1)
    assert len(catalog.load_table("lake.conversations").snapshots()) == 6
    return api


def test_expiry_keeps_the_newest_snapshots_and_the_table_reads_the_same(table_with_snapshots, catalog):
    table = catalog.load_table("lake.conversations")
    newest = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)[-2:]
    result = expire_snapshots(
        catalog, "lake.conversations", cutoff=datetime.now(UTC) + timedelta(days=1), retain_last=2
    )
    table = catalog.load_table("lake.conversations")
    assert len(result.expired) == 4 and result.retained == 2
    assert {s.snapshot_id for s in table.snapshots()} == {s.snapshot_id for s in newest}
    assert result.current_snapshot_id == table.current_snapshot().snapshot_id == newest[-1].snapshot_id
    rows = sorted(pyiceberg_rows(table), key=lambda r: r["id"])
    assert rows == expected_rows(table_with_snapshots.records())


def test_expiry_before_every_snapshot_expires_nothing(table_with_snapshots, catalog):
    result = expire_snapshots(catalog, "lake.conversations", cutoff=DAY, retain_last=1)
    assert result.expired == [] and result.retained == 6


def test_the_operator_keeps_snapshots_younger_than_expire_older_than(table_with_snapshots, catalog):
    op = ConversationsIcebergMaintenanceOperator(task_id="expire", table="lake.conversations")
    out = op.execute({})
    json.dumps(out)
    assert out == {
        "table": "lake.conversations",
        "expired": [],
        "retained": 6,
        "snapshot_id": catalog.load_table("lake.conversations").current_snapshot().snapshot_id,
    }


def test_the_operator_refuses_a_missing_table(iceberg_conn):
    with pytest.raises(ConversationsIcebergError, match=r"lake\.absent does not exist"):
        ConversationsIcebergMaintenanceOperator(task_id="expire", table="lake.absent").execute({})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"table": "conversations"}, "table: 'conversations' has no namespace"),
        ({"table": "lake.c", "expire_older_than": timedelta(minutes=5)}, "expire_older_than: expected a timedelta"),
        ({"table": "lake.c", "expire_older_than": 7}, "expire_older_than: expected a timedelta"),
        ({"table": "lake.c", "retain_last": 0}, "retain_last: expected an int of at least 1"),
        ({"table": "lake.c", "retain_last": True}, "retain_last: expected an int of at least 1"),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs, message):
    with pytest.raises(ConversationsFilterError, match=message):
        ConversationsIcebergMaintenanceOperator(task_id="expire", **kwargs)
