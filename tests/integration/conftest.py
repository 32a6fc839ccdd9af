"""Real parts: the fake Conversations API over HTTP, moto's S3 server over HTTP, a real Airflow DB."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from airflow_provider_conversations.version_compat import (
    AIRFLOW_V_3_0_PLUS,
    AIRFLOW_V_3_1_PLUS,
    AIRFLOW_V_3_2_PLUS,
    get_base_airflow_version_tuple,
)

#: Airflow 3.0's ``dag.test()`` runs a task through ``run_task_in_process``, which keeps a failed task's
#: exception text to itself; 2.11 and 3.1+ show it in the run's output.
DAG_TEST_SHOWS_TASK_ERRORS = not (3, 0) <= get_base_airflow_version_tuple()[:2] < (3, 1)


def run_output(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """What a ``dag.test()`` run printed or logged (2.11 and 3.1+ print task logs, 3.0 logs them).

    Airflow 3.0 also prints its own DEBUG trace of each secret-masking request (``MaskSecret(value=...)``)
    to the supervisor; those lines are Airflow's, are dropped at the default INFO level, and are left out.
    """
    text = capsys.readouterr().out + caplog.text
    return "\n".join(line for line in text.splitlines() if "MaskSecret(" not in line)


# Tests of features an Airflow version does not have are not collected there (rather than skipped).
collect_ignore = [
    name
    for name, present in (
        ("test_partitions_dag.py", AIRFLOW_V_3_2_PLUS),  # asset partitions arrived in Airflow 3.2
        ("test_resume_dag.py", get_base_airflow_version_tuple() >= (3, 3, 0)),  # the task state store, 3.3
    )
    if not present
]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Create the SQLite metadata DB in the test AIRFLOW_HOME (``dag.test()`` needs one)."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], env=os.environ.copy(), check=True, capture_output=True)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-protocol server on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A boto3 client on the moto server, with ``aws_default`` pointing at it too."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
    )
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3_client) -> str:
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


def read_objects(s3_client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under ``prefix`` with its bytes."""
    out: dict[str, bytes] = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


DAG_TEMPLATE = """\
import datetime
from airflow.providers.common.compat.sdk import DAG
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.sensors.conversations import ConversationsSensor
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

with DAG({dag_id!r}, schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
         start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc), catchup=False,
         params={params!r}) as dag:
    {body}
"""


def run_dag_source(
    dag_id: str,
    logical_date: datetime | None,
    body: str,
    params: dict[str, Any] | None = None,
    *,
    register_assets: bool = False,
):
    """Write a DAG file whose tasks are ``body`` into the dags folder and run it with ``dag.test()``.

    (``dag.test()`` only runs DAGs that a bundle holds.) Returns the DagRun and its task instances by id.
    ``register_assets``: write the DAG and its assets to the DB first, as the DAG processor would
    (``dag.test()`` does so itself from 3.1 on; 2.11 records no event for an unknown dataset, and 3.0
    refuses a task whose outlets are not active assets).
    """
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    path.write_text(DAG_TEMPLATE.format(dag_id=dag_id, params=params or {}, body=body))
    spec = importlib.util.spec_from_file_location(f"testdag_{dag_id}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if register_assets:
        _register_assets(module.dag)
    date_arg = "logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date"  # dag.test()'s name for it on 2.x
    run = module.dag.test(**{date_arg: logical_date}) if logical_date else module.dag.test()
    return run, {ti.task_id: ti for ti in run.get_task_instances()}


def _register_assets(dag: Any) -> None:
    if not AIRFLOW_V_3_0_PLUS:
        dag.sync_to_db()
    elif not AIRFLOW_V_3_1_PLUS:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.models.dag import DAG as SchedulerDAG
        from airflow.serialization.serialized_objects import SerializedDAG

        DagBundlesManager().sync_bundles_to_db()
        scheduler_dag = SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(dag))  # as dag.test() makes it
        # 3.0 only: the scheduler-side DAG writes DAG rows; airflow.sdk.DAG has no bulk_write_to_db.
        SchedulerDAG.bulk_write_to_db("dags-folder", None, [scheduler_dag])  # noqa: AIR311


def run_dag(dag_id: str, logical_date: datetime | None, params: dict[str, Any] | None = None, **op_kwargs: Any):
    """Run a one-task DAG: ``ConversationsToS3Operator(task_id="export", **op_kwargs)``."""
    run, tis = run_dag_source(
        dag_id, logical_date, f"ConversationsToS3Operator(task_id='export', **{op_kwargs!r})", params
    )
    return run, tis["export"]


def start_api(factory, set_conn, records: list[dict[str, Any]] | int, seed: int):
    """A fake API with ``records`` (or that many generated with ``seed``) behind ``conversations_default``."""
    from tests.conftest import TOKEN

    api = factory(records=records, token=TOKEN, seed=seed)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def comparable(objects: dict[str, bytes]) -> dict[str, bytes]:
    """``objects`` with each manifest's ``read_started_at`` taken out: what a rerun over the same records
    must leave byte-identical (data objects, manifests otherwise, the table's shape marker).
    """
    out = dict(objects)
    for key, body in objects.items():
        if "/_manifest-" in key:
            manifest = json.loads(body)
            manifest.pop("read_started_at", None)
            out[key] = json.dumps(manifest, sort_keys=True).encode()
    return out


def window_objects(objects: dict[str, bytes]) -> dict[str, bytes]:
    """``objects`` without the table's shape marker (``_table.json``): the windows' parts and manifests."""
    return {k: v for k, v in objects.items() if not k.endswith("_table.json")}
