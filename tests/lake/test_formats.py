"""File formats: names, compressions, extensions, writers, and a clear error for Parquet without pyarrow."""

from __future__ import annotations

import sys

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.formats import (
    check_compression,
    check_file_format,
    extension,
    new_part_writer,
    require_pyarrow,
)
from airflow_provider_conversations.lake.jsonl import JsonlPartWriter
from airflow_provider_conversations.lake.parquet import ParquetPartWriter


@pytest.mark.parametrize(
    ("file_format", "compression", "expected"),
    [
        ("jsonl", None, ".jsonl"),
        ("jsonl", "gzip", ".jsonl.gz"),
        ("parquet", None, ".parquet"),
        ("parquet", "zstd", ".parquet"),
    ],
)
def test_extensions(file_format, compression, expected):
    assert extension(file_format, check_compression(compression, file_format)) == expected


@pytest.mark.parametrize("value", ["csv", "JSONL", None, 1])
def test_unknown_file_format_is_named(value):
    with pytest.raises(
        ConversationsFilterError, match=r"file_format: .* is not supported; allowed: 'jsonl', 'parquet'"
    ):
        check_file_format(value)


def test_compressions_depend_on_the_format():
    assert check_compression("none", "parquet") is None
    assert check_compression("snappy", "parquet") == "snappy"
    with pytest.raises(ConversationsFilterError, match="compression: 'snappy' is not supported; allowed: None, 'gzip'"):
        check_compression("snappy", "jsonl")


def test_writers_by_format(tmp_path):
    assert isinstance(new_part_writer(tmp_path, file_format="jsonl", compression=None, max_records=1), JsonlPartWriter)
    assert isinstance(
        new_part_writer(tmp_path, file_format="parquet", compression="zstd", max_records=1), ParquetPartWriter
    )


def test_parquet_without_pyarrow_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # what an environment without pyarrow imports
    with pytest.raises(ConversationsFilterError, match=r"pip install 'airflow-provider-conversations\[parquet\]'"):
        require_pyarrow("parquet")
    require_pyarrow("jsonl")  # JSONL never needs it
