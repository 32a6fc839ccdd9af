"""The OpenLineage provider's listener in a dag.test() run: the COMPLETE event has the API in and one table out.

The run is in a subprocess: the OpenLineage provider reads its configuration once per process (and
registers its listener only when a transport is configured), so a file transport is set up there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.integration.conftest import start_api

ROOT = Path(__file__).resolve().parents[2]
DAY, LOGICAL = datetime(2025, 1, 3, tzinfo=timezone.utc), datetime(2025, 1, 4, tzinfo=timezone.utc)
SCRIPT = """\
import datetime, sys
sys.path.insert(0, {root!r})
from tests.integration.conftest import run_dag_source, start_api
run, tis = run_dag_source({dag_id!r}, datetime.datetime(2025, 1, 4, tzinfo=datetime.timezone.utc), {body!r}, {params!r})
print("STATE=" + str(tis["export"].state))
"""

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture
def api(conversations_api_factory, set_conn):
    return start_api(conversations_api_factory, set_conn, 800, seed=4)


def run_with_openlineage(tmp_path: Path, dag_id: str, body: str, params: dict) -> list[dict]:
    """Run the DAG in a subprocess with the OpenLineage file transport; return its events."""
    events = tmp_path / "openlineage.jsonl"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT), dag_id=dag_id, body=body, params=params))
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "conversations-tests",
    }
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=240)
    assert "STATE=success" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads(line) for line in events.read_text().splitlines() if line.strip()]


def test_complete_event_has_the_api_input_and_the_single_table_output(api, s3_client, bucket, tmp_path):
    body = (
        "ConversationsToS3Operator(task_id='export', s3_bucket=params_bucket, s3_prefix='lake/conv', "
        "conversations_conn_id='{{ params.conn }}', aws_conn_id='{{ params.aws }}', max_records_per_file=10)"
    ).replace("params_bucket", repr(bucket))
    events = run_with_openlineage(tmp_path, "t_lineage", body, {"conn": "conversations_default", "aws": "aws_default"})
    task_events = {e["eventType"]: e for e in events if e["job"]["name"] == "t_lineage.export"}
    assert {"START", "COMPLETE"} <= set(task_events)
    complete = task_events["COMPLETE"]
    api_input = {"namespace": api.url.rstrip("/"), "name": "/v2/conversations"}
    assert [{k: d[k] for k in ("namespace", "name")} for d in complete["inputs"]] == [api_input]
    start_datasets = task_events["START"]["inputs"] + task_events["START"]["outputs"]
    assert [(d["namespace"], d["name"]) for d in start_datasets] == [
        (api_input["namespace"], api_input["name"]),
        (f"s3://{bucket}", "lake/conv"),
    ]
    (output,) = complete["outputs"]  # one table: no per-object dataset
    assert (output["namespace"], output["name"]) == (f"s3://{bucket}", "lake/conv")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == len(api.ids_in_range(DAY, LOGICAL)) > 100
    objects = s3_client.list_objects_v2(Bucket=bucket)["Contents"]
    size = sum(o["Size"] for o in objects if "/part-" in o["Key"])
    assert output["outputFacets"]["outputStatistics"]["size"] == size
    assert [f["name"] for f in output["facets"]["schema"]["fields"]][:2] == ["id", "duration"]
    datasets = [d for e in events for d in e.get("inputs", []) + e.get("outputs", [])]
    assert not [d for d in datasets if d["namespace"].startswith("file")]  # no local staging file
    assert len({(d["namespace"], d["name"]) for d in datasets}) == 2
