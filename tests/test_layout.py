from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.export import ties_sorted_by_id
from airflow_provider_conversations.jsonl import JsonlPartWriter
from airflow_provider_conversations.layout import PartitionLayout
from airflow_provider_conversations.windows import Window

D = datetime(2025, 3, 9, tzinfo=timezone.utc)


def test_keys_are_deterministic_and_hive_partitioned():
    layout = PartitionLayout("/lake/conversations/", "gzip")
    w = Window(D + timedelta(hours=23), D + timedelta(days=1))
    assert layout.part_key(w, 0) == "lake/conversations/date=2025-03-09/part-230000-240000-00000.jsonl.gz"
    assert layout.manifest_key(w) == "lake/conversations/date=2025-03-09/_manifest-230000-240000.json"
    assert layout.part_prefix(w) == "lake/conversations/date=2025-03-09/part-230000-240000-"


def test_clipped_windows_keep_their_exact_bounds_in_the_name():
    layout = PartitionLayout("", None)
    w = Window(D + timedelta(minutes=30, microseconds=5), D + timedelta(hours=1))
    assert layout.part_key(w, 3) == "date=2025-03-09/part-003000000005-010000-00003.jsonl"


def test_bookkeeping_never_matches_the_data_glob():
    layout = PartitionLayout("p", "gzip")
    w = Window(D, D + timedelta(hours=1))
    assert ".jsonl" not in layout.manifest_key(w).rsplit("/", 1)[1]
    assert layout.manifest_key(w).rsplit("/", 1)[1].startswith("_")


def test_unknown_compression_is_refused():
    with pytest.raises(ConversationsFilterError, match="compression: 'zstd' is not supported; allowed: None, 'gzip'"):
        PartitionLayout("p", "zstd")


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


def test_ties_are_ordered_by_id_and_the_rest_kept_in_order():
    rows = [
        ({"id": "b"}, 1, 0),
        ({"id": "a"}, 1, 0),
        ({"id": "z"}, 2, 0),
        ({"id": "c"}, 3, 1),
        ({"id": "a"}, 3, 1),
    ]
    assert [r["id"] for r, _, _ in ties_sorted_by_id(rows)] == ["a", "b", "z", "a", "c"]
