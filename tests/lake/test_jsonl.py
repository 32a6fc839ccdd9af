"""jsonl: local part files, rolled at max_records, the same bytes for the same records, every value as sent."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from airflow_provider_conversations.api.codec import decode
from airflow_provider_conversations.lake.jsonl import JsonlPartWriter


def records(n: int) -> list[dict]:
    return [{"id": f"r{i}", "created_at": "2025-03-09T00:00:00Z", "title": "Réunion — Société 東京"} for i in range(n)]


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_parts_roll_at_max_records_and_read_back(tmp_path: Path, compression):
    writer = JsonlPartWriter(tmp_path, compression=compression, max_records=4)
    for record in records(10):
        writer.write(record)
    parts = writer.close()
    assert [p.records for p in parts] == [4, 4, 2]
    lines = []
    for part in parts:
        raw = part.path.read_bytes()
        assert part.size == len(raw)
        data = gzip.decompress(raw) if compression else raw
        assert data.endswith(b"\n")
        lines += data.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records(10)
    assert "Réunion — Société 東京" in lines[0]  # UTF-8, not \u escapes


def test_same_records_give_the_same_bytes(tmp_path: Path):
    digests = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        writer = JsonlPartWriter(tmp_path / run, compression="gzip", max_records=100)
        for record in records(5):
            writer.write(record)
        digests.append([p.md5 for p in writer.close()])
    assert digests[0] == digests[1]


def test_no_records_no_part(tmp_path: Path):
    assert JsonlPartWriter(tmp_path, compression="gzip", max_records=10).close() == []


def test_odd_values_are_written_as_the_api_sent_them(tmp_path: Path):
    answer = (
        b'{"data":[{"id":"a","duration":1e400,"started_recording_at":123456789012345678901234567890,'
        b'"score":1e-400,"title":"Soci\xc3\xa9t\xc3\xa9 \\ud800","event_end_date":"9999-12-31T23:59:59.9999999Z",'
        b'"event_start_date":"0000-01-01T00:00:00Z"},{"id":"b","duration":12}]}'
    )
    writer = JsonlPartWriter(tmp_path, compression=None, max_records=10)
    for record in decode(answer)["data"]:
        writer.write(record)
    (part,) = writer.close()
    records = answer[len(b'{"data":[') : -len(b"]}")].replace(b"},{", b"}\n{")
    assert part.path.read_bytes() == records + b"\n"


def test_lifecycle_counts_and_hashes_what_is_on_disk(tmp_path: Path):
    writer = JsonlPartWriter(tmp_path, compression="gzip", max_records=3)
    for record in records(7):
        writer.write(record)
    parts = writer.close()
    assert [(p.path.name, p.records) for p in parts] == [("part-00000", 3), ("part-00001", 3), ("part-00002", 1)]
    for part in parts:
        body = part.path.read_bytes()
        assert (part.size, part.md5) == (len(body), hashlib.md5(body).hexdigest())
    assert writer.close() == parts  # closing again adds nothing
