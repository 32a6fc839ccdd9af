"""ConversationsChangesToS3Operator against the fake API over HTTP and moto's S3 server over HTTP."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsTableMismatchError
from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.testing import format_timestamp
from tests.conftest import TOKEN
from tests.integration.conftest import read_objects, run_dag_source

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)
U0 = datetime(2025, 2, 1, tzinfo=UTC)  # changes happen in [U0, U0 + 1 h), then in the next hour
PREFIX = "lake/conversations"


def make_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    stamps = sorted(DAY + timedelta(seconds=rng.randrange(86_400)) for _ in range(n))
    return [
        {"id": f"c{i:04d}", "created_at": format_timestamp(t), "updated_at": format_timestamp(t), "title": f"call {i}"}
        for i, t in enumerate(stamps)
    ]


def at_hour(api, hour: int) -> list[str]:
    return sorted(api.ids_in_range(DAY + timedelta(hours=hour), DAY + timedelta(hours=hour + 1)))


def window_rows(objects: dict[str, bytes], hour: int) -> list[dict]:
    token = f"{hour:02d}0000-{hour + 1:02d}0000"
    manifest = json.loads(objects[f"{PREFIX}/date=2025-01-03/_manifest-{token}.json"])
    rows: list[dict] = []
    for part in manifest["parts"]:
        body = objects[part["key"]]
        rows += [
            json.loads(line) for line in (gzip.decompress(body) if part["key"].endswith(".gz") else body).splitlines()
        ]
    return rows


def window_objects(objects: dict[str, bytes], hour: int) -> dict[str, bytes]:
    token = f"{hour:02d}0000-{hour + 1:02d}0000"
    return {k: v for k, v in objects.items() if token in k}


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(records=make_records(600, 3), token=TOKEN, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def backfill(bucket: str, **kwargs) -> dict:
    kwargs.setdefault("window_size", timedelta(hours=1))  # the table's window size in these tests
    op = ConversationsToS3Operator(task_id="backfill", s3_bucket=bucket, s3_prefix=PREFIX, **kwargs)
    return op.execute({"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)})


def sync(bucket: str, start: datetime, end: datetime, **kwargs) -> dict:
    kwargs.setdefault("window_size", timedelta(hours=1))
    op = ConversationsChangesToS3Operator(task_id="sync", s3_bucket=bucket, s3_prefix=PREFIX, **kwargs)
    return op.execute({"data_interval_start": start, "data_interval_end": end})


def test_touched_windows_equal_the_api_and_untouched_ones_stay_byte_identical(api, s3_client, bucket):
    backfill(bucket, compression="gzip")
    before = read_objects(s3_client, bucket)
    by_id = {r["id"]: r for r in api.records()}
    edited = at_hour(api, 2)[:3] + at_hour(api, 3)[:2] + at_hour(api, 10)[:1]
    for n, rid in enumerate(edited):
        api.update_record(rid, {"title": f"edited {n}", "duration": 1000 + n}, updated_at=U0 + timedelta(minutes=n))
    deleted = at_hour(api, 10)[-1]
    api.delete_records([deleted])
    new = {"id": "new-1", "created_at": format_timestamp(DAY + timedelta(hours=15, minutes=5)), "title": "late upload"}
    api.insert_records([new], updated_at=U0 + timedelta(minutes=20))

    summary = sync(bucket, U0, U0 + timedelta(hours=1), compression="gzip")

    after = read_objects(s3_client, bucket)
    touched = {2, 3, 10, 15}
    for hour in range(24):
        if hour in touched:
            assert window_rows(after, hour) == sorted(
                (
                    r
                    for r in api.records()
                    if DAY + timedelta(hours=hour)
                    <= datetime.fromisoformat(r["created_at"])
                    < DAY + timedelta(hours=hour + 1)
                ),
                key=lambda r: (r["created_at"], r["id"]),
            )
        else:
            assert window_objects(after, hour) == window_objects(before, hour), f"window {hour} was rewritten"
    assert deleted not in {r["id"] for r in window_rows(after, 10)} and deleted in by_id
    assert summary["changed"] == len(edited) + 1
    assert [w["created_at_gte"][11:13] for w in summary["windows"]] == ["02", "03", "10", "15"]
    assert summary["records"] == sum(len(window_rows(after, h)) for h in touched)
    # The scan is one page; the re-export reads [02, 04), [10, 11) and [15, 16): one read each, a page each.
    assert summary["scan"] == {"requests": 1, "cost": 1}
    assert summary["export"] == {"requests": 3, "cost": 3}
    assert summary["cost"] == 4 == summary["requests"]
    assert not any("/_lease-" in k for k in after)


def test_a_conversation_updated_during_the_scan_is_caught_by_the_next_interval(api, s3_client, bucket):
    backfill(bucket)
    first, late = at_hour(api, 5)[0], at_hour(api, 20)[0]
    api.update_record(first, {"title": "edited"}, updated_at=U0 + timedelta(minutes=1))
    api.update_record(late, {"title": "v1"}, updated_at=U0 + timedelta(minutes=2))
    # The scan reads one record a page: after its first answer, `late` is edited again, and its updated_at
    # moves past the interval's end while the scan runs.
    api.after_request(1, lambda a: a.update_record(late, {"title": "v2"}, updated_at=U0 + timedelta(minutes=70)))
    one = sync(bucket, U0, U0 + timedelta(hours=1), per_page=1)
    two = sync(bucket, U0 + timedelta(hours=1), U0 + timedelta(hours=2), per_page=1)
    assert one["changed"] == 1 and [w["created_at_gte"][11:13] for w in one["windows"]] == ["05"]
    assert two["changed"] == 1 and [w["created_at_gte"][11:13] for w in two["windows"]] == ["20"]
    rows = {r["id"]: r for r in window_rows(read_objects(s3_client, bucket), 20)}
    assert rows[late]["title"] == "v2" and rows[late]["updated_at"] == format_timestamp(U0 + timedelta(minutes=70))


def test_nothing_changed_writes_nothing(api, s3_client, bucket):
    backfill(bucket)
    before = read_objects(s3_client, bucket)
    summary = sync(bucket, U0, U0 + timedelta(hours=1))
    assert summary["changed"] == 0 and summary["windows"] == [] and summary["cost"] == 1
    assert read_objects(s3_client, bucket) == before


def test_a_window_size_that_disagrees_with_the_table_is_refused_before_any_write(api, s3_client, bucket):
    backfill(bucket)
    before = read_objects(s3_client, bucket)
    api.update_record(at_hour(api, 7)[0], {"title": "x"}, updated_at=U0)
    with pytest.raises(ConversationsTableMismatchError, match=r"window_size: table 1:00:00, task 0:15:00"):
        sync(bucket, U0, U0 + timedelta(hours=1), window_size=timedelta(minutes=15))
    with pytest.raises(ConversationsTableMismatchError, match=r"window_size: table 1:00:00, task 1 day, 0:00:00"):
        backfill(bucket, window_size=timedelta(days=1))
    with pytest.raises(ConversationsTableMismatchError, match=r"file_format: table jsonl, task parquet"):
        backfill(bucket, file_format="parquet")
    with pytest.raises(ConversationsTableMismatchError, match=r'filters: table \{\}, task \{"platform": "zoom"\}'):
        sync(bucket, U0, U0 + timedelta(hours=1), filters={"platform": "zoom"})
    assert read_objects(s3_client, bucket) == before


def test_incremental_sync_in_a_dag_run(api, s3_client, bucket, airflow_db):
    backfill(bucket)
    rid = at_hour(api, 9)[0]
    api.update_record(rid, {"title": "from the dag"}, updated_at=U0 + timedelta(hours=23))
    body = (
        "from airflow_provider_conversations.operators.conversations_changes_to_s3 import "
        "ConversationsChangesToS3Operator\n"
        f"    ConversationsChangesToS3Operator(task_id='sync', s3_bucket={bucket!r}, s3_prefix={PREFIX!r}, "
        "window_size=datetime.timedelta(hours=1))"
    )
    _run, tis = run_dag_source("t_changes_sync", U0 + timedelta(days=1), body)
    assert tis["sync"].state == "success", tis["sync"].state
    rows = {r["id"]: r for r in window_rows(read_objects(s3_client, bucket), 9)}
    assert rows[rid]["title"] == "from the dag"
