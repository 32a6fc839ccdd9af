"""ConversationsToS3Operator, unit level, as amazon's test_http_to_s3.py does it.

requests_mock answers the API, moto's ``mock_aws`` is S3, and both connections come from
``AIRFLOW_CONN_`` variables. Whole DAG runs against the fake API over HTTP are in
``tests/integration/test_operator_dag.py``. The sample log lines and XCom of ``docs/operator.rst``
are checked against what the operator really logs and returns.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsAuthError,
    ConversationsDestinationError,
    ConversationsFilterError,
)
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.timestamps import format_timestamp
from airflow_provider_conversations.version_compat import AirflowFailException
from tests.conftest import TOKEN
from tests.integration.test_docs_samples import doc_block

BASE = "https://api.example.com"
URL = f"{BASE}/v2/conversations"
BUCKET = "conversations-lake"
PREFIX = "raw/conversations"
DAY = datetime(2025, 1, 3, tzinfo=timezone.utc)
CONTEXT = {"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)}

# 30 records, one every 48 minutes: every other hourly window has one.
RECORDS = [
    {"id": f"c{i:02d}", "created_at": format_timestamp(DAY + timedelta(minutes=48 * i)), "title": f"Call {i}"}
    for i in range(30)
]


@pytest.fixture
def api(requests_mock):
    # The whole day fits on one page: the read is one request (page 1, with counts).
    requests_mock.get(
        URL,
        json={"metadata": {"paging": {"next_page": None, "total_count": len(RECORDS)}}, "data": RECORDS},
        headers={"x-ratelimit-remaining-minute": "599", "x-ratelimit-endpoint-cost": "1"},
    )
    return requests_mock


def objects(s3) -> dict[str, bytes]:
    """The table's data parts and manifests (not the table's shape marker)."""
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
        for o in listing
        if not o["Key"].endswith("/_table.json")
    }


def part_key(prefix: str, data: bytes, number: int = 0) -> str:
    """A part's key: its window's prefix, its number and the first 16 hex digits of its MD5."""
    return f"{prefix}{number:05d}-{hashlib.md5(data).hexdigest()[:16]}.jsonl.gz"


def test_execute_reads_the_range_once_and_writes_each_window(s3, api):
    operator = ConversationsToS3Operator(
        task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX, window_size=timedelta(hours=12), compression="gzip"
    )
    summary = operator.execute(CONTEXT)

    assert api.call_count == 1
    request = api.last_request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert parse_qsl(urlsplit(request.url).query) == [
        ("created_at[gte]", "2025-01-03T00:00:00.000000Z"),
        ("created_at[lt]", "2025-01-04T00:00:00.000000Z"),
        ("sort_by", "created_at"),
        ("sort_direction", "ASC"),
        ("per_page", "100"),
        ("page", "1"),
        ("include_paging_counts", "true"),
    ]
    written = objects(s3)
    parts = {k: gzip.decompress(v).decode().splitlines() for k, v in written.items() if "/part-" in k}
    first, second = sorted(parts)
    assert first == part_key(f"{PREFIX}/date=2025-01-03/part-000000-120000-", written[first])
    assert second == part_key(f"{PREFIX}/date=2025-01-03/part-120000-240000-", written[second])
    assert [json.loads(line) for key in sorted(parts) for line in parts[key]] == RECORDS
    manifest = json.loads(written[f"{PREFIX}/date=2025-01-03/_manifest-000000-120000.json"])
    assert manifest["complete"] and manifest["record_count"] == 15
    assert summary == {
        "bucket": BUCKET,
        "prefix": PREFIX,
        "created_at_gte": "2025-01-03T00:00:00.000000Z",
        "created_at_lt": "2025-01-04T00:00:00.000000Z",
        "records": 30,
        "requests": 1,
        "cost": 1,
        "skipped_older_read": 0,
        "resumed": 0,
        "windows": [
            {
                "created_at_gte": "2025-01-03T00:00:00.000000Z",
                "created_at_lt": "2025-01-03T12:00:00.000000Z",
                "records": 15,
                "pages": 1,
                "keys": [first],
                "manifest": f"{PREFIX}/date=2025-01-03/_manifest-000000-120000.json",
            },
            {
                "created_at_gte": "2025-01-03T12:00:00.000000Z",
                "created_at_lt": "2025-01-04T00:00:00.000000Z",
                "records": 15,
                "pages": 1,
                "keys": [second],
                "manifest": f"{PREFIX}/date=2025-01-03/_manifest-120000-240000.json",
            },
        ],
    }


def test_missing_bucket_is_a_destination_error_before_any_request(s3, api):
    operator = ConversationsToS3Operator(task_id="export", s3_bucket="no-such-bucket", s3_prefix=PREFIX)
    with pytest.raises(ConversationsDestinationError, match="s3_bucket: bucket 'no-such-bucket' does not exist"):
        operator.execute(CONTEXT)
    assert api.call_count == 0


def test_an_api_failure_fails_the_task_and_commits_nothing(s3, requests_mock):
    requests_mock.get(URL, status_code=401, json={"error": "Unauthorized"})
    operator = ConversationsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX)
    with pytest.raises(Exception, match="401"):
        operator.execute(CONTEXT)
    assert objects(s3) == {}


def _normalised(text: str) -> str:
    return re.sub(r"\d+", "N", re.sub(r"-[0-9a-f]{16}\.", "-HASH.", text))


def _doc_block(title: str, directive: str) -> str:
    """The first ``directive`` code block after the section ``title`` of docs/operator.rst."""
    return doc_block("operator.rst", f"\n{title}\n", directive)


def test_docs_sample_log_lines_are_lines_the_operator_logs(s3, api, capsys, caplog):
    caplog.set_level("INFO")
    operator = ConversationsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX, compression="gzip")
    operator.execute(CONTEXT)
    logged = _normalised(capsys.readouterr().out + caplog.text)
    samples = [line for line in _doc_block("XCom and logs", ".. code-block:: text").splitlines() if line != "..."]
    assert len(samples) == 3
    for sample in samples:
        assert _normalised(sample) in logged, f"docs/operator.rst shows a log line the operator does not log: {sample}"


def test_docs_sample_xcom_has_the_shape_the_operator_returns(s3, api):
    operator = ConversationsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX, compression="gzip")
    summary = operator.execute(CONTEXT)
    sample = json.loads(_doc_block("XCom and logs", ".. code-block:: json"))
    assert list(sample) == list(summary)
    assert list(sample["windows"][0]) == list(summary["windows"][0])
    assert sample["windows"][0]["keys"][0].endswith(".jsonl.gz") and summary["windows"][0]["keys"][0].endswith(".gz")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": {"platform": "skype"}}, "platform: 'skype' is not allowed"),
        ({"filters": {"created_at_gte": "2025-01-01T00:00:00Z"}}, "pass created_at_gte/created_at_lt instead"),
        ({"created_at_gte": "2025-01-02T00:00:00Z", "created_at_lt": "2025-01-01T00:00:00Z"}, "empty or inverted"),
        ({"created_at_gte": "2025-01-01T00:00:00", "created_at_lt": "2025-01-02T00:00:00Z"}, "has no timezone"),
        ({"compression": "zip"}, "compression: 'zip' is not supported"),
        ({"window_size": timedelta(hours=5)}, "window_size: 5:00:00 must be whole seconds and divide one day"),
        ({"per_page": 0}, "per_page: 0 is out of range; allowed: [1, 100]"),
        ({"per_page": "50"}, "per_page: expected an integer [1, 100], got '50'"),
        ({"max_records_per_file": 0}, "max_records_per_file: expected an integer >= 1, got 0"),
        ({"max_concurrency": 0}, "max_concurrency: expected an integer >= 1, got 0"),
        ({"max_concurrency": True}, "max_concurrency: expected an integer >= 1, got True"),
        ({"file_format": "csv"}, "file_format: 'csv' is not supported; allowed: 'jsonl', 'parquet'"),
        ({"compression": "zstd"}, "compression: 'zstd' is not supported; allowed: None, 'gzip'"),
        (
            {"file_format": "parquet", "compression": "lz4"},
            "compression: 'lz4' is not supported with file_format='parquet'; allowed: None, 'snappy', 'gzip', 'zstd'",
        ),
        ({"s3_extra_args": "AES256"}, "s3_extra_args: expected a dict of S3 upload arguments, got str"),
        ({"s3_extra_args": {"Encrypt": True}}, "s3_extra_args: 'Encrypt' not accepted by boto3 for uploads"),
    ],
)
def test_bad_literal_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ConversationsFilterError) as exc:
        ConversationsToS3Operator(task_id="x", s3_bucket="b", s3_prefix="p", **kwargs)
    assert message in str(exc.value)


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_fail_the_task_without_airflow_retries(s3, requests_mock, status):
    requests_mock.get(URL, status_code=status, json={"error": "no"})
    operator = ConversationsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX, retries=3)
    with pytest.raises(AirflowFailException, match=f"status={status}") as exc:
        operator.execute(CONTEXT)
    assert isinstance(exc.value, ConversationsAuthError) and exc.value.status == status  # still an API error
    assert isinstance(exc.value.__cause__, ConversationsAPIError) and TOKEN not in str(exc.value)
    assert "; not retried: bad credentials do not heal by retrying; status=" in str(exc.value)
    assert objects(s3) == {}


def test_other_api_errors_stay_retryable(s3, requests_mock):
    requests_mock.get(URL, status_code=404, json={"error": "Not Found"})
    operator = ConversationsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX)
    with pytest.raises(ConversationsAPIError) as exc:
        operator.execute(CONTEXT)
    assert not isinstance(exc.value, AirflowFailException)


def test_connection_ids_are_templated():
    assert {"conversations_conn_id", "aws_conn_id"} <= set(ConversationsToS3Operator.template_fields)


def test_parts_are_staged_in_tmp_dir_and_removed(s3, api, tmp_path, monkeypatch):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    staged: list[Path] = []
    real_load_file = S3Hook.load_file

    def spying_load_file(self, filename, *args, **kwargs):
        staged.append(Path(filename))
        return real_load_file(self, filename, *args, **kwargs)

    monkeypatch.setattr(S3Hook, "load_file", spying_load_file)
    operator = ConversationsToS3Operator(
        task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX, tmp_dir=str(tmp_path), window_size=timedelta(hours=1)
    )
    operator.execute(CONTEXT)
    assert len(staged) == 24 and all(tmp_path in p.parents for p in staged)  # a part per hourly window
    assert list(tmp_path.iterdir()) == []  # every window's staging directory is gone


@pytest.mark.parametrize(
    ("tmp_dir", "message"),
    [("/no/such/dir", "tmp_dir: '/no/such/dir' is not an existing directory"), (5, "tmp_dir: expected a directory")],
)
def test_bad_tmp_dir_fails_before_any_request(s3, api, tmp_dir, message):
    operator = ConversationsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=PREFIX, tmp_dir=tmp_dir)
    with pytest.raises(ConversationsFilterError, match=re.escape(message)):
        operator.execute(CONTEXT)
    assert api.call_count == 0 and objects(s3) == {}


def test_openlineage_on_start_and_on_complete(s3, api):
    operator = ConversationsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=f"/{PREFIX}/")
    start = operator.get_openlineage_facets_on_start()
    assert [(d.namespace, d.name) for d in start.inputs] == [(BASE, "/v2/conversations")]
    assert [(d.namespace, d.name) for d in start.outputs] == [(f"s3://{BUCKET}", PREFIX)]
    assert start.outputs[0].outputFacets == {} and start.outputs[0].facets["schema"].fields

    summary = operator.execute(CONTEXT)
    complete = operator.get_openlineage_facets_on_complete(None)
    (output,) = complete.outputs  # one dataset for the table: no object, no local staging file
    assert complete.inputs == start.inputs and (output.namespace, output.name) == (f"s3://{BUCKET}", PREFIX)
    stats = output.outputFacets["outputStatistics"]
    parts = {k: v for k, v in objects(s3).items() if "/part-" in k}
    assert stats.rowCount == summary["records"] == 30 and stats.size == sum(len(v) for v in parts.values())
