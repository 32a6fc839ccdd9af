"""Parquet parts: one typed schema, nothing the API returned lost or able to stop a part, bounded parts, same bytes."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_conversations.api.codec import decode
from airflow_provider_conversations.lake.parquet import ParquetPartWriter, arrow_schema, from_row, to_row
from airflow_provider_conversations.lake.schema import CONVERSATION_FIELDS, EXTRA_JSON, SENTENCES_SCHEMA, TABLE_COLUMNS
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
    assert [(f.name, str(f.type)) for f in arrow_schema()] == [(c.name, c.arrow_type) for c in TABLE_COLUMNS]
    assert arrow_schema().field(EXTRA_JSON).type == pa.string()
    assert arrow_schema().field("title").metadata == {b"description": b"Title of the Conversation"}


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


def strict_loads(text: str):
    def refuse(token: str):
        raise ValueError(f"not standard JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def with_raw_value(i: int, name: str, raw: str) -> bytes:
    """The API's JSON of record ``i`` with ``name`` set to the JSON text ``raw``, as the wire would carry it."""
    rec = record(i, id=f"odd-{i}")
    body = json.dumps({**rec, name: "<raw>"}, ensure_ascii=False, separators=(",", ":"))
    return body.replace('"<raw>"', raw).encode()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("title", '"broken \\ud800 pair"'),  # a lone surrogate: UTF-8 cannot carry it
        ("call_id", '"\\udfff"'),
        ("account", '{"id":"\\ud800","_href":"h"}'),
        ("created_at", '"9999-12-31T23:59:59.9999999Z"'),  # rounds past the last microsecond Python holds
        ("updated_at", '"10000-01-01T00:00:00Z"'),
        ("event_end_date", '"9999-12-31T23:59:59-01:00"'),  # year 10000 in UTC
        ("event_start_date", '"0001-01-01T00:00:00+01:00"'),  # year 0 in UTC
        ("event_start_date", '"0000-01-01T00:00:00Z"'),
        ("event_end_date", '"-0001-01-01T00:00:00Z"'),
        ("duration", '"12"'),  # a string where a number is expected
        ("duration", "9223372036854775808"),  # int64 + 1
        ("started_recording_at", "-9223372036854775809"),
        ("duration", "1e400"),  # beyond a float
        ("duration", "-1e400"),
        ("duration", "1e-400"),  # below a float
        ("duration", "0.10000000000000000001"),
    ],
)
def test_an_odd_value_goes_to_extra_json_as_sent_and_the_part_is_written(tmp_path, caplog, name, raw):
    caplog.set_level("WARNING")
    odd = decode(with_raw_value(7, name, raw))
    records = [record(1), odd, record(2)]
    (part,) = write(tmp_path, records)
    rows = pq.read_table(part.path).to_pylist()
    assert rows[1][name] is None
    assert rows[1][EXTRA_JSON] == f'{{"{name}":{raw}}}'  # the API's own text
    strict_loads(rows[1][EXTRA_JSON])  # standard JSON: no NaN or Infinity tokens
    assert rows[0][EXTRA_JSON] is None and rows[2][EXTRA_JSON] is None
    assert_same_record(rebuild(rows[0]), records[0])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "'odd-7'" in warnings[0] and f" {name} " in warnings[0]
    assert raw.strip('"') not in warnings[0]  # the value itself (a title, say) is not logged


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_token_json_lacks_is_kept_as_a_string(tmp_path, token):
    (part,) = write(tmp_path, [decode(with_raw_value(3, "duration", token))])
    (row,) = pq.read_table(part.path).to_pylist()
    assert row["duration"] is None and strict_loads(row[EXTRA_JSON]) == {"duration": token}


@pytest.mark.parametrize(
    ("name", "value", "instant"),
    [
        ("created_at", "0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("updated_at", "9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("event_end_date", "9999-12-31T23:59:59+00:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_the_first_and_last_instants_python_holds_fit_their_column(tmp_path, name, value, instant):
    (part,) = write(tmp_path, [record(4, **{name: value})])
    (row,) = pq.read_table(part.path).to_pylist()
    assert row[name] == instant and row[EXTRA_JSON] is None


def test_many_odd_values_log_the_first_ones_then_a_count(tmp_path, caplog):
    caplog.set_level("WARNING")
    write(tmp_path, [record(i, id=f"r{i}", duration="x", is_api="no" if i < 3 else True) for i in range(25)])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 21
    assert all(f"'r{i}'" in w for i, w in zip([0, 0, 1, 1, 2, 2, *range(3, 17)], warnings[:20], strict=True))
    assert "8 more values did not fit their columns" in warnings[20]
    assert "(28 in all; duration: 25, is_api: 3)" in warnings[20]


def test_to_row_tells_the_caller_which_fields_did_not_fit():
    seen: list[tuple[str, str]] = []
    row = to_row(record(5, id="x", title=7, duration=1.5, new_field=1), lambda rid, field: seen.append((rid, field)))
    assert seen == [("x", "duration"), ("x", "title")]  # in the record's order
    assert row["title"] is None and json.loads(row[EXTRA_JSON]) == {"duration": 1.5, "title": 7, "new_field": 1}


def test_parts_are_hashed_as_they_are_written(tmp_path):
    parts = write(tmp_path, [record(i) for i in range(30)], max_records=12, compression="zstd")
    assert [(p.records, p.size, p.md5) for p in parts] == [
        (p.records, len(b := p.path.read_bytes()), hashlib.md5(b).hexdigest()) for p in parts
    ]


def sentence(index: int, **changes) -> dict:
    row = {
        "id": "t-1",
        "start_time": 1.25 + index,
        "end_time": 2.5 + index,
        "order_number": index,
        "recording_attendee_id": "a-1",
        "text": f"sentence {index}",
        "conversation": {"id": "c-1", "_href": "https://api.example/v2/conversations/c-1"},
        "transcription_id": "t-1",
        "conversation_id": "c-1",
        "sentence_index": index,
    }
    return {**row, **changes}


@pytest.mark.parametrize(
    ("value", "column", "extra"),
    [
        (3.5, 3.5, None),
        (0, 0.0, None),  # an integer a double holds exactly
        (2**53, float(2**53), None),
        (2**53 + 1, None, 2**53 + 1),  # a double would round it
        (True, None, True),
        ("1.5", None, "1.5"),
    ],
)
def test_a_number_column_holds_doubles_and_integers_a_double_holds_exactly(value, column, extra):
    row = to_row(sentence(0, start_time=value), schema=SENTENCES_SCHEMA, on_misfit=lambda *_: None)
    assert row["start_time"] == column and type(row["start_time"]) is type(column)
    assert (json.loads(row[EXTRA_JSON])["start_time"] if row[EXTRA_JSON] else None) == extra


def test_a_number_no_double_holds_exactly_keeps_its_text():
    rec = decode(b'{"id": "t-1", "start_time": 0.10000000000000000000001, "transcription_id": "t-1"}')
    row = to_row(rec, schema=SENTENCES_SCHEMA, on_misfit=lambda *_: None)
    assert row["start_time"] is None and row[EXTRA_JSON] == '{"start_time":0.10000000000000000000001}'


def test_a_sentence_that_does_not_fit_is_logged_by_its_transcription_and_position(caplog):
    to_row(sentence(7, order_number="seven"), schema=SENTENCES_SCHEMA)
    assert "Sentence ('t-1', 7): the value of order_number does not fit its column (integer)" in caplog.text


def test_rows_read_back_rebuild_records_that_write_the_same_bytes(tmp_path):
    """What the change sync keeps from the lake: Parquet rows rebuilt into records write the same part again."""
    records = [sentence(0), sentence(1, order_number=None), sentence(2, start_time=3)]
    records += [sentence(3, text="lone \udc00 surrogate", mood="new field"), sentence(4, end_time=2**60)]
    records.append(decode(b'{"id": "t-1", "start_time": 1e400, "transcription_id": "t-1", "sentence_index": 5}'))
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = ParquetPartWriter(tmp_path / "a", schema=SENTENCES_SCHEMA, compression="zstd", max_records=100)
    for rec in records:
        first.write(rec)
    [part] = first.close()
    rebuilt = [from_row(row) for row in pq.read_table(part.path).to_pylist()]
    second = ParquetPartWriter(tmp_path / "b", schema=SENTENCES_SCHEMA, compression="zstd", max_records=100)
    for rec in rebuilt:
        second.write(rec)
    [again] = second.close()
    assert again.md5 == part.md5 and again.path.read_bytes() == part.path.read_bytes()
    assert rebuilt[1]["order_number"] is None and rebuilt[3]["mood"] == "new field"
    assert rebuilt[4]["end_time"] == 2**60 and rebuilt[2]["start_time"] == 3.0
