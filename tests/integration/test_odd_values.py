"""Odd values over real HTTP and S3: a value that fits no column never stops a window, nor the windows after it."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from airflow_provider_conversations.testing.records import generate_conversations
from tests.integration.conftest import comparable, read_objects, run_dag, start_api

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)
END = START + timedelta(days=3)

#: What a sloppy API might send, set on records of the first day only.
ODD = {
    "title": "broken \ud800 pair",  # a lone surrogate (sent as the escape \ud800)
    "event_end_date": "9999-12-31T23:59:59-01:00",  # year 10000 in UTC: beyond any Python datetime
    "event_start_date": "0000-01-01T00:00:00Z",  # year 0
    "updated_at": "2025-01-01T12:00:00.1234567Z",  # beyond microseconds
    "duration": "12",  # a string where a number is expected
}

pytestmark = pytest.mark.usefixtures("airflow_db")


def records() -> list[dict]:
    recs = generate_conversations(300, seed=5, start=START, end=END)
    for rec in recs[:40:4]:
        assert rec["created_at"] < "2025-01-02"
        rec.update(ODD)
    return recs


@pytest.fixture
def api(conversations_api_factory, set_conn):
    return start_api(conversations_api_factory, set_conn, records(), seed=5)


def rows_of(objects: dict[str, bytes], file_format: str) -> list[dict]:
    rows = []
    for key in sorted(k for k in objects if "/part-" in k):
        if file_format == "parquet":
            rows += pq.read_table(io.BytesIO(objects[key])).to_pylist()
        else:
            rows += [json.loads(line) for line in gzip.decompress(objects[key]).splitlines()]
    return rows


@pytest.mark.parametrize(("file_format", "compression"), [("parquet", "zstd"), ("jsonl", "gzip")])
def test_odd_values_are_kept_and_every_window_commits(api, s3_client, bucket, file_format, compression):
    common = {"s3_bucket": bucket, "s3_prefix": "t", "file_format": file_format, "compression": compression}
    _run, ti = run_dag(
        f"t_odd_{file_format}", END, created_at_gte=START.isoformat(), created_at_lt=END.isoformat(), **common
    )
    assert ti.state == "success"
    objects = read_objects(s3_client, bucket)
    assert sorted(k.split("/")[1] for k in objects if "/_manifest-" in k) == [
        "date=2025-01-01",
        "date=2025-01-02",
        "date=2025-01-03",
    ]
    rows = rows_of(objects, file_format)
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in api.records())
    odd = [r for r in rows if r["id"] in {rec["id"] for rec in records()[:40:4]}]
    assert len(odd) == 10
    for row in odd:
        if file_format == "parquet":
            assert all(row[name] is None for name in ODD)
            assert json.loads(row["extra_json"]) == ODD
        else:
            assert {name: row[name] for name in ODD} == ODD

    run_dag(
        f"t_odd_{file_format}_again", END, created_at_gte=START.isoformat(), created_at_lt=END.isoformat(), **common
    )
    assert comparable(read_objects(s3_client, bucket)) == comparable(objects)  # a rerun writes the same bytes
