"""The baseline: how an Airflow user exports conversations today, with ``HttpHook`` and ``S3Hook``.

Written as a competent user would, inside one ``@task``: one ``requests`` session from ``HttpHook``
(keep-alive across pages), page numbers with ``per_page=100`` following ``metadata.paging.next_page``,
records grouped per UTC day, one ``S3Hook.load_string`` per day. On a 429 it waits for
``Retry-After`` when sent, else until the next minute (on the local clock, which on loopback is the
server's: the most favourable choice for the baseline). No other sleeps, no concurrency.

Connections (environment variables)::

    AIRFLOW_CONN_CONVERSATIONS_HTTP='{"conn_type": "http", "host": "https://api.salesloft.com",
                                      "extra": {"Authorization": "Bearer <token>"}}'
    AIRFLOW_CONN_AWS_DEFAULT=...

In a DAG::

    @task
    def export(data_interval_start=None, data_interval_end=None):
        return export_conversations(data_interval_start.isoformat(), data_interval_end.isoformat(),
                                    bucket="my-lake", prefix="raw/conversations")

The benchmark runs it through :func:`prepare` in a child process (``benchmarks/tasks.py``).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from _common import HTTP_CONN_ID, Endpoints, Spec
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.http.hooks.http import HttpHook
from requests import Request, Response, Session


def get_page(hook: HttpHook, session: Session, url: str, params: dict[str, Any], minute_seconds: float) -> Response:
    """GET one page on the hook's session; on 429 wait (Retry-After, else the next minute) and retry."""
    while True:
        prepped = session.prepare_request(Request("GET", url, params=params))
        response = hook.run_and_check(session, prepped, {"check_response": False, "timeout": 30})
        if response.status_code != 429:
            hook.check_response(response)  # raises AirflowException on any other error
            return response
        retry_after = response.headers.get("Retry-After")
        time.sleep(float(retry_after) if retry_after else minute_seconds - time.time() % minute_seconds)


def export_conversations(
    created_at_gte: str,
    created_at_lt: str,
    *,
    bucket: str,
    prefix: str,
    http_conn_id: str = HTTP_CONN_ID,
    aws_conn_id: str = "aws_default",
    minute_seconds: float = 60.0,
) -> dict[str, int]:
    """Copy the conversations created in ``[created_at_gte, created_at_lt)`` to one JSONL object per day."""
    hook = HttpHook(method="GET", http_conn_id=http_conn_id)
    session = hook.get_conn()
    url = hook.url_from_endpoint("v2/conversations")
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    page: int | None = 1
    requests = 0
    while page is not None:
        params = {
            "created_at[gte]": created_at_gte,
            "created_at[lt]": created_at_lt,
            "sort_by": "created_at",
            "sort_direction": "ASC",
            "per_page": 100,
            "page": page,
        }
        body = get_page(hook, session, url, params, minute_seconds).json()
        requests += 1
        for record in body["data"]:
            by_day[record["created_at"][:10]].append(record)
        page = body["metadata"]["paging"]["next_page"]
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    for day, records in sorted(by_day.items()):
        s3.load_string(
            "".join(json.dumps(r) + "\n" for r in records),
            key=f"{prefix}/date={day}/conversations.jsonl",
            bucket_name=bucket,
            replace=True,
        )
    return {"records": sum(len(v) for v in by_day.values()), "client_requests": requests}


def prepare(spec: Spec, endpoints: Endpoints) -> Callable[[], dict[str, Any]]:
    """The task to time (imports are done by now)."""
    return lambda: export_conversations(
        spec.gte,
        spec.lt,
        bucket=endpoints.bucket,
        prefix=spec.prefix,
        minute_seconds=spec.options.get("minute_seconds", 60.0),
    )
