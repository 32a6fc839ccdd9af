"""s3_extra_args reach every object the operator writes: moto's S3 server over HTTP shows them on each object."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from tests.integration.conftest import start_api

DAY = datetime(2025, 1, 3, tzinfo=timezone.utc)
CONTEXT = {"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)}
EXTRA = {
    "ServerSideEncryption": "AES256",
    "Metadata": {"team": "lake", "source": "conversations"},
    "ACL": "public-read",
    "StorageClass": "STANDARD_IA",
}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture
def api(conversations_api_factory, set_conn):
    return start_api(conversations_api_factory, set_conn, 600, seed=5)


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_every_part_carries_the_extra_args_and_control_objects_their_encryption_and_acl(
    api, s3_client, bucket, file_format
):
    operator = ConversationsToS3Operator(
        task_id="x",
        s3_bucket=bucket,
        s3_prefix="t",
        window_size=timedelta(hours=6),
        max_records_per_file=20,  # several parts per window: multipart-sized or not, every upload gets them
        file_format=file_format,
        s3_extra_args=EXTRA,
    )
    summary = operator.execute(CONTEXT)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) > 8 and sum(len(w["keys"]) for w in summary["windows"]) + 4 + 1 == len(keys)
    assert any("_manifest-" in k for k in keys) and any(k.endswith(f".{file_format}") for k in keys)
    for key in keys:
        head = s3_client.head_object(Bucket=bucket, Key=key)
        data = "/part-" in key
        assert head["ServerSideEncryption"] == "AES256", key
        assert head["Metadata"] == (EXTRA["Metadata"] if data else {}), key
        assert head.get("StorageClass", "STANDARD") == ("STANDARD_IA" if data else "STANDARD"), key
        grants = s3_client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert {"Type": "Group", "URI": ALL_USERS} in [g["Grantee"] for g in grants if g["Permission"] == "READ"], key


def test_without_extra_args_objects_get_the_defaults(api, s3_client, bucket):
    ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="t").execute(CONTEXT)
    key = next(o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"] if "/part-" in o["Key"])
    head = s3_client.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"] == {} and "StorageClass" not in head
