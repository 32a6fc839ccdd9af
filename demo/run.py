"""`make demo`: the daily example DAG end to end, on loopback, leaving nothing running.

1. starts the fake Conversations API (a few thousand conversations over several days) and moto's
   S3 server, each as its own process on a free loopback port;
2. sets the connections by environment variables, creates the bucket, migrates a SQLite Airflow DB;
3. runs ``airflow dags test example_conversations_daily <date>`` (a real logical date);
4. prints the partitions written, with record counts, next to what the API holds;
5. runs ``example_conversations_iceberg`` for the same date into an Iceberg table (a SQL catalog on a
   SQLite file, its warehouse in the same bucket) and counts its rows with DuckDB's ``iceberg_scan``
   (:mod:`iceberg_table`; skipped without the ``[iceberg]`` extra);
6. stops both servers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import iceberg_table  # demo/iceberg_table.py

from airflow_provider_conversations.testing.processes import fake_api_process, moto_s3_process

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".demo"
BIN = Path(sys.executable).parent
TOKEN = "demo-token-7d1f"  # the fake API's token; shown masked in Airflow's logs
BUCKET = "demo-lake"
PREFIX = "raw/conversations"
LOGICAL_DATE = "2025-01-04"  # a daily run at this date exports [2025-01-03, 2025-01-04)
INTERVAL = ("2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z")


def main() -> int:
    import boto3
    import requests

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "airflow-home").mkdir(parents=True)
    with ExitStack() as stack:
        api_url = stack.enter_context(
            fake_api_process(
                "--records",
                "4000",
                "--days",
                "6",
                "--start",
                "2025-01-01",
                "--seed",
                "42",
                "--token",
                TOKEN,
                log=WORK / "fake-api.log",
            )
        )
        stack.callback(print, "stopped the fake Conversations API")
        s3_url = stack.enter_context(moto_s3_process(log=WORK / "moto.log"))
        stack.callback(print, "stopped the moto S3 server")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        print(f"fake Conversations API at {api_url}; S3 (moto) at {s3_url}")

        s3 = boto3.client(
            "s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="demo", aws_secret_access_key="demo"
        )
        s3.create_bucket(Bucket=BUCKET)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(WORK / "airflow-home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_CONVERSATIONS_DEFAULT": json.dumps(
                {"conn_type": "conversations", "host": api_url, "password": TOKEN}
            ),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "demo",
                    "password": "demo",
                    "extra": {"endpoint_url": s3_url, "region_name": "us-east-1"},
                }
            ),
            "AIRFLOW_VAR_CONVERSATIONS_BUCKET": BUCKET,
        }
        airflow = str(BIN / "airflow")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        log = WORK / "dags-test.log"
        print(f"running: airflow dags test example_conversations_daily {LOGICAL_DATE}  (log: {log.relative_to(ROOT)})")
        started = time.monotonic()
        with open(log, "wb") as out:
            result = subprocess.run(
                [airflow, "dags", "test", "example_conversations_daily", LOGICAL_DATE],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        elapsed = time.monotonic() - started
        text = log.read_text(errors="replace")
        if result.returncode != 0 or re.search(r"state=failed|Marking run .* failed", text):
            print(text[-4000:])
            print(f"demo: the DAG run failed (see {log})")
            return 1
        if TOKEN in text:
            print("demo: the API token appeared in the task log!")
            return 1

        print(f"\nDAG run succeeded in {elapsed:.1f}s. Partitions written to s3://{BUCKET}/{PREFIX}/:")
        manifests = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX + "/"):
            manifests += [o["Key"] for o in page.get("Contents", []) if "/_manifest-" in o["Key"]]
        by_partition: dict[str, list[dict]] = {}
        for key in sorted(manifests):
            body = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            by_partition.setdefault(key.rsplit("/", 1)[0], []).append(body)
        total = 0
        print(f"  {'partition':<45} {'windows':>7} {'records':>8} {'objects':>8}")
        for partition, bodies in by_partition.items():
            records = sum(b["record_count"] for b in bodies)
            objects = sum(len(b["parts"]) for b in bodies)
            total += records
            print(f"  {partition + '/':<45} {len(bodies):>7} {records:>8} {objects:>8}")
        for key in sorted(k for b in by_partition.values() for p in b for k in [x["key"] for x in p["parts"]])[:3]:
            print(f"    e.g. {key}")
        api_count = requests.get(
            f"{api_url}/v2/conversations",
            headers=auth,
            timeout=5,
            params={
                "created_at[gte]": INTERVAL[0],
                "created_at[lt]": INTERVAL[1],
                "per_page": 1,
                "include_paging_counts": "true",
            },
        ).json()["metadata"]["paging"]["total_count"]
        verdict = "match" if api_count == total else "MISMATCH"
        print(f"  records in S3: {total}; the API holds {api_count} for [{INTERVAL[0]}, {INTERVAL[1]}): {verdict}")
        if api_count != total:
            return 1
        return iceberg_table.run(env, WORK, airflow, LOGICAL_DATE, BUCKET, s3_url, api_count)


if __name__ == "__main__":
    sys.exit(main())
