"""A partitioned run (Airflow 3.2+) of the shipped example DAG, with dag.test(), the fake API and moto's S3.

``dag.test()`` has no argument for a partition: it creates its run through
``airflow.models.dagrun.get_or_create_dagrun``, which the test replaces by the same call with the
partition's key and date and no data interval, as the scheduler creates a run of
``CronPartitionTimetable``. The task then runs as in any ``dag.test()``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import read_objects, start_api

EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "example_conversations_partitioned.py"
BUCKET, PREFIX = "conversations-lake", "raw/conversations_partitioned"  # the example's table
DAY = datetime(2025, 1, 3, tzinfo=timezone.utc)  # inside the fake's 7 days of records

pytestmark = [pytest.mark.usefixtures("airflow_db")]  # collected on Airflow 3.2+ only (see conftest.py)


@contextmanager
def partitioned_run(key: str, date: datetime) -> Iterator[None]:
    """Let ``dag.test()`` create a run of partition ``key`` (no logical date, no data interval)."""
    from unittest import mock

    from airflow.models import dagrun
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    def create(*, dag: Any, session: Any, **kwargs: Any) -> Any:
        return dag.create_dagrun(
            run_id=kwargs["run_id"],
            logical_date=None,
            data_interval=None,
            run_after=kwargs["run_after"],
            conf=kwargs.get("conf"),
            run_type=DagRunType.MANUAL,
            state=DagRunState.RUNNING,
            triggered_by=kwargs["triggered_by"],
            triggering_user_name=kwargs.get("triggering_user_name"),
            start_date=kwargs["start_date"],
            partition_key=key,
            partition_date=date,
            session=session,
        )

    with mock.patch.object(dagrun, "get_or_create_dagrun", create):
        yield


def run_partition(key: str, date: datetime) -> Any:
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / EXAMPLE.name
    shutil.copyfile(EXAMPLE, path)  # dag.test() runs only DAGs a bundle holds
    spec = importlib.util.spec_from_file_location("partitioned_example", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with partitioned_run(key, date):
        run = module.dag.test(logical_date=None)
    (ti,) = run.get_task_instances()
    return run, ti


def partition_events(uri: str) -> list[tuple[str | None, dict[str, Any]]]:
    """``(partition_key, extra)`` of every asset event of ``uri`` in the metadata DB."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == uri)
    with create_session() as session:
        return [(e.partition_key, dict(e.extra or {})) for e in session.scalars(query)]


@pytest.fixture
def api(conversations_api_factory, set_conn):
    return start_api(conversations_api_factory, set_conn, 700, seed=4)


@pytest.fixture
def lake(s3_client):
    try:
        s3_client.create_bucket(Bucket=BUCKET)
    except s3_client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return s3_client


def test_a_daily_partition_exports_its_utc_day_and_its_event_carries_the_key(api, lake):
    run, ti = run_partition("2025-01-03", DAY)
    assert (run.partition_key, run.data_interval_start, ti.state) == ("2025-01-03", None, "success")
    out = ti.xcom_pull(task_ids="export_partition")
    assert (out["created_at_gte"], out["created_at_lt"]) == (
        "2025-01-03T00:00:00.000000Z",
        "2025-01-04T00:00:00.000000Z",
    )
    assert out["records"] == len(api.ids_in_range(DAY, DAY + timedelta(days=1))) > 0
    manifests = [k for k in read_objects(lake, BUCKET, f"{PREFIX}/") if "/_manifest-" in k]
    assert manifests == [f"{PREFIX}/date=2025-01-03/_manifest-000000-240000.json"]  # one window: the day
    ((key, extra),) = partition_events(f"s3://{BUCKET}/{PREFIX}")
    assert key == extra["partition_key"] == "2025-01-03" and extra["manifests"] == manifests


def test_a_partition_key_that_is_not_a_day_fails_once_before_any_request_or_write(api, lake):
    before = read_objects(lake, BUCKET, f"{PREFIX}/")
    _run, ti = run_partition("2025-01-03T00:00:00", DAY)
    assert ti.state == "failed" and ti.try_number == 1  # not retried: the example's retries=2 do not apply
    assert read_objects(lake, BUCKET, f"{PREFIX}/") == before and api.stats.requests == 0
