"""The Iceberg export against the JSONL export: records/s, CPU, commit time per window, peak RSS.

The fake API (no rate limit: this measures our CPU and memory, not the API's budget) and moto's S3
server run as their own processes; each task runs ``execute()`` in a fresh child process, after a
warm-up export of an empty range (imports, clients, the catalog), so the RSS baseline holds them.
The Iceberg catalog is the embedded one: SQL on a SQLite file, the warehouse on the moto bucket.

* ``jsonl`` and ``iceberg`` at 50k records, hourly windows (the Iceberg export commits 8 a snapshot):
  records/s, CPU seconds of the task process, commit seconds per snapshot and per window;
* ``iceberg`` at 10k and 200k records in one daily window: peak RSS growth over the baseline.

    .venv/bin/python benchmarks/iceberg_bench.py            # what make bench runs
    .venv/bin/python benchmarks/iceberg_bench.py --quick    # 5k/2k/20k (development)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any

TOKEN = "bench-token"
DAY = ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
EMPTY = ("2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z")


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]) / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def operator(kind: str, bucket: str, window_hours: int, gte: str, lt: str, table: str) -> Any:
    window = {"window_size": timedelta(hours=window_hours), "created_at_gte": gte, "created_at_lt": lt}
    if kind == "jsonl":
        from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator

        return ConversationsToS3Operator(
            task_id="bench", s3_bucket=bucket, s3_prefix=table, compression="gzip", **window
        )
    from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator

    return ConversationsToIcebergOperator(task_id="bench", table=f"bench.{table}", commit_group_size=8, **window)


def child(kind: str, api: str, s3: str, bucket: str, window_hours: int) -> None:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
    os.environ["AIRFLOW_CONN_CONVERSATIONS_DEFAULT"] = json.dumps(
        {"conn_type": "conversations", "host": api, "password": TOKEN, "extra": {"budget_per_minute": 10**9}}
    )
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {"conn_type": "aws", "login": "x", "password": "y", "extra": {"endpoint_url": s3, "region_name": "us-east-1"}}
    )
    extra = {
        "type": "sql",
        "uri": f"sqlite:///{tempfile.mkdtemp(prefix='iceberg-catalog-')}/catalog.db",
        "warehouse": f"s3://{bucket}/warehouse",
        "s3.endpoint": s3,
        "s3.access-key-id": "x",
        "s3.secret-access-key": "y",
        "s3.region": "us-east-1",
    }
    os.environ["AIRFLOW_CONN_ICEBERG_DEFAULT"] = json.dumps({"conn_type": "iceberg", "extra": extra})
    operator(kind, bucket, window_hours, *EMPTY, "warm").execute({})  # imports, clients, catalog
    baseline, _ = rss_mb()
    cpu, started = cpu_seconds(), time.perf_counter()
    summary = operator(kind, bucket, window_hours, *DAY, "conversations").execute({})
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    _, peak = rss_mb()
    out: dict[str, Any] = {
        "records": summary["records"],
        "seconds": round(seconds, 2),
        "records_per_s": round(summary["records"] / seconds),
        "cpu_s": round(cpu, 2),
        "cpu_us_per_record": round(cpu / max(summary["records"], 1) * 1e6, 1),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "growth_mb": round(peak - baseline, 1),
    }
    if kind == "iceberg":
        commits = max(summary["commits"], 1)
        out["commits"] = summary["commits"]
        out["commit_s_per_snapshot"] = round(summary["commit_seconds"] / commits, 3)
        out["commit_s_per_window"] = round(summary["commit_seconds"] / len(summary["windows"]), 3)
    print(json.dumps(out))


def measure(kind: str, records: int, window_hours: int, s3: str, client: Any) -> dict[str, Any]:
    from airflow_provider_conversations.testing.processes import fake_api_process

    bucket = f"bench-{kind}-{records}-{window_hours}"
    client.create_bucket(Bucket=bucket)
    args = ["--records", str(records), "--days", "1", "--start", "2025-01-01", "--token", TOKEN]
    with fake_api_process(*args, "--rate-limit", str(10**9)) as api:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, api, s3, bucket, str(window_hours)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return {"kind": kind, "window_hours": window_hours, **json.loads(out.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description="the Iceberg export against the JSONL export")
    parser.add_argument("--quick", action="store_true", help="small sizes (development)")
    parser.add_argument("--child", nargs=5, metavar=("KIND", "API", "S3", "BUCKET", "HOURS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, api, s3, bucket, hours = args.child
        child(kind, api, s3, bucket, int(hours))
        return

    import boto3

    from airflow_provider_conversations.testing.processes import moto_s3_process

    speed, memory = (5_000, (2_000, 20_000)) if args.quick else (50_000, (10_000, 200_000))
    runs = [("jsonl", speed, 1), ("iceberg", speed, 1)] + [("iceberg", n, 24) for n in memory]
    results = []
    with moto_s3_process() as s3:
        client = boto3.client(
            "s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        for kind, records, hours in runs:
            results.append(measure(kind, records, hours, s3, client))
            print(json.dumps(results[-1]), flush=True)
    jsonl, iceberg = results[0], results[1]
    small, large = results[2], results[3]
    print(f"\nIceberg vs JSONL at {speed} records (hourly windows):")
    for r in (jsonl, iceberg):
        print(f"  {r['kind']:<8} {r['records_per_s']:>7} records/s  {r['cpu_us_per_record']:>6} us CPU/record")
    print(
        f"  Iceberg commit: {iceberg['commit_s_per_snapshot']} s per snapshot of 8 windows, "
        f"{iceberg['commit_s_per_window']} s per window"
    )
    growth = large["growth_mb"] - small["growth_mb"]
    print(
        f"Peak RSS growth, one daily window: {small['growth_mb']} MB at {small['records']}, {large['growth_mb']} MB at "
        f"{large['records']} records (+{growth:.1f} MB; target < 30 MB: {'met' if growth < 30 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
