"""Parquet parts: one typed schema, nothing the API returned lost, bounded parts and row groups, same bytes."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_conversations.lake.parquet import ParquetPartWriter, arrow_schema, to_row
from airflow_provider_conversations.lake.schema import CONVERSATION_FIELDS, EXTRA_JSON
from airflow_provider_conversations.testing.records import make_conversation

UTC = timezone.utc


def record(i: int = 0, **changes) -> dict:
    rec = make_conversation(random.Random(i), datetime(2025, 1, 3, 10, i % 60, tzinfo=UTC))
    rec.update(changes)
    return rec


def rebuild(row: dict) -> dict:
    """What docs/layout.rst tells readers: the columns, then extra_json's fields over them."""
    out = {k: v for k, v in row.items() if k not in (EXTRA_JSON, "date")}
    out.update(json.loads(row[EXTRA_JSON]) if row[EXTRA_JSON] else {})
    return out


def as_api_value(name: str, value):
    kinds = {f.name: f.kind for f in CONVERSATION_FIELDS}
    if kinds.get(name) == "timestamp" and isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def assert_same_record(read_back: dict, original: dict) -> None:
    """Field by field; timestamps as instants; a field the API left out reads back as null."""
    from airflow_provider_conversations.timestamps import parse_api_timestamp

    assert set(read_back) == {f.name for f in CONVERSATION_FIELDS} | set(original)
    for name, value in read_back.items():
        expected = original.get(name)
        if isinstance(value, datetime):
            assert value == parse_api_timestamp(expected), name
        else:
            assert value == expected, name


def test_arrow_types_are_the_schema_tables():
    assert [(f.name, str(f.type)) for f in arrow_schema()][:-1] == [(f.name, f.arrow_type) for f in CONVERSATION_FIELDS]
    assert arrow_schema().field(EXTRA_JSON).type == pa.string()


def test_a_records_fields_go_to_typed_columns():
    rec = record()
    row = to_row(rec)
    assert row[EXTRA_JSON] is None
    assert row["created_at"] == datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00"))
    assert row["duration"] == rec["duration"] and row["is_api"] is rec["is_api"]
    assert row["account"] == rec["account"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("duration", 12.5),  # a float: int64 would lose it
        ("duration", True),  # a bool is not a count
        ("duration", 2**64),  # beyond int64
        ("is_api", "true"),
        ("title", 42),
        ("created_at", "2025-01-03T10:00:00.123456789Z"),  # nanoseconds
        ("updated_at", "2025-01-03"),  # a date, not a timestamp
        ("updated_at", "2025-02-30T00:00:00Z"),  # no such day
        ("account", {"id": 123, "_href": "https://x/accounts/123"}),  # an integer id
        ("person", {"id": "1", "_href": "h", "name": "Ada"}),  # a key the schema does not have
        ("recording", ["not", "an", "object"]),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_kept_in_extra_json(name, value):
    rec = record(**{name: value})
    row = to_row(rec)
    assert row[name] is None and json.loads(row[EXTRA_JSON]) == {name: value}


def test_unknown_fields_are_kept_in_extra_json_in_the_apis_order():
    rec = record(sentiment={"score": 0.25, "label": "positive"}, extra_json="a field of that name", tags=["a"])
    row = to_row(rec)
    assert (
        row[EXTRA_JSON]
        == '{"sentiment":{"score":0.25,"label":"positive"},"extra_json":"a field of that name","tags":["a"]}'
    )
    assert_same_record(rebuild(row), rec)


def write(directory, records, *, max_records=1000, compression=None):
    directory.mkdir(exist_ok=True)
    writer = ParquetPartWriter(directory, compression=compression, max_records=max_records)
    for rec in records:
        writer.write(rec)
    return writer.close()


def test_every_file_has_the_same_schema_whatever_is_null(tmp_path):
    nulls = record(1, **{f.name: None for f in CONVERSATION_FIELDS if f.name != "created_at"})
    (a,) = write(tmp_path / "a", [nulls])
    (b,) = write(tmp_path / "b", [record(2)])
    assert pq.read_schema(a.path) == pq.read_schema(b.path) == arrow_schema()
    assert pq.read_schema(a.path).field("created_at").type == pa.timestamp("us", tz="UTC")
    assert pq.read_table(a.path).to_pylist()[0]["account"] is None


def test_round_trip_through_pyarrow_equals_the_records(tmp_path):
    records = [record(i) for i in range(50)]
    records[3]["account"] = None
    records[4]["new_field"] = {"nested": [1, 2]}
    del records[5]["call_id"]  # left out: reads back as null
    (part,) = write(tmp_path, records)
    rows = pq.read_table(part.path).to_pylist()
    assert len(rows) == part.records == 50
    for row, rec in zip(rows, records, strict=True):
        assert_same_record(rebuild(row), rec)


def test_parts_are_bounded_and_row_groups_are_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(ParquetPartWriter, "BATCH_ROWS", 7)
    parts = write(tmp_path, [record(i) for i in range(45)], max_records=20)
    assert [p.records for p in parts] == [20, 20, 5]
    assert [pq.ParquetFile(p.path).metadata.num_row_groups for p in parts] == [3, 3, 1]  # 7 + 7 + 6, 7 + 7 + 6, 5
    assert [p.path.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert all(p.size == p.path.stat().st_size for p in parts)


@pytest.mark.parametrize("compression", [None, "snappy", "gzip", "zstd"])
def test_the_same_records_give_the_same_bytes(tmp_path, compression):
    records = [record(i) for i in range(30)]
    (a,) = write(tmp_path / "1", records, compression=compression)
    (b,) = write(tmp_path / "2", records, compression=compression)
    assert a.path.read_bytes() == b.path.read_bytes() and a.md5 == b.md5
    codec = pq.ParquetFile(a.path).metadata.row_group(0).column(0).compression
    assert codec == (compression or "uncompressed").upper()


def test_no_record_no_file(tmp_path):
    assert write(tmp_path, []) == [] and list(tmp_path.iterdir()) == []
