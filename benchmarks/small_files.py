"""Small files: objects written per day, and the change sync's re-export cost, by volume and window size.

For 1k, 10k and 100k conversations a day (the fake API's records: the synced day and the 3 days
before it) and windows of 1 h, 3 h, 6 h and 1 day: our operator exports one day to moto's S3 over
real HTTP, and the objects it wrote are counted. The change sync re-exports every window that holds a conversation updated after
its creation on the synced day (the fake's records change up to 3 days after creation, 70 % of
them); its cost is the points of re-reading those windows whole (``ceil(records / 100)`` each, as
the range read costs) and the objects rewritten. Prints a Markdown table.

    .venv/bin/python benchmarks/small_files.py [--volumes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import AWS_KEYS, TOKEN
from report_format import table

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
SYNCED = START + 4 * DAY  # the exported and synced day: records created up to 3 days before it change on it
WINDOWS = {"1 h": 3600, "3 h": 3 * 3600, "6 h": 6 * 3600, "1 day": 86400}


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def change_sync(records: list[dict], window: int) -> tuple[int, int, int]:
    """(windows touched, points to re-read them, objects rewritten) for a sync of the changes of SYNCED."""
    lo, hi = SYNCED.timestamp(), (SYNCED + DAY).timestamp()
    per_window = Counter(int(parse(r["created_at"]) // window) for r in records)
    touched = {
        int(parse(r["created_at"]) // window)
        for r in records
        if lo <= parse(r["updated_at"]) < hi and r["updated_at"] != r["created_at"]
    }
    points = sum(max(1, math.ceil(per_window[w] / 100)) for w in touched)
    return len(touched), points, 2 * len(touched)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="small-files-")
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": AWS_KEYS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": AWS_KEYS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": AWS_KEYS["region_name"],
        }
    )
    import boto3
    from moto.server import ThreadedMotoServer

    from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
    from airflow_provider_conversations.testing import FakeConversationsAPI, generate_conversations

    logging.disable(logging.WARNING)  # the operator's and moto's per-window and per-request lines
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3_url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=s3_url, **AWS_KEYS)
    s3.create_bucket(Bucket="small")
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {"conn_type": "aws", "login": AWS_KEYS["aws_access_key_id"], "password": AWS_KEYS["aws_secret_access_key"],
         "extra": {"endpoint_url": s3_url, "region_name": AWS_KEYS["region_name"]}}
    )  # fmt: skip
    rows = []
    try:
        for volume in args.volumes:
            # The synced day and the 3 before it: the records that can change on the synced day.
            records = generate_conversations(4 * volume, seed=0, start=SYNCED - 3 * DAY, end=SYNCED + DAY)
            with FakeConversationsAPI(records, token=TOKEN, rate_limit_per_minute=10**9) as api:
                os.environ["AIRFLOW_CONN_CONVERSATIONS_DEFAULT"] = json.dumps(
                    {"conn_type": "conversations", "host": api.url, "password": TOKEN}
                )
                for name, seconds in WINDOWS.items():
                    prefix = f"v{volume}-w{seconds}"
                    t0 = time.monotonic()
                    summary = ConversationsToS3Operator(
                        task_id="export",
                        s3_bucket="small",
                        s3_prefix=prefix,
                        created_at_gte=SYNCED.isoformat(),
                        created_at_lt=(SYNCED + DAY).isoformat(),
                        window_size=timedelta(seconds=seconds),
                    ).execute({})
                    elapsed = time.monotonic() - t0
                    keys = [o for p in s3.get_paginator("list_objects_v2").paginate(Bucket="small", Prefix=prefix)
                            for o in p.get("Contents", [])]  # fmt: skip
                    parts = [o for o in keys if not o["Key"].rsplit("/", 1)[-1].startswith("_manifest")]
                    touched, points, rewritten = change_sync(records, seconds)
                    rows.append([
                        f"{volume:,}", name, str(len(keys)), str(len(parts)),
                        f"{summary['records'] / max(1, len(parts)):,.0f}",
                        f"{sum(o['Size'] for o in parts) / max(1, len(parts)) / 1024:,.0f}",
                        str(summary["cost"]), f"{elapsed:.1f}",
                        str(touched), str(points), str(rewritten),
                    ])  # fmt: skip
                    print(" | ".join(rows[-1]), flush=True)
    finally:
        moto.stop()
    header = [
        "conversations/day", "window", "objects/day", "data parts", "records/part", "KiB/part",
        "export points", "export s", "sync: windows touched", "sync: points", "sync: objects rewritten",
    ]  # fmt: skip
    print()
    print(table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
