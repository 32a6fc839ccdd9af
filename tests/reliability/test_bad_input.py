"""Bad input table: every wrong connection, filter, range, argument, template and API answer fails clearly.

One row per case: how it is built and run, the exception expected (``None``: the DAG run's task fails),
the message fragments that must name the field and what is allowed, and whether the case is decidable
before I/O. Pre-I/O cases must send no HTTP request and write nothing to S3. API cases run against a
real server on loopback and must fail on the first answer (401/403/422 and bodies we cannot read are
not retried here) with the status, the API's message and the request id in the error.

Tasks run against the fake Conversations API (``strict_params=True``) and moto's S3 server; template
cases run inside ``dag.test()``.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_conversations.exceptions import (
    ConversationsDestinationError,
)
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.sensors.conversations import ConversationsSensor
from airflow_provider_conversations.testing import Faults, generate_conversations
from tests.conftest import TOKEN
from tests.integration.conftest import read_objects, run_dag
from tests.reliability.bad_input_cases import (
    API,
    ARGUMENT_CASES,
    DAY,
    INTERVAL,
    LOGICAL,
    MISSING_BUCKET,
    ONE_WINDOW,
    UUID_RE,
    Case,
    Conn,
    Filt,
    Resp,
    filters,
    row,
)

CASES = [
    *ARGUMENT_CASES,
    # -- other arguments of the operator --------------------------------------------------------------------------
    row(
        "window-size-not-dividing-a-day",
        "init",
        Filt,
        "window_size: 5:00:00 must be whole seconds and divide one day evenly",
        task={"window_size": timedelta(hours=5)},
    ),
    row(
        "window-size-not-timedelta",
        "init",
        Filt,
        "window_size: expected a datetime.timedelta, got str",
        task={"window_size": "1h"},
    ),
    row("per-page-0", "init", Filt, "per_page: 0 is out of range; allowed: [1, 100]", task={"per_page": 0}),
    row("per-page-101", "init", Filt, "per_page: 101 is out of range; allowed: [1, 100]", task={"per_page": 101}),
    row(
        "max-records-per-file-0",
        "init",
        Filt,
        "max_records_per_file: expected an integer >= 1, got 0",
        task={"max_records_per_file": 0},
    ),
    row(
        "max-active-windows-0",
        "init",
        Filt,
        "max_concurrency: expected an integer >= 1, got 0",
        task={"max_concurrency": 0},
    ),
    row(
        "compression-zstd",
        "init",
        Filt,
        "compression: 'zstd' is not supported; allowed: None, 'gzip'",
        task={"compression": "zstd"},
    ),
    row("s3-bucket-empty", "execute", Filt, "s3_bucket: expected a bucket name, got ''", task={"s3_bucket": ""}),
    row(
        "s3-bucket-missing",  # an I/O outcome, not a bad argument
        "execute",
        ConversationsDestinationError,
        f"s3_bucket: bucket '{MISSING_BUCKET}' does not exist or is not reachable",
        task={"s3_bucket": MISSING_BUCKET},
    ),
    # -- the sensor ------------------------------------------------------------------------------------------------
    row(
        "sensor-min-count-0",
        "init",
        Filt,
        "min_count: expected an integer >= 1, got 0",
        sensor=True,
        task={"min_count": 0},
    ),
    row(
        "sensor-deferrable-no-password",
        "execute",
        Conn,
        "no API token",
        sensor=True,
        task={"deferrable": True},
        conn={"token": None},
    ),
    # -- templates, rendered inside a DAG run ----------------------------------------------------------------------
    row(
        "template-undefined-param",
        "dag",
        None,
        "Exception rendering Jinja template for task 'export', field 'filters'",
        "has no attribute 'nope'",
        task=filters(platform="{{ params.nope.x }}"),
    ),
    row(
        "template-undefined-macro",
        "dag",
        None,
        "field 's3_prefix'",
        "no_such_macro",
        task={"s3_prefix": "{{ macros.no_such_macro() }}"},
    ),
    row(
        "template-renders-bad-value",
        "dag",
        None,
        "language_code: 'english' is not allowed; allowed values: en-AU",
        task=filters(language_code="{{ params.lang }}"),
        params={"lang": "english"},
    ),
    row(
        "template-renders-date-only",
        "dag",
        None,
        "created_at_gte: '2025-01-04' is not an ISO-8601 timestamp",
        task={"created_at_gte": "{{ ds }}", "created_at_lt": "2025-01-05T00:00:00Z"},
    ),
    # -- what the API answers: one window, so exactly one request when nothing is retried -------------------------
    row(
        "api-non-json",
        "execute",
        Resp,
        "the API answered 200 with a body that is not JSON",
        "status=200",
        pre_io=False,
        task=ONE_WINDOW,
        conn={"max_retries": 0},
        api=("fake", Faults(non_json_rate=1.0)),
        requests=1,
        request_id=UUID_RE,
    ),
    row(
        "api-wrong-shape-no-data",
        "execute",
        Resp,
        "the API answered 200 with JSON of an unexpected shape (no 'data' list)",
        "status=200",
        pre_io=False,
        task=ONE_WINDOW,
        conn={"max_retries": 0},
        api=("scripted", 200, {"items": []}, {"x-request-id": "req-shape-1"}),
        requests=1,
        request_id="req-shape-1",
    ),
    row(
        "api-wrong-shape-data-not-objects",
        "execute",
        Resp,
        "the API's 'data' list holds something other than conversations",
        "status=200",
        pre_io=False,
        task=ONE_WINDOW,
        conn={"max_retries": 0},
        api=("scripted", 200, {"data": [1, 2]}, {"x-request-id": "req-shape-2"}),
        requests=1,
        request_id="req-shape-2",
    ),
    row(
        "api-wrong-shape-record-without-created-at",
        "execute",
        Resp,
        "objects with 'id' and 'created_at'",
        "status=200",
        pre_io=False,
        task=ONE_WINDOW,
        conn={"max_retries": 0},
        api=("scripted", 200, {"data": [{"id": "c-1"}]}, {"x-request-id": "req-shape-3"}),
        requests=1,
        request_id="req-shape-3",
    ),
    row(
        "api-401-wrong-token",
        "execute",
        API,
        "the API rejected the token (401 Unauthorized): check the connection's password",
        "status=401",
        "api_message='Missing or invalid bearer token'",
        pre_io=False,
        task=ONE_WINDOW,
        conn={"token": "tok-WRONG-d41d8c"},
        requests=1,
        request_id=UUID_RE,
    ),
    row(
        "api-403",
        "execute",
        API,
        "the token is not allowed to read conversations (403 Forbidden): check its scopes",
        "status=403",
        "api_message='scope conversations:read required'",
        pre_io=False,
        task=ONE_WINDOW,
        api=("scripted", 403, {"message": "scope conversations:read required"}, {"x-request-id": "req-403-a"}),
        requests=1,
        request_id="req-403-a",
    ),
    row(
        "api-422",
        "execute",
        API,
        "the API rejected a parameter value (422 Unprocessable Entity)",
        "status=422",
        "api_message='platform is not included in the list'",
        pre_io=False,
        task=ONE_WINDOW,
        api=("scripted", 422, {"message": "platform is not included in the list"}, {"x-request-id": "req-422-b"}),
        requests=1,
        request_id="req-422-b",
    ),
    row(
        "api-404-wrong-base-path",
        "execute",
        API,
        "the endpoint was not found (404): check the connection's host",
        "status=404",
        "api_message='Not Found'",
        pre_io=False,
        task=ONE_WINDOW,
        api=("scripted", 404, {"error": "Not Found"}, {"x-request-id": "req-404-c"}),
        requests=1,
        request_id="req-404-c",
    ),
]


def _set_connection(monkeypatch: pytest.MonkeyPatch, url: str, overrides: dict[str, Any]) -> None:
    overrides = dict(overrides)
    conn: dict[str, Any] = {"conn_type": "conversations", "host": overrides.pop("host", url)}
    token = overrides.pop("token", TOKEN)
    if token is not None:
        conn["password"] = token
    conn["extra"] = overrides.pop("extra", {"backoff_base": 0.01, **overrides})
    monkeypatch.setenv("AIRFLOW_CONN_CONVERSATIONS_DEFAULT", json.dumps(conn))


def _build(case: Case, bucket: str) -> Any:
    if case.sensor:
        return ConversationsSensor(task_id="wait", poke_interval=0.05, timeout=5, **case.task)
    return ConversationsToS3Operator(task_id="export", **{"s3_bucket": bucket, "s3_prefix": "p", **case.task})


def _fail(
    case: Case,
    bucket: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> str:
    """Run the case; return the text of the failure it must produce."""
    if case.run == "dag":
        request.getfixturevalue("airflow_db")
        dag_id = "bad_" + request.node.callspec.id.replace("-", "_")
        _run, ti = run_dag(dag_id, LOGICAL, case.params, **{"s3_bucket": bucket, "s3_prefix": "p", **case.task})
        captured = capsys.readouterr()
        assert ti.state == "failed", ti.state
        return "\n".join([captured.out, captured.err, caplog.text])
    assert case.error is not None
    with pytest.raises(case.error) as exc:
        task = _build(case, bucket)
        assert case.run == "execute", f"{case.run} case: the task was built without error"
        task.execute(case.context or INTERVAL)
    return str(exc.value)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_clearly(
    case: Case,
    conversations_api_factory,
    scripted_api_factory,
    monkeypatch: pytest.MonkeyPatch,
    s3_client,
    bucket: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    if case.api[0] == "fake":
        records = generate_conversations(50, seed=1, start=DAY, end=LOGICAL)
        api = conversations_api_factory(records=records, token=TOKEN, strict_params=True, faults=case.api[1])
        url, request_count = api.url, lambda: api.stats.requests
    else:
        scripted = scripted_api_factory(*case.api[1:])
        url, request_count = scripted.url, lambda: scripted.request_count
    _set_connection(monkeypatch, url, case.conn)

    text = _fail(case, bucket, request, capsys, caplog)

    missing = [fragment for fragment in case.fragments if fragment not in text]
    assert not missing, f"missing {missing} in the error: {text[-3000:]}"
    assert read_objects(s3_client, bucket) == {}, "nothing may be written to S3"
    if case.pre_io:
        assert request_count() == 0, "a case decidable before I/O sent a request"
    else:
        assert request_count() == case.requests, f"{request_count()} request(s): the error was retried"
        assert case.request_id is not None
        assert re.search(rf"request_id={case.request_id}", text), f"no request id in: {text}"
    if case.task.get("s3_bucket") == MISSING_BUCKET:
        assert MISSING_BUCKET not in {b["Name"] for b in s3_client.list_buckets()["Buckets"]}
