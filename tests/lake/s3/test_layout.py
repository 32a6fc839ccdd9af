from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.windows import Window

D = datetime(2025, 3, 9, tzinfo=timezone.utc)


def test_keys_are_deterministic_and_hive_partitioned():
    layout = PartitionLayout("/lake/conversations/", "gzip")
    w = Window(D + timedelta(hours=23), D + timedelta(days=1))
    md5 = "0123456789abcdef0123456789abcdef"
    assert (
        layout.part_key(w, 0, md5)
        == "lake/conversations/date=2025-03-09/part-230000-240000-00000-0123456789abcdef.jsonl.gz"
    )
    assert layout.manifest_key(w) == "lake/conversations/date=2025-03-09/_manifest-230000-240000.json"
    assert layout.part_prefix(w) == "lake/conversations/date=2025-03-09/part-230000-240000-"


def test_clipped_windows_keep_their_exact_bounds_in_the_name():
    layout = PartitionLayout("", None)
    w = Window(D + timedelta(minutes=30, microseconds=5), D + timedelta(hours=1))
    assert layout.part_key(w, 3, "f" * 32) == "date=2025-03-09/part-003000000005-010000-00003-ffffffffffffffff.jsonl"


def test_bookkeeping_never_matches_the_data_glob():
    layout = PartitionLayout("p", "gzip")
    w = Window(D, D + timedelta(hours=1))
    assert ".jsonl" not in layout.manifest_key(w).rsplit("/", 1)[1]
    assert layout.manifest_key(w).rsplit("/", 1)[1].startswith("_")


def test_unknown_compression_is_refused():
    with pytest.raises(ConversationsFilterError, match="compression: 'zstd' is not supported; allowed: None, 'gzip'"):
        PartitionLayout("p", "zstd")


def test_parquet_parts_end_in_parquet_whatever_the_codec():
    layout = PartitionLayout("p", "zstd", "parquet")
    w = Window(D, D + timedelta(hours=1))
    assert layout.part_key(w, 1, "a" * 32) == "p/date=2025-03-09/part-000000-010000-00001-aaaaaaaaaaaaaaaa.parquet"
    assert ".parquet" not in layout.manifest_key(w)


def test_unknown_file_format_is_refused():
    with pytest.raises(ConversationsFilterError, match="file_format: 'csv' is not supported"):
        PartitionLayout("p", None, "csv")
