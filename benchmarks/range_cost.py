"""Requests and rate-limit cost of one keyset walk over N records (fake API on loopback).

.venv/bin/python benchmarks/range_cost.py --records 50000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))

from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.testing import FakeConversationsAPI, generate_conversations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tie-share", type=float, default=0.05, help="records sharing one created_at")
    args = parser.parse_args()
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=30)
    records = generate_conversations(args.records, seed=args.seed, tie_share=args.tie_share)
    with FakeConversationsAPI(records, token="bench", seed=args.seed) as api:
        os.environ["AIRFLOW_CONN_CONVERSATIONS_DEFAULT"] = json.dumps(
            {"conn_type": "conversations", "host": api.url, "password": "bench"}
        )
        hook = ConversationsHook()
        t0 = time.perf_counter()
        pages = hook.read_pages(created_at_gte=start, created_at_lt=end)
        ids = [r["id"] for page in pages for r in page.records]
        seconds = time.perf_counter() - t0
        expected = api.ids_in_range(start, end)
        print(
            json.dumps(
                {
                    "records_in_range": len(expected),
                    "records_yielded": len(ids),
                    "unique": len(set(ids)),
                    "match": set(ids) == expected,
                    "requests_client": hook.stats.requests,
                    "requests_server": api.stats.requests,
                    "rate_limit_cost": api.stats.total_cost,
                    "records_per_point": round(len(ids) / max(1, api.stats.total_cost), 2),
                    "throttled": api.stats.throttled,
                    "seconds": round(seconds, 2),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
