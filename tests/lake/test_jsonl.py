"""jsonl: local part files, rolled at max_records, the same bytes for the same records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

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
