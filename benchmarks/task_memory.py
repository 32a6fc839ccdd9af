"""Peak RSS and records/s of one ConversationsToS3Operator task over a single window of N records.

The fake API (no rate limit by default: this measures our CPU and memory, not the API's budget)
and moto's S3 server run as their own processes, so the task process's memory is the
task's alone. The task runs ``execute()`` in a fresh child process; RSS is read from the kernel.

    .venv/bin/python benchmarks/task_memory.py --records 10000 200000
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

TOKEN = "bench-token"
DAY = ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    current = int(fields["VmRSS"].split()[0]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(api: str, s3: str, bucket: str, compression: str | None) -> None:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
    os.environ["AIRFLOW_CONN_CONVERSATIONS_DEFAULT"] = json.dumps(
        {
            "conn_type": "conversations",
            "host": api,
            "password": TOKEN,
            "extra": {"budget_per_minute": 10**9, **json.loads(os.environ.get("BENCH_CONN_EXTRA", "{}"))},
        }
    )
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {"conn_type": "aws", "login": "x", "password": "y", "extra": {"endpoint_url": s3, "region_name": "us-east-1"}}
    )
    from datetime import timedelta

    from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator

    op = ConversationsToS3Operator(
        task_id="bench",
        s3_bucket=bucket,
        s3_prefix="bench",
        created_at_gte=DAY[0],
        created_at_lt=DAY[1],
        window_size=timedelta(days=1),
        compression=compression,
    )
    # Warm up imports and clients on an empty range so the baseline holds them.
    ConversationsToS3Operator(
        task_id="warm",
        s3_bucket=bucket,
        s3_prefix="warm",
        created_at_gte="2030-01-01T00:00:00Z",
        created_at_lt="2030-01-01T01:00:00Z",
    ).execute({})
    baseline, _ = rss_mb()
    started = time.perf_counter()
    summary = op.execute({})
    seconds = time.perf_counter() - started
    _, peak = rss_mb()
    print(
        json.dumps(
            {
                "records": summary["records"],
                "requests": summary["requests"],
                "seconds": round(seconds, 2),
                "records_per_s": round(summary["records"] / seconds),
                "baseline_rss_mb": round(baseline, 1),
                "peak_rss_mb": round(peak, 1),
                "growth_mb": round(peak - baseline, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="peak RSS and records/s of one task")
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--compression", default="gzip")
    parser.add_argument("--rate-limit", type=int, default=10**9, help="the fake API's budget (default: unbounded)")
    parser.add_argument("--max-concurrency", type=int, help="the connection's max_concurrency (default 4)")
    parser.add_argument("--child", nargs=3, metavar=("API", "S3", "BUCKET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    compression = None if args.compression in ("none", "") else args.compression
    if args.max_concurrency:
        os.environ["BENCH_CONN_EXTRA"] = json.dumps({"max_concurrency": args.max_concurrency})
    if args.child:
        child(*args.child, compression)
        return

    import boto3

    from airflow_provider_conversations.testing.processes import fake_api_process, moto_s3_process

    results = []
    with moto_s3_process() as s3:
        client = boto3.client(
            "s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        for n in args.records:
            bucket = f"bench-{n}"
            client.create_bucket(Bucket=bucket)
            with fake_api_process(
                "--records",
                str(n),
                "--days",
                "1",
                "--start",
                "2025-01-01",
                "--token",
                TOKEN,
                "--rate-limit",
                str(args.rate_limit),
            ) as api:
                out = subprocess.run(
                    [sys.executable, __file__, "--compression", args.compression, "--child", api, s3, bucket],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results.append({"window_records": n, **result})
            print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
