"""ConversationsSensor in poke and deferrable mode inside real DAG runs (dag.test runs triggers inline)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.testing import generate_conversations
from tests.integration.conftest import DAG_TEST_SHOWS_TASK_ERRORS, run_dag_source, run_output

UTC = timezone.utc
LOGICAL = datetime(2025, 1, 4, tzinfo=UTC)
DAY = datetime(2025, 1, 3, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("airflow_db")


def add_later(api, after_requests: int, n: int) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 20
        while api.stats.requests < after_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        api.add_records(generate_conversations(n, seed=5, start=DAY, end=DAY + timedelta(days=1)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


SENSOR = (
    "ConversationsSensor(task_id='wait', min_count=25, poke_interval=0.1, timeout=30, mode={mode!r}, "
    "deferrable={deferrable!r}) >> ConversationsToS3Operator(task_id='export', s3_bucket={bucket!r}, s3_prefix='p')"
)


@pytest.mark.parametrize(("mode", "deferrable"), [("poke", False), ("poke", True)])
def test_sensor_waits_for_records_then_the_export_runs(api, s3_client, bucket, mode, deferrable, capsys, caplog):
    thread = add_later(api, after_requests=3, n=25)
    _run, tis = run_dag_source(
        f"t_sensor_{mode}_{deferrable}", LOGICAL, SENSOR.format(mode=mode, deferrable=deferrable, bucket=bucket)
    )
    thread.join()
    assert tis["wait"].state == "success" and tis["export"].state == "success"
    counts = [e for e in api.request_log if dict(e.query).get("per_page") == "1"]  # the sensor's count requests
    assert len(counts) >= 4  # it polled before the records arrived
    assert all(dict(e.query)["created_at[gte]"] == "2025-01-03T00:00:00.000000Z" for e in counts)
    assert sum(1 for k in s3_client.list_objects_v2(Bucket=bucket)["Contents"] if "/part-" in k["Key"]) >= 1
    out = run_output(capsys, caplog)
    assert ("Deferring: waiting for 25 conversation(s)" in out) is deferrable
    assert ("25 conversation(s) found (wanted 25)" in out) is deferrable  # resumed from the trigger's event


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_timeout_fails_or_skips_with_soft_fail(api, s3_client, deferrable):
    body = (
        f"ConversationsSensor(task_id='wait', poke_interval=0.1, timeout=0.5, deferrable={deferrable!r}), "
        f"ConversationsSensor(task_id='wait_soft', poke_interval=0.1, timeout=0.5, soft_fail=True, deferrable={deferrable!r})"
    )
    _run, tis = run_dag_source(f"t_sensor_timeout_{deferrable}", LOGICAL, body)
    assert tis["wait"].state == "failed"
    assert tis["wait_soft"].state == "skipped"


def test_deferrable_sensor_fails_clearly_on_a_bad_token(api, set_conn, capsys, caplog):
    set_conn(api.url, "wrong-token")
    _run, tis = run_dag_source(
        "t_sensor_401", LOGICAL, "ConversationsSensor(task_id='wait', deferrable=True, timeout=30)"
    )
    assert tis["wait"].state == "failed"
    out = run_output(capsys, caplog)
    assert "wrong-token" not in out
    assert len(api.request_log) == 1  # the trigger's one request: a 401 is not retried
    if DAG_TEST_SHOWS_TASK_ERRORS:
        assert "rejected the token (401 Unauthorized)" in out
