"""The demo's Iceberg part: the daily Iceberg example DAG into the embedded catalog, then DuckDB reads the table.

The catalog is a SQL catalog on a SQLite file under ``.demo/``, its warehouse in the demo's moto bucket.
DuckDB's iceberg, avro and httpfs extensions are loaded from their installed packages: nothing downloads.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TABLE = "lake.conversations"
DAG_ID = "example_conversations_iceberg"


def catalog_extra(work: Path, bucket: str, s3_url: str) -> dict[str, str]:
    """The ``iceberg_default`` connection's extra: SQLite catalog, warehouse on the moto bucket."""
    return {
        "type": "sql",
        "uri": f"sqlite:///{work / 'iceberg-catalog.db'}",
        "warehouse": f"s3://{bucket}/warehouse",
        "s3.endpoint": s3_url,
        "s3.access-key-id": "demo",
        "s3.secret-access-key": "demo",
        "s3.region": "us-east-1",
    }


def duckdb_connection(s3_url: str) -> Any:
    """DuckDB with the iceberg extension loaded by path and an S3 secret for the moto server."""
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_httpfs
    import duckdb_extension_iceberg

    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false; SET TimeZone = 'UTC'")
    for module in (duckdb_extension_avro, duckdb_extension_httpfs, duckdb_extension_iceberg):
        (path,) = glob.glob(os.path.join(os.path.dirname(module.__file__), "extensions", "*", "*.duckdb_extension"))
        con.execute(f"LOAD '{path}'")
    con.execute(
        f"CREATE SECRET (TYPE S3, KEY_ID 'demo', SECRET 'demo', ENDPOINT '{urlsplit(s3_url).netloc}', "
        "URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
    )
    return con


def run(
    env: dict[str, str], work: Path, airflow: str, logical_date: str, bucket: str, s3_url: str, api_count: int
) -> int:
    """Run the Iceberg example DAG, then count the table's rows per hour with DuckDB; 0 when they match the API.

    :param env: the demo's Airflow environment (connections of the API and of S3).
    :param work: the demo's scratch directory.
    :param airflow: the ``airflow`` executable.
    :param logical_date: the run's logical date.
    :param bucket: the moto bucket.
    :param s3_url: the moto server's URL.
    :param api_count: what the API holds for the run's data interval.
    """
    try:
        import duckdb_extension_iceberg  # noqa: F401
        import pyiceberg  # noqa: F401
    except ImportError:
        print("\n(skipping the Iceberg table: install the [iceberg] and [test-iceberg] extras)")
        return 0
    extra = catalog_extra(work, bucket, s3_url)
    env = {**env, "AIRFLOW_CONN_ICEBERG_DEFAULT": json.dumps({"conn_type": "iceberg", "extra": extra})}
    log = work / "dags-test-iceberg.log"
    print(f"\nrunning: airflow dags test {DAG_ID} {logical_date}  (log: {log.name})")
    started = time.monotonic()
    with open(log, "wb") as out:
        result = subprocess.run([airflow, "dags", "test", DAG_ID, logical_date], env=env, stdout=out, stderr=out)
    text = log.read_text(errors="replace")
    if result.returncode != 0 or re.search(r"state=failed|Marking run .* failed", text):
        print(text[-4000:])
        print(f"demo: the Iceberg DAG run failed (see {log})")
        return 1
    print(
        f"DAG run succeeded in {time.monotonic() - started:.1f}s. Iceberg table {TABLE} (SQLite catalog, S3 warehouse):"
    )

    from pyiceberg.catalog import load_catalog

    # the SQL catalog keys its tables by the catalog's name: the IcebergHook names it after the connection
    table = load_catalog("iceberg_default", **extra).load_table(TABLE)
    snapshots = table.snapshots()
    files = list(table.scan().plan_files())
    print(f"  {len(snapshots)} snapshot(s), {len(files)} data file(s), metadata {table.metadata_location}")
    con = duckdb_connection(s3_url)
    try:
        rows = con.execute(
            f"SELECT date_trunc('hour', created_at) AS hour, count(*) AS n, count(DISTINCT id) AS ids "
            f"FROM iceberg_scan('{table.metadata_location}') GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    print("  DuckDB iceberg_scan, records per hour (first 4):")
    for hour, n, _ in rows[:4]:
        print(f"    {hour:%Y-%m-%d %H:00}  {n:>5}")
    total, distinct = sum(r[1] for r in rows), sum(r[2] for r in rows)
    ok = total == distinct == api_count
    print(
        f"  records in the table: {total} ({distinct} distinct ids); the API holds {api_count}: "
        f"{'match' if ok else 'MISMATCH'}"
    )
    return 0 if ok else 1
