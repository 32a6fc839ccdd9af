"""The practical CPU limit: a raw loop with ``requests.Session`` and boto3, no Airflow.

Keyset paging like our hook (``sort_by=created_at ASC``, ``per_page=100``, every request on page 1,
the ``created_at[gte]`` bound moved to the last record's timestamp, ids already seen on that
timestamp dropped; a full page on one timestamp walks that timestamp by page numbers), one
``put_object`` of JSONL per UTC day, sequential. On a 429 it waits like the hand-written task.
No retries of other errors, no validation, no manifest, everything held in memory: the least work
that produces the same objects.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import boto3
import requests
from _common import AWS_KEYS, TOKEN, Endpoints, Spec


def export(
    api_url: str,
    token: str,
    s3_endpoint: str,
    bucket: str,
    prefix: str,
    created_at_gte: str,
    created_at_lt: str,
    minute_seconds: float = 60.0,
) -> dict[str, int]:
    """Copy ``[created_at_gte, created_at_lt)`` to one JSONL object per day; return counts."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, **AWS_KEYS)
    url = f"{api_url}/v2/conversations"
    lines: dict[str, list[str]] = defaultdict(list)
    bound, seen, page, requests_sent, records = created_at_gte, set(), 1, 0, 0
    while True:
        params = {
            "created_at[gte]": bound,
            "created_at[lt]": created_at_lt,
            "sort_by": "created_at",
            "sort_direction": "ASC",
            "per_page": 100,
            "page": page,
        }
        response = session.get(url, params=params, timeout=30)
        requests_sent += 1
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After")
            time.sleep(float(retry_after) if retry_after else minute_seconds - time.time() % minute_seconds)
            continue
        response.raise_for_status()
        body = json.loads(response.content)
        data = body["data"]
        for record in data:
            ts = record["created_at"]
            if ts == bound and record["id"] in seen:
                continue
            lines[ts[:10]].append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            records += 1
        if len(data) < 100 or body["metadata"]["paging"]["next_page"] is None:
            break
        last = data[-1]["created_at"]
        at_last = {r["id"] for r in data if r["created_at"] == last}
        if last == bound:  # a whole page on one timestamp: next page of it
            seen |= at_last
            page += 1
        else:
            bound, seen, page = last, at_last, 1
    for day, day_lines in sorted(lines.items()):
        body_bytes = ("\n".join(day_lines) + "\n").encode("utf-8")
        s3.put_object(Bucket=bucket, Key=f"{prefix}/date={day}/conversations.jsonl", Body=body_bytes)
    return {"records": records, "client_requests": requests_sent}


def prepare(spec: Spec, endpoints: Endpoints) -> Callable[[], dict[str, Any]]:
    """The task to time."""
    return lambda: export(
        endpoints.api,
        TOKEN,
        endpoints.s3,
        endpoints.bucket,
        spec.prefix,
        spec.gte,
        spec.lt,
        minute_seconds=spec.options.get("minute_seconds", 60.0),
    )
