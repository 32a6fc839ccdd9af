"""Read the table the way users do: pyiceberg, polars and DuckDB's iceberg extension (loaded from its package)."""

from __future__ import annotations

import glob
import os
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_conversations.lake.parquet import to_row


def duckdb_connection(s3_endpoint: str):
    """A DuckDB connection with the avro, httpfs and iceberg extensions loaded by path (nothing downloads)."""
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_httpfs
    import duckdb_extension_iceberg

    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    for module in (duckdb_extension_avro, duckdb_extension_httpfs, duckdb_extension_iceberg):
        (path,) = glob.glob(os.path.join(os.path.dirname(module.__file__), "extensions", "*", "*.duckdb_extension"))
        con.execute(f"LOAD '{path}'")
    endpoint = urlsplit(s3_endpoint).netloc
    con.execute(
        f"CREATE SECRET (TYPE S3, KEY_ID 'testing', SECRET 'testing', ENDPOINT '{endpoint}', URL_STYLE 'path', "
        "USE_SSL false, REGION 'us-east-1')"
    )
    return con


def duckdb_ids(metadata_location: str, s3_endpoint: str) -> list[str]:
    """Every ``id`` of the table version at ``metadata_location``, through DuckDB's ``iceberg_scan``."""
    con = duckdb_connection(s3_endpoint)
    try:
        return [r[0] for r in con.execute(f"SELECT id FROM iceberg_scan('{metadata_location}')").fetchall()]
    finally:
        con.close()


def polars_ids(table, s3_endpoint: str) -> list[str]:
    """Every ``id`` of the table's current snapshot through ``polars.scan_iceberg`` (polars' own Parquet reader)."""
    import polars as pl

    storage = {
        "aws_endpoint_url": s3_endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    return pl.scan_iceberg(table, storage_options=storage).select("id").collect()["id"].to_list()


def pyiceberg_rows(table, snapshot_id: int | None = None) -> list[dict[str, Any]]:
    """Every row of the table (or of one snapshot) through pyiceberg."""
    return table.scan(snapshot_id=snapshot_id).to_arrow().to_pylist()


def expected_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows the table must hold for the API's ``records``, sorted by id (as Parquet parts hold them)."""
    return sorted((to_row(r) for r in records), key=lambda r: r["id"])


def duplicated(ids: list[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)
