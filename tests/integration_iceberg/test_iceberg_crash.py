"""A task killed (SIGKILL) mid-export leaves only unreferenced files, and a rerun converges.

The export runs in a child process against the fake API (over HTTP) and the embedded catalog (a
SQLite file, its warehouse on moto's S3 server over HTTP), both hosted by this test process. The
child kills itself at an exact point of a group commit after its first: once the group's data files
are staged, or once the new table metadata file is written but the catalog not yet switched to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

from airflow_provider_conversations.lake.iceberg.reads import committed_reads
from airflow_provider_conversations.lake.parquet import to_row
from airflow_provider_conversations.lake.windows import window_of
from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator
from airflow_provider_conversations.reading.ranges import record_created_at
from airflow_provider_conversations.testing import generate_conversations
from tests.conftest import TOKEN
from tests.lake.iceberg.readers import duckdb_ids, duplicated

REPO = Path(__file__).resolve().parents[2]
UTC = timezone.utc
DAY = datetime(2025, 3, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
TABLE = "lake.conversations"
GROUP = 6  # windows per snapshot: the kill lands in the second group's commit

CHILD = r"""
import os, signal, sys
from datetime import datetime, timedelta, timezone

from pyiceberg.catalog.sql import SqlCatalog

from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator

point, group = sys.argv[1], int(sys.argv[2])
done = []  # group commits finished
commit_group, write_metadata = IcebergDestination.commit_group, SqlCatalog._write_metadata

def killing_commit_group(self, items):
    if point == "staged" and done:
        os.kill(os.getpid(), signal.SIGKILL)
    result = commit_group(self, items)
    done.append(result)
    return result

def killing_write_metadata(*args, **kwargs):
    write_metadata(*args, **kwargs)
    if point == "metadata-written" and done:
        os.kill(os.getpid(), signal.SIGKILL)

IcebergDestination.commit_group = killing_commit_group
SqlCatalog._write_metadata = staticmethod(killing_write_metadata)
day = datetime(2025, 3, 10, tzinfo=timezone.utc)
op = ConversationsToIcebergOperator(
    task_id="export", table="lake.conversations", window_size=timedelta(hours=1), commit_group_size=group,
    max_records_per_file=40,
)
op.execute({"data_interval_start": day, "data_interval_end": day + timedelta(days=1)})
"""


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(
        records=generate_conversations(900, seed=21, start=DAY, end=DAY + timedelta(days=1)), token=TOKEN
    )
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def data_objects(warehouse: str, s3_endpoint: str) -> set[str]:
    """Every object under the warehouse's table data folders, as ``s3://`` paths."""
    url = urlsplit(warehouse)
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    out: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=url.netloc, Prefix=url.path.lstrip("/")):
        out |= {f"s3://{url.netloc}/{o['Key']}" for o in page.get("Contents", []) if "/data/" in o["Key"]}
    return out


def referenced(table) -> set[str]:
    return {t.file.file_path for s in table.snapshots() for t in table.scan(snapshot_id=s.snapshot_id).plan_files()}


@pytest.mark.parametrize("point", ["staged", "metadata-written"])
def test_a_killed_export_leaves_only_unreferenced_files_and_a_rerun_converges(
    api, catalog, warehouse, s3_endpoint, point
):
    child = subprocess.run(
        [sys.executable, "-c", CHILD, point, str(GROUP)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode(errors="replace")[-3000:]

    table = catalog.load_table(TABLE)
    assert 1 <= len(table.snapshots()) < 24 // GROUP  # some groups committed, not all
    rows = table.scan().to_arrow().to_pylist()
    assert duplicated([r["id"] for r in rows]) == []
    committed = set(committed_reads(table))
    assert committed and len(committed) % GROUP == 0
    expected = [to_row(r) for r in api.records() if window_of(record_created_at(r), HOUR) in committed]
    assert sorted(rows, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])  # whole windows only
    live = referenced(table)
    unreferenced = data_objects(warehouse, s3_endpoint) - live
    assert live <= data_objects(warehouse, s3_endpoint) and unreferenced  # the killed group's staged files

    out = ConversationsToIcebergOperator(
        task_id="export", table=TABLE, window_size=HOUR, commit_group_size=GROUP, max_records_per_file=40
    ).execute({"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)})
    table = catalog.load_table(TABLE)
    assert out["records"] == 900 and out["skipped_older_read"] == 0
    rows = table.scan().to_arrow().to_pylist()
    assert sorted(rows, key=lambda r: r["id"]) == sorted((to_row(r) for r in api.records()), key=lambda r: r["id"])
    assert sorted(duckdb_ids(table.metadata_location, s3_endpoint)) == sorted(r["id"] for r in rows)
    # the rerun staged the same bytes under the same names and committed them: nothing is left over
    assert unreferenced <= referenced(table) and data_objects(warehouse, s3_endpoint) == referenced(table)
