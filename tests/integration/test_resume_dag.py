"""Resume on retry in dag.test() runs (Airflow 3.3's task state store), with the fake API and moto's S3 server.

Try 1 commits the first windows, then the API fails one request (the connection allows no retry) and the
task fails; try 2 runs at once (``retry_delay=0``). With resume, try 2 reads only the windows try 1 did
not commit; without, it reads the whole range again. Both leave the same table.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.testing import generate_conversations
from airflow_provider_conversations.testing.faults import Faults
from tests.conftest import TOKEN
from tests.integration.conftest import comparable, read_objects, run_dag

DAY = datetime(2025, 1, 3, tzinfo=timezone.utc)
FAIL_AT = 15  # the API request that fails in try 1: about 0.6 of the range is committed by then

pytestmark = [pytest.mark.usefixtures("airflow_db")]  # collected on Airflow 3.3+ only (see conftest.py)


class FailOnce(Faults):
    """Answer request number ``at`` (counted from now) with a 5xx, and no other."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.seen = at, 0
        self._lock = threading.Lock()

    def request_rates(self) -> tuple[tuple[str, float], ...]:
        with self._lock:
            self.seen += 1
            hit = self.seen == self.at
        return (("error", 1.0 if hit else 0.0),)


@pytest.fixture
def api(conversations_api_factory, set_conn):
    records = generate_conversations(2_400, seed=5, start=DAY, end=DAY + timedelta(days=1))
    api = conversations_api_factory(records=records, token=TOKEN, seed=5)
    set_conn(api.url, TOKEN, backoff_base=0.01, max_retries=0)
    return api


def run_failing_once(api, bucket: str, dag_id: str, **kwargs):
    """One dag.test() run whose try 1 fails at request :data:`FAIL_AT`; returns (task instance, try 2's XCom)."""
    api.faults = FailOnce(FAIL_AT)
    _run, ti = run_dag(
        dag_id,
        DAY + timedelta(days=1),
        s3_bucket=bucket,
        s3_prefix="lake/conv",
        window_size=timedelta(hours=1),
        max_concurrency=1,
        retries=1,
        retry_delay=timedelta(0),
        **kwargs,
    )
    return ti, ti.xcom_pull(task_ids="export")


def test_a_retry_reads_only_the_windows_its_first_try_did_not_commit(api, s3_client, bucket):
    other = f"{bucket}-full"
    s3_client.create_bucket(Bucket=other)

    ti, resumed = run_failing_once(api, bucket, "t_resume_on")
    assert (ti.state, ti.try_number) == ("success", 2)
    ti_full, full = run_failing_once(api, other, "t_resume_off", resume_on_retry=False)
    assert (ti_full.state, ti_full.try_number) == ("success", 2)

    # Try 1 committed some windows before the failing request; try 2 did not read them again.
    assert 0 < resumed["resumed"] < 24 and full["resumed"] == 0
    outcomes = [w.get("outcome", "committed") for w in resumed["windows"]]
    assert outcomes == ["resumed"] * resumed["resumed"] + ["committed"] * (24 - resumed["resumed"])
    # About 100 records a window, 100 a page: try 2 saves about one request per resumed window.
    saved = full["requests"] - resumed["requests"]
    print(f"try 2: {resumed['requests']} request(s) resuming, {full['requests']} re-reading; saved {saved}")
    assert saved >= resumed["resumed"] - 1

    # The XCom and the table are whole either way: every window, every record, the same objects.
    assert resumed["records"] == full["records"] == len(api.ids_in_range(DAY, DAY + timedelta(days=1)))
    assert comparable(read_objects(s3_client, bucket)) == comparable(read_objects(s3_client, other))
    manifests = [k for k in read_objects(s3_client, bucket) if "/_manifest-" in k]
    assert len(manifests) == 24
    counts = [json.loads(s3_client.get_object(Bucket=bucket, Key=m)["Body"].read())["record_count"] for m in manifests]
    assert sum(counts) == resumed["records"]
