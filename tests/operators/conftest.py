"""Fixtures of the operator tests: the API connection and moto's in-process S3, as amazon's tests do it."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from tests.conftest import TOKEN

BASE = "https://api.example.com"
BUCKET = "conversations-lake"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, set_conn):
    set_conn(BASE, TOKEN)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing", "extra": {"region_name": "us-east-1"}}
        ),
    )
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
