"""Cost of one change sync against its floor: 50,000 records, 5 % of them updated (fake API on loopback, moto S3).

The floor is what any reader of the same data must pay: the scan's pages (``ceil(changed / 100)``) plus
the pages of the touched windows, read as contiguous ranges (``ceil(records in the range / 100)`` each).
The target (issue 12): the sync costs at most 1.05 x the floor. Two spreads of the updates: across
the whole table (nearly every window touched) and on its last day (recent conversations change).

.venv/bin/python benchmarks/change_sync_cost.py            # prints JSON; exit status 1 if a target is missed
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3
from moto import mock_aws

from airflow_provider_conversations.lake.windows import contiguous_runs, window_of
from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator
from airflow_provider_conversations.testing import FakeConversationsAPI, generate_conversations, parse_timestamp

TARGET = 1.05
U0 = datetime(2025, 3, 1, tzinfo=timezone.utc)  # the sync's interval: [U0, U0 + 1 h)
BUCKET = "bench-lake"


def run(records: list[dict], updated: list[str], window_size: timedelta) -> dict[str, object]:
    """Update ``updated`` in the sync's interval, run the sync once, return its cost and the floor."""
    with FakeConversationsAPI(records, token="bench", rate_limit_per_minute=10**9) as api, mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        step = timedelta(hours=1) / (len(updated) + 1)
        for n, rid in enumerate(updated):
            api.update_record(rid, {"title": f"edited {n}"}, updated_at=U0 + step * n)
        os.environ["AIRFLOW_CONN_CONVERSATIONS_DEFAULT"] = json.dumps(
            {"conn_type": "conversations", "host": api.url, "password": "bench"}
        )
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps({"conn_type": "aws", "login": "k", "password": "s"})
        stamps = {r["id"]: parse_timestamp(r["created_at"]) for r in api.records()}
        touched = {window_of(stamps[rid], window_size) for rid in updated}
        in_run = [
            sum(1 for ts in stamps.values() if run[0].start <= ts < run[-1].end) for run in contiguous_runs(touched)
        ]
        floor = math.ceil(len(updated) / 100) + sum(math.ceil(n / 100) for n in in_run if n)
        op = ConversationsChangesToS3Operator(task_id="bench", s3_bucket=BUCKET, s3_prefix="t", window_size=window_size)
        summary = op.execute({"data_interval_start": U0, "data_interval_end": U0 + timedelta(hours=1)})
    return {
        "records": len(records),
        "changed": summary["changed"],
        "windows": len(summary["windows"]),
        "reads": len(in_run),
        "scan_cost": summary["scan"]["cost"],  # type: ignore[index]
        "export_cost": summary["export"]["cost"],  # type: ignore[index]
        "cost": summary["cost"],
        "floor": floor,
        "ratio": round(summary["cost"] / floor, 4),  # type: ignore[operator]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--updated-share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    records = generate_conversations(args.records, seed=args.seed)
    rng = random.Random(args.seed)
    n = round(args.records * args.updated_share)
    last_day = [r["id"] for r in records if r["created_at"] >= records[-1]["created_at"][:10]]
    scenarios = {
        "spread over the table": rng.sample([r["id"] for r in records], n),
        "on the last day": rng.sample(last_day, min(n, len(last_day))),
    }
    results = {name: run(records, ids, timedelta(hours=1)) for name, ids in scenarios.items()}
    print(json.dumps({"target_ratio": TARGET, "results": results}, indent=2))
    return 0 if all(r["ratio"] <= TARGET for r in results.values()) else 1  # type: ignore[operator]


if __name__ == "__main__":
    sys.exit(main())
