"""An embedded Iceberg catalog (SQL on a SQLite file) with its warehouse on moto's S3 server over HTTP."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from tests.integration import conftest as _integration

# polars plans Iceberg scans with pyiceberg (its own planner is a separate package)
pytest.MonkeyPatch().setenv("POLARS_ICEBERG_PLANNER", "pyiceberg")

s3_endpoint = _integration.s3_endpoint  # moto's S3 server, shared with the integration tests


@pytest.fixture
def warehouse(s3_endpoint: str) -> str:
    """A fresh bucket; the warehouse is ``s3://<bucket>/warehouse``."""
    bucket = f"wh-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/warehouse"


def catalog_extra(tmp_path: Path, warehouse: str, s3_endpoint: str) -> dict[str, str]:
    """The ``iceberg`` connection extra of the embedded catalog."""
    return {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": warehouse,
        "s3.endpoint": s3_endpoint,
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
        "s3.region": "us-east-1",
    }


@pytest.fixture
def iceberg_conn(tmp_path: Path, warehouse: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``iceberg_default``: the embedded catalog; returns its extra."""
    extra = catalog_extra(tmp_path, warehouse, s3_endpoint)
    monkeypatch.setenv("AIRFLOW_CONN_ICEBERG_DEFAULT", json.dumps({"conn_type": "iceberg", "extra": extra}))
    return extra


@pytest.fixture
def catalog(iceberg_conn):
    from airflow_provider_conversations.lake.iceberg.catalog import load_catalog

    return load_catalog("iceberg_default")
