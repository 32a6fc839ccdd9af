"""The fixed cost of one export task at small volumes: what S3 costs before and besides the records.

Times, in a fresh process against moto's S3 server on loopback: a bare ``boto3`` client and the
``S3Hook`` client (first use), both after botocore has loaded its S3 model, ``AwsBaseHook``'s caller lookup for its user agent (a walk of
the stack with ``inspect.stack()``, here 60 frames deep as inside a task), the bucket check (HEAD),
one listing, one small PUT. Prints one line per step, in milliseconds (mean of a few calls).

    .venv/bin/python benchmarks/fixed_cost.py
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def timed(label: str, fn: Callable[[], Any], n: int = 1) -> Any:
    t0 = time.perf_counter()
    for _ in range(n):
        out = fn()
    print(f"{label:58} {(time.perf_counter() - t0) / n * 1000:8.1f} ms", flush=True)
    return out


def deep(depth: int, fn: Callable[[], Any]) -> Any:
    return fn() if depth == 0 else deep(depth - 1, fn)


def main() -> int:
    from moto.server import ThreadedMotoServer

    logging.disable(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    url = f"http://{host}:{port}"
    keys = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(keys, AWS_EC2_METADATA_DISABLED="true")
    extra = {"endpoint_url": url, "region_name": "us-east-1"}
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {"conn_type": "aws", "login": "bench", "password": "bench", "extra": extra}
    )
    import boto3
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    try:
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="fixedcost")
        # The first client of a process loads botocore's service model; the bucket's creation did that.
        timed(
            "boto3.client('s3') (service model loaded), for comparison", lambda: boto3.client("s3", endpoint_url=url), 3
        )
        s3 = S3Hook(aws_conn_id="aws_default", transfer_config_args={"use_threads": False})
        timed("S3Hook client, first use (connection, session, user agent)", lambda: s3.conn)
        timed("AwsBaseHook._get_caller at 60 frames deep", lambda: deep(60, s3._get_caller), 3)
        timed("check_for_bucket (HEAD), once per task", lambda: s3.check_for_bucket("fixedcost"), 5)
        prefix = "t/date=2025-01-01/"
        timed(
            "list_objects_v2, once per day partition",
            lambda: s3.conn.list_objects_v2(Bucket="fixedcost", Prefix=prefix),
            5,
        )
        body = b"x" * 4096
        timed("put_object 4 KB (2 per window)", lambda: s3.conn.put_object(Bucket="fixedcost", Key="t/a", Body=body), 5)
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
