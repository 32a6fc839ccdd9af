"""ConversationsChangesToS3Operator, unit level: its arguments, bad input, the scan's wire parameters.

Whole runs against the fake API and moto's S3 server (touched windows, untouched ones, mid-run updates, a
``dag.test()`` run) are in ``tests/integration/test_changes_operator.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.operators.base import BaseConversationsExportOperator
from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.operators.s3 import S3Destination
from tests.operators.conftest import BASE, BUCKET

URL = f"{BASE}/v2/conversations"
U0 = datetime(2025, 2, 1, tzinfo=timezone.utc)
CONTEXT = {"data_interval_start": U0, "data_interval_end": U0 + timedelta(hours=1)}


def op(**kwargs) -> ConversationsChangesToS3Operator:
    return ConversationsChangesToS3Operator(task_id="sync", s3_bucket=BUCKET, s3_prefix="p", **kwargs)


def test_it_is_the_exports_sibling_with_the_same_table_arguments_but_the_created_at_bounds() -> None:
    sync = op(compression="gzip", window_size=timedelta(minutes=15), max_records_per_file=7)
    assert not isinstance(sync, ConversationsToS3Operator) and not issubclass(ConversationsToS3Operator, type(sync))
    assert isinstance(sync, S3Destination) and isinstance(sync, BaseConversationsExportOperator)
    assert (sync.compression, sync.window_size, sync.max_records_per_file) == ("gzip", timedelta(minutes=15), 7)
    assert "updated_at_gte" in sync.template_fields and "created_at_gte" not in sync.template_fields
    assert set(ConversationsToS3Operator.template_fields) - {"created_at_gte", "created_at_lt"} <= set(
        sync.template_fields
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"updated_at_gte": "2025-02-02T00:00:00Z", "updated_at_lt": "2025-02-01T00:00:00Z"}, "updated_at: the range is empty or inverted"),
        ({"updated_at_gte": "2025-02-01T00:00:00Z", "updated_at_lt": "2025-02-01T00:00:00Z"}, "updated_at: the range is empty or inverted"),
        ({"updated_at_gte": "2025-02-01T00:00:00", "updated_at_lt": "2025-02-02T00:00:00Z"}, "updated_at_gte: .* has no timezone"),
        ({"filters": {"updated_at_gte": "2025-02-01T00:00:00Z"}}, "filters: updated_at_gte cannot be a filter here"),
        ({"filters": {"created_at_lt": "2025-02-01T00:00:00Z"}}, "filters: created_at_lt cannot be a filter here"),
        ({"lookback": timedelta(minutes=-1)}, "lookback: expected a timedelta of 0 or more"),
        ({"s3_prefix": "a/../b"}, "s3_prefix: 'a/../b' has an empty, '.' or '..' segment"),
    ],
)  # fmt: skip
def test_bad_literals_are_refused_at_construction(kwargs: dict, match: str) -> None:
    with pytest.raises(ConversationsFilterError, match=match):
        ConversationsChangesToS3Operator(task_id="sync", s3_bucket=BUCKET, **{"s3_prefix": "p", **kwargs})


def test_created_at_bounds_are_not_its_arguments() -> None:
    with pytest.raises(Exception, match="created_at_gte") as err:
        op(created_at_gte="2025-02-01T00:00:00Z")
    assert "Invalid arguments" in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "context", "match"),
    [
        ({"updated_at_gte": "{{ params.a }}", "updated_at_lt": "{{ params.b }}"}, {}, "updated_at: the range is empty"),
        ({"filters": "{{ params.f }}"}, CONTEXT, "filters: updated_at_lt cannot be a filter here"),
        ({}, {}, "updated_at_gte and updated_at_lt: not given and this run has no data interval"),
    ],
)
def test_bad_rendered_input_fails_before_any_request_or_write(s3, requests_mock, kwargs, context, match) -> None:
    sync = op(**kwargs)
    # What Jinja would have rendered:
    if "updated_at_gte" in kwargs:
        sync.updated_at_gte, sync.updated_at_lt = "2025-02-02T00:00:00Z", "2025-02-01T00:00:00Z"
    if "filters" in kwargs:
        sync.filters = {"updated_at_lt": "2025-02-01T00:00:00Z"}
    with pytest.raises(ConversationsFilterError, match=match):
        sync.execute(context)
    assert requests_mock.call_count == 0
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_scan_reads_by_updated_at_and_nothing_changed_writes_nothing(s3, requests_mock) -> None:
    requests_mock.get(URL, json={"metadata": {"paging": {"next_page": None, "total_count": 0}}, "data": []})
    summary = op(filters={"platform": "zoom"}).execute(CONTEXT)
    assert dict(parse_qsl(urlsplit(requests_mock.last_request.url).query)) == {
        "platform": "zoom",
        "updated_at[gte]": "2025-01-31T23:45:00.000000Z",
        "updated_at[lt]": "2025-02-01T01:00:00.000000Z",
        "sort_by": "updated_at",
        "sort_direction": "ASC",
        "per_page": "100",
        "page": "1",
        "include_paging_counts": "true",
    }
    assert summary == {
        "bucket": BUCKET,
        "prefix": "p",
        "updated_at_gte": "2025-02-01T00:00:00.000000Z",
        "updated_at_lt": "2025-02-01T01:00:00.000000Z",
        "changed": 0,
        "records": 0,
        "requests": 1,
        "cost": 1,
        "scan": {"requests": 1, "cost": 1},
        "export": {"requests": 0, "cost": 0},
        "lookback": {"seconds": 900, "conversations": 0, "windows": 0, "pages": 0},
        "skipped_older_read": 0,
        "resumed": 0,
        "windows": [],
    }
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
