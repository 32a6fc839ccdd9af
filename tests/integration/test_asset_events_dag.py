"""Asset events in a dag.test() run: the metadata DB holds the table's event with what was committed."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_provider_conversations.version_compat import AIRFLOW_V_3_0_PLUS
from tests.integration.conftest import read_objects, run_dag_source, start_api

DAY, LOGICAL = datetime(2025, 1, 3, tzinfo=timezone.utc), datetime(2025, 1, 4, tzinfo=timezone.utc)

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture
def api(conversations_api_factory, set_conn):
    return start_api(conversations_api_factory, set_conn, 700, seed=9)


def events_of(uri: str) -> list[dict]:
    """The ``extra`` of every asset event of ``uri`` in the metadata DB (datasets on Airflow 2.11)."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        join = Event.asset_id == Model.id
    else:
        from airflow.models.dataset import DatasetEvent as Event  # type: ignore[no-redef]
        from airflow.models.dataset import DatasetModel as Model  # type: ignore[no-redef]

        join = Event.dataset_id == Model.id
    with create_session() as session:
        return [dict(e.extra or {}) for e in session.scalars(select(Event).join(Model, join).where(Model.uri == uri))]


def test_the_tables_asset_event_carries_records_windows_manifests_and_range(api, s3_client, bucket):
    table, other = f"s3://{bucket}/lake/conv", f"s3://{bucket}/elsewhere"
    body = (
        "from airflow_provider_conversations.version_compat import Asset\n"
        f"    ConversationsToS3Operator(task_id='export', s3_bucket={bucket!r}, s3_prefix='lake/conv', "
        f"window_size=datetime.timedelta(hours=6), outlets=[Asset({table!r}), Asset({other!r})])"
    )
    _run, tis = run_dag_source("t_assets", LOGICAL, body, register_assets=True)
    assert tis["export"].state == "success"
    (extra,) = events_of(table)
    manifests = sorted(k for k in read_objects(s3_client, bucket) if "/_manifest-" in k)
    assert extra == {
        "records": len(api.ids_in_range(DAY, LOGICAL)),
        "windows": 4,
        "manifests": manifests,
        "created_at_gte": "2025-01-03T00:00:00.000000Z",
        "created_at_lt": "2025-01-04T00:00:00.000000Z",
        "file_format": "jsonl",
    }
    assert extra["records"] == sum(
        json.loads(s3_client.get_object(Bucket=bucket, Key=m)["Body"].read())["record_count"] for m in manifests
    )
    assert [e.get("records") for e in events_of(other)] == [None]  # another outlet's event is left alone
