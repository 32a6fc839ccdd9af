"""ConversationsToS3Operator inside real DAG runs: fake API over HTTP, moto S3 over HTTP, dag.test()."""

from __future__ import annotations

import collections
import gzip
import itertools
import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from tests.conftest import TOKEN
from tests.integration.conftest import (
    DAG_TEST_SHOWS_TASK_ERRORS,
    comparable,
    read_objects,
    run_output,
    window_objects,
)
from tests.integration.conftest import run_dag as _run_dag

UTC = timezone.utc
LOGICAL = datetime(2025, 1, 4, tzinfo=UTC)
DAY = datetime(2025, 1, 3, tzinfo=UTC)  # the data interval of a daily run at LOGICAL: [DAY, LOGICAL)

pytestmark = pytest.mark.usefixtures("airflow_db")


def run_dag(dag_id: str, logical_date: datetime | None = LOGICAL, **kwargs):
    return _run_dag(dag_id, logical_date, **kwargs)


def data_records(objects: dict[str, bytes]) -> list[dict]:
    rows: list[dict] = []
    for key, body in sorted(objects.items()):
        if key.rsplit("/", 1)[1].startswith("part-"):
            text = gzip.decompress(body) if key.endswith(".gz") else body
            rows += [json.loads(line) for line in text.decode("utf-8").splitlines()]
    return rows


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(records=4000, token=TOKEN, seed=11, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def test_daily_run_lands_exactly_the_days_records_once(api, s3_client, bucket):
    _run, ti = run_dag("t_daily", s3_bucket=bucket, s3_prefix="lake/conversations", compression="gzip")
    assert ti.state == "success", ti.state
    objects = window_objects(read_objects(s3_client, bucket))
    rows = data_records(objects)
    ids = [r["id"] for r in rows]
    expected = api.ids_in_range(DAY, DAY + timedelta(days=1))
    assert len(ids) == len(set(ids)) and set(ids) == expected and len(expected) > 300
    by_id = {r["id"]: r for r in api.records()}
    assert all(row == by_id[row["id"]] for row in rows)  # exactly as the API returned them
    manifests = sorted(k for k in objects if "/_manifest-" in k)
    assert len(manifests) == 1 and all(
        k.startswith("lake/conversations/date=2025-01-03/") for k in objects
    )  # one day: one window
    total = sum(json.loads(objects[m])["record_count"] for m in manifests)
    assert total == len(expected)
    for m in manifests:
        manifest = json.loads(objects[m])
        assert manifest["complete"] and all(p["key"] in objects for p in manifest["parts"])


def test_rerun_is_byte_identical_and_removes_stale_parts(api, s3_client, bucket):
    common = {"s3_bucket": bucket, "s3_prefix": "p", "window_size": timedelta(hours=6)}
    run_dag("t_rerun_a", max_records_per_file=20, **common)
    first = read_objects(s3_client, bucket)
    run_dag("t_rerun_b", max_records_per_file=20, **common)
    assert comparable(read_objects(s3_client, bucket)) == comparable(first)
    run_dag("t_rerun_c", max_records_per_file=1000, **common)
    third = read_objects(s3_client, bucket)
    assert len([k for k in third if "/part-" in k]) == 4 < len([k for k in first if "/part-" in k])
    assert sorted(r["id"] for r in data_records(third)) == sorted(r["id"] for r in data_records(first))


def test_parts_split_at_max_records_per_file(api, s3_client, bucket):
    run_dag("t_split", s3_bucket=bucket, s3_prefix="p", window_size=timedelta(days=1), max_records_per_file=100)
    objects = read_objects(s3_client, bucket)
    (manifest_key,) = [k for k in objects if "_manifest" in k]
    manifest = json.loads(objects[manifest_key])
    counts = [p["records"] for p in manifest["parts"]]
    assert all(c == 100 for c in counts[:-1]) and 0 < counts[-1] <= 100 and sum(counts) == manifest["record_count"]
    for part in manifest["parts"]:
        assert len(objects[part["key"]].splitlines()) == part["records"]


def test_empty_window_writes_a_manifest_and_no_data_file(api, s3_client, bucket):
    _run, ti = run_dag(
        "t_empty",
        s3_bucket=bucket,
        s3_prefix="p",
        created_at_gte="2030-01-01T00:00:00Z",
        created_at_lt="2030-01-01T01:00:00Z",
    )
    assert ti.state == "success"
    objects = window_objects(read_objects(s3_client, bucket))
    assert list(objects) == ["p/date=2030-01-01/_manifest-000000-010000.json"]
    assert json.loads(objects["p/date=2030-01-01/_manifest-000000-010000.json"])["record_count"] == 0


def test_templated_filters_are_rendered_and_applied(api, s3_client, bucket):
    run_dag(
        "t_filters",
        s3_bucket="{{ params.bucket }}",
        s3_prefix="zoom/{{ ds }}",
        filters={"platform": "{{ params.platform }}"},
        params={"bucket": bucket, "platform": "zoom"},
    )
    rows = data_records(read_objects(s3_client, bucket, "zoom/2025-01-04/"))
    expected = {r["id"] for r in api.records() if r["platform"] == "zoom"} & api.ids_in_range(
        DAY, DAY + timedelta(days=1)
    )
    assert {r["id"] for r in rows} == expected and expected


def test_manual_run_without_interval_fails_clearly_before_any_io(api, s3_client, bucket):
    op = ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="p")
    with pytest.raises(ConversationsFilterError, match="no data interval"):
        op.execute({"data_interval_start": DAY, "data_interval_end": DAY})
    assert api.stats.requests == 0 and read_objects(s3_client, bucket) == {}


def test_bad_rendered_filter_fails_before_any_request_or_write(api, s3_client, bucket, capsys, caplog):
    _run, ti = run_dag(
        "t_bad_render", s3_bucket=bucket, s3_prefix="p", filters={"platform": "{{ params.p }}"}, params={"p": "skype"}
    )
    assert ti.state == "failed"
    if DAG_TEST_SHOWS_TASK_ERRORS:
        assert "platform: 'skype' is not allowed; allowed values: bluejeans" in run_output(capsys, caplog)
    assert api.stats.requests == 0 and read_objects(s3_client, bucket) == {}


def test_missing_bucket_fails_before_any_request(api, s3_client, capsys, caplog):
    _run, ti = run_dag("t_no_bucket", s3_bucket="no-such-bucket-x", s3_prefix="p")
    assert ti.state == "failed" and api.stats.requests == 0
    if DAG_TEST_SHOWS_TASK_ERRORS:
        assert "s3_bucket: bucket 'no-such-bucket-x' does not exist" in run_output(capsys, caplog)


def test_execute_returns_a_small_summary_for_xcom(api, s3_client, bucket):
    op = ConversationsToS3Operator(
        task_id="x", s3_bucket=bucket, s3_prefix="p", window_size=timedelta(hours=12), compression="gzip"
    )
    summary = op.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    json.dumps(summary)
    assert [w["created_at_gte"] for w in summary["windows"]] == [
        "2025-01-03T00:00:00.000000Z",
        "2025-01-03T12:00:00.000000Z",
    ]
    assert summary["records"] == len(api.ids_in_range(DAY, LOGICAL)) == sum(w["records"] for w in summary["windows"])
    written = set(window_objects(read_objects(s3_client, bucket)))
    assert {k for w in summary["windows"] for k in w["keys"]} | {w["manifest"] for w in summary["windows"]} == written
    assert summary["cost"] == api.stats.total_cost and "data" not in json.dumps(summary)


def test_requests_overlap_and_max_concurrency_1_sends_one_at_a_time(
    conversations_api_factory, set_conn, s3_client, bucket
):
    api = conversations_api_factory(records=2000, token=TOKEN, seed=3, latency=0.05)
    set_conn(api.url, TOKEN, max_concurrency=4)
    op = ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="p", window_size=timedelta(hours=6))
    summary = op.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    assert summary["records"] == len(api.ids_in_range(DAY, LOGICAL))
    times = sorted(e.time for e in api.request_log)
    # Requests overlap: some start within one latency of another.
    overlaps = sum(1 for a, b in itertools.pairwise(times) if b - a < 0.05 / 2)
    assert overlaps >= len(times) // 4
    ops = ConversationsToS3Operator(
        task_id="y", s3_bucket=bucket, s3_prefix="q", window_size=timedelta(hours=6), max_concurrency=1
    )
    api.reset_stats()
    ops.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    times = sorted(e.time for e in api.request_log)
    assert all(b - a >= 0.05 * 0.9 for a, b in itertools.pairwise(times))  # one at a time


def test_a_failing_window_fails_the_task_and_leaves_it_uncommitted(api, s3_client, bucket):
    api.faults.error_rate = 1.0
    op = ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="p", window_size=timedelta(hours=6))
    with pytest.raises(Exception, match="the API failed"):
        op.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    assert not [k for k in read_objects(s3_client, bucket) if "_manifest" in k]


def test_cost_does_not_grow_with_the_number_of_windows(api, s3_client, bucket):
    """One read over the range: 96 windows of 15 minutes cost what one window would."""
    op = ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="p", window_size=timedelta(minutes=15))
    summary = op.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    n = len(api.ids_in_range(DAY, LOGICAL))
    assert len(summary["windows"]) == 96 and summary["records"] == n
    assert api.stats.requests == api.stats.total_cost == math.ceil(n / 100)


def test_s3_requests_per_window(api, s3_client, bucket, monkeypatch):
    """A fresh window costs its part's PUT and its manifest's PUT, plus its lease (PUT, HEAD before the commit,
    DELETE) and a listing of its day under the lease; a new table's shape marker costs a GET, a listing of each
    day and its PUT once. A rerun also reads each committed manifest (its read start) and its marker.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    calls: list[str] = []
    real_get_conn = S3Hook.get_conn

    def counting_get_conn(self):
        client = real_get_conn(self)
        if not getattr(client, "_test_counted", False):
            client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
            client._test_counted = True
        return client

    monkeypatch.setattr(S3Hook, "get_conn", counting_get_conn)
    op = ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="p", window_size=timedelta(hours=1))
    summary = op.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    assert all(w["records"] for w in summary["windows"]) and all(len(w["keys"]) == 1 for w in summary["windows"])
    assert sorted(collections.Counter(calls).items()) == [
        ("DeleteObject", 24),
        ("GetObject", 1),
        ("HeadBucket", 1),
        ("HeadObject", 24),
        ("ListObjectsV2", 1 + 24),
        ("PutObject", 1 + 24 * 3),
    ]
    calls.clear()
    op.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})  # a rerun: the same keys, nothing stale
    assert sorted(collections.Counter(calls).items()) == [
        ("DeleteObject", 24),
        ("GetObject", 1 + 24),
        ("HeadBucket", 1),
        ("HeadObject", 24),
        ("ListObjectsV2", 24),
        ("PutObject", 24 * 3),
    ]


@pytest.mark.parametrize(("token", "retries", "state"), [("tok-WRONG", 2, "failed"), (TOKEN, 2, "success")])
def test_a_rejected_token_fails_the_task_without_airflow_retries(
    api, set_conn, s3_client, bucket, token, retries, state
):
    set_conn(api.url, token, backoff_base=0.01)
    kwargs = {"retries": retries, "retry_delay": timedelta(seconds=1)}
    _run, ti = run_dag(f"t_auth_{state}", s3_bucket=bucket, s3_prefix="p", **kwargs)
    assert ti.state == state
    assert api.stats.status_counts.get(401, 0) == (1 if state == "failed" else 0)  # one attempt, no retry
