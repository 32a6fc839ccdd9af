"""The shipped example DAGs, run one after another as a team would, keep their tables exact.

Each example file is copied unchanged into the DAGs folder and run with ``dag.test()`` against the fake
API over HTTP and moto's S3 server: the backfill, the daily export, the hourly change sync after the
API changed, the weekly reconcile, the Parquet asset producer and its consumer. No task is refused
(every one succeeds), and after each step the JSONL table equals the API, window by window.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_conversations.testing import format_timestamp
from airflow_provider_conversations.version_compat import AIRFLOW_V_3_0_PLUS
from tests.conftest import TOKEN
from tests.integration.conftest import _register_assets, read_objects

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
UTC = timezone.utc
BUCKET = "conversations-lake"  # the examples' bucket (the Variable's default; the asset examples' literal)
TABLE = "raw/conversations"
PARQUET_TABLE = "raw/conversations_parquet"
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)  # the fake's records span the 7 days from here
CHANGED_AT = datetime(2025, 2, 1, 10, tzinfo=UTC)  # the change sync's hour: [10:00, 11:00)

pytestmark = pytest.mark.usefixtures("airflow_db")


def run_example(name: str, logical_date: datetime | None = None) -> dict[str, Any]:
    """Run ``example_dags/<name>.py`` with ``dag.test()``; every task must succeed. Returns its XComs by task."""
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{name}.py"
    shutil.copyfile(EXAMPLES / f"{name}.py", path)  # dag.test() runs only DAGs a bundle holds
    spec = importlib.util.spec_from_file_location(f"compose_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _register_assets(module.dag)
    date_arg = "logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date"
    run = module.dag.test(**{date_arg: logical_date}) if logical_date else module.dag.test()
    tis = run.get_task_instances()
    assert tis and {ti.task_id: ti.state for ti in tis} == {ti.task_id: "success" for ti in tis}, name
    return {ti.task_id: ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index) for ti in tis}


def day_of(record: dict[str, Any]) -> str:
    return datetime.fromisoformat(record["created_at"].replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d")


def assert_table_equals_the_api(s3_client, api) -> None:
    """Every committed window holds exactly the API's records of its day, and nothing else is in the table."""
    objects = read_objects(s3_client, BUCKET, f"{TABLE}/")
    shape = json.loads(objects.pop(f"{TABLE}/_table.json"))  # the table's one shape
    assert (shape["window_size_seconds"], shape["file_format"], shape["compression"]) == (86400, "jsonl", "gzip")
    manifests = {key: json.loads(body) for key, body in objects.items() if "/_manifest-" in key}
    listed = {part["key"] for manifest in manifests.values() for part in manifest["parts"]}
    assert set(objects) == set(manifests) | listed  # no stale part, no lease, no uncommitted object
    expected: dict[str, list[str]] = {}
    for record in api.records():
        expected.setdefault(day_of(record), []).append(json.dumps(record, sort_keys=True))
    seen_days = set()
    for key, manifest in manifests.items():
        assert key.endswith("/_manifest-000000-240000.json"), key  # one-day windows only
        day = key.split("/date=")[1][:10]
        rows = [
            json.dumps(json.loads(line), sort_keys=True)
            for part in manifest["parts"]
            for line in gzip.decompress(objects[part["key"]]).splitlines()
        ]
        assert sorted(rows) == sorted(expected.get(day, [])), f"window {day} differs from the API"
        seen_days.add(day)
    assert set(expected) <= seen_days  # every day with conversations is in the table


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(records=700, token=TOKEN, seed=23, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


@pytest.fixture
def lake(s3_client) -> None:
    """The examples' bucket, empty."""
    if BUCKET in {b["Name"] for b in s3_client.list_buckets()["Buckets"]}:
        for key in read_objects(s3_client, BUCKET):
            s3_client.delete_object(Bucket=BUCKET, Key=key)
    else:
        s3_client.create_bucket(Bucket=BUCKET)


@pytest.mark.usefixtures("lake")
def test_the_examples_run_in_sequence_keep_one_exact_table_and_nothing_is_refused(api, s3_client):
    backfill = run_example("example_conversations_backfill")  # params: the 7 days of the fake's records
    assert len(backfill["day_ranges"]) == 7
    assert_table_equals_the_api(s3_client, api)

    daily = run_example("example_conversations_daily", FIRST_DAY + timedelta(days=3))
    assert daily["export_conversations"]["records"] > 0
    assert_table_equals_the_api(s3_client, api)

    edited = [r["id"] for r in api.records()[::100]]
    for n, rid in enumerate(edited):
        api.update_record(rid, {"title": f"edited {n}"}, updated_at=CHANGED_AT + timedelta(minutes=n))
    gone = next(r["id"] for r in api.records() if day_of(r) == day_of(api.records()[0]) and r["id"] not in edited)
    api.delete_records([gone])  # its day is re-exported for the edit on that day
    late = {"id": "late-upload", "created_at": format_timestamp(FIRST_DAY + timedelta(days=5, hours=7)), "title": "x"}
    api.insert_records([late], updated_at=CHANGED_AT + timedelta(minutes=30))
    sync = run_example("example_conversations_changes", CHANGED_AT + timedelta(hours=1))["sync_changes"]
    assert sync["changed"] == len(edited) + 1 and sync["windows"]
    assert_table_equals_the_api(s3_client, api)

    reconcile = run_example("example_conversations_reconcile", datetime(2025, 1, 12, tzinfo=UTC))
    assert len(reconcile["reconcile_last_days"]["windows"]) == 30
    assert_table_equals_the_api(s3_client, api)

    produced = run_example("example_conversations_asset_producer", FIRST_DAY + timedelta(days=3))
    run_example("example_conversations_asset_consumer")
    (window,) = produced["export_conversations"]["windows"]
    assert window["manifest"].startswith(f"{PARQUET_TABLE}/") and window["keys"][0].endswith(".parquet")
    day = window["created_at_gte"][:10]
    assert window["records"] == sum(1 for r in api.records() if day_of(r) == day)
    assert_table_equals_the_api(s3_client, api)  # the Parquet table is beside the JSONL one, not in it
