"""file_format="parquet" in real DAG runs: fake API over HTTP, moto S3 over HTTP, read back with DuckDB and pyarrow."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.schema import schema_description
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.testing.records import generate_conversations
from tests.integration.conftest import comparable, read_objects, run_dag, start_api
from tests.lake.test_parquet import assert_same_record, rebuild

UTC = timezone.utc
LOGICAL = datetime(2025, 1, 4, tzinfo=UTC)
DAY = datetime(2025, 1, 3, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("airflow_db")


def odd_records() -> list[dict]:
    """Generated records, some with what a later API version or a sloppy one might send."""
    records = generate_conversations(700, seed=21, start=DAY - timedelta(hours=6), end=LOGICAL + timedelta(hours=6))
    for i, rec in enumerate(records):
        if i % 7 == 0:
            rec["sentiment"] = {"score": i / 10, "labels": ["a", "b"]}  # a field added later
        if i % 11 == 0:
            rec["account"] = None
        if i % 13 == 0:
            rec["duration"] = 1.5  # not an integer
        if i % 17 == 0:
            rec["person"] = {"id": i, "_href": None}  # an integer id
        if i % 19 == 0:
            rec["updated_at"] = rec["updated_at"][:-1] + "+00:00"  # another spelling of the same instant
        if i % 23 == 0:
            del rec["call_id"]
    return records


@pytest.fixture
def api(conversations_api_factory, set_conn):
    return start_api(conversations_api_factory, set_conn, odd_records(), seed=21)


def download(objects: dict[str, bytes], root: Path) -> Path:
    for key, body in objects.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)
    return root


def test_parquet_read_back_through_duckdb_and_pyarrow_equals_the_api(api, s3_client, bucket, tmp_path):
    _run, ti = run_dag(
        "t_parquet", LOGICAL, s3_bucket=bucket, s3_prefix="lake/conv", file_format="parquet", compression="zstd"
    )
    assert ti.state == "success"
    objects = read_objects(s3_client, bucket)
    parts = sorted(k for k in objects if "/part-" in k)
    assert parts and all(k.endswith(".parquet") for k in parts)
    by_id = {r["id"]: r for r in api.records()}
    expected = api.ids_in_range(DAY, LOGICAL)
    root = download(objects, tmp_path) / "lake" / "conv"

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cursor = con.execute(f"SELECT * FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)")
    names = [d[0] for d in cursor.description]
    duck_rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    arrow_rows = ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()

    for rows in (duck_rows, arrow_rows):
        assert sorted(r["id"] for r in rows) == sorted(expected)
        assert {str(r["date"]) for r in rows} == {"2025-01-03"}
        for row in rows:
            assert_same_record(rebuild(row), by_id[row["id"]])
    assert any(json.loads(r["extra_json"] or "{}").get("sentiment") for r in duck_rows)

    manifests = [json.loads(objects[k]) for k in objects if "/_manifest-" in k]
    assert len(manifests) == 1 and sum(m["record_count"] for m in manifests) == len(expected)  # the default: a day
    assert all(m["file_format"] == "parquet" and m["compression"] == "zstd" for m in manifests)
    assert all(m["schema"] == schema_description("parquet") for m in manifests)


def test_parquet_rerun_is_byte_identical_and_parts_are_bounded(api, s3_client, bucket):
    common = {"s3_bucket": bucket, "s3_prefix": "p", "file_format": "parquet", "window_size": timedelta(hours=6)}
    run_dag("t_parquet_a", LOGICAL, max_records_per_file=40, **common)
    first = read_objects(s3_client, bucket)
    run_dag("t_parquet_b", LOGICAL, max_records_per_file=40, **common)
    assert comparable(read_objects(s3_client, bucket)) == comparable(first)
    manifests = [json.loads(v) for k, v in first.items() if "/_manifest-" in k]
    counts = [p["records"] for m in manifests for p in m["parts"]]
    assert max(counts) == 40 and all(0 < c <= 40 for c in counts) and len(counts) > len(manifests)


def test_parquet_without_pyarrow_fails_before_any_request_or_write(api, s3_client, bucket, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    op = ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="p", file_format="parquet")
    with pytest.raises(ConversationsFilterError, match=r"needs pyarrow.*\[parquet\]"):
        op.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    assert api.stats.requests == 0 and read_objects(s3_client, bucket) == {}
