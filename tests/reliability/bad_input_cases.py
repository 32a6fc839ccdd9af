"""The argument rows of the bad-input table (connection, filters, created_at range) and its row model.

``test_bad_input.py`` runs them with the rows for other arguments, the sensor, templates and API answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsConnectionError,
    ConversationsFilterError,
    ConversationsResponseError,
)

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)
LOGICAL = datetime(2025, 1, 4, tzinfo=UTC)  # a daily run at LOGICAL has the data interval [DAY, LOGICAL)
INTERVAL = {"data_interval_start": DAY, "data_interval_end": LOGICAL}
ONE_WINDOW = {"created_at_gte": "2025-01-03T00:00:00Z", "created_at_lt": "2025-01-03T01:00:00Z"}
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MISSING_BUCKET = "no-such-bucket-reliability"


@dataclass(frozen=True)
class Case:
    """One row of the table.

    :param run: ``init`` (construct the task), ``execute`` (``task.execute(context)``) or ``dag``
        (a one-task DAG run by ``dag.test()``; the task must end ``failed``).
    :param error: the exception type expected (``None`` for ``dag``).
    :param fragments: texts that must all be in the error (field name, allowed values, status...).
    :param pre_io: decidable before I/O: no HTTP request and no S3 write may happen.
    :param task: task kwargs (``s3_bucket``/``s3_prefix`` default to the test bucket and ``p``).
    :param conn: connection overrides: ``host``, ``token`` (``None``: no password), ``extra`` (raw JSON
        value replacing the extras), or any extra field.
    :param api: ``("fake", Faults | None)`` or ``("scripted", status, body, headers)``.
    :param sensor: build a :class:`ConversationsSensor` instead of the operator.
    :param context: the execute context (default: the data interval of a daily run).
    :param params: DAG params (``dag`` cases).
    :param requests: for I/O cases, the exact number of requests the API must receive.
    :param request_id: a pattern the error must hold as ``request_id=...`` (I/O cases).
    """

    run: str
    error: type[BaseException] | None
    fragments: tuple[str, ...]
    pre_io: bool = True
    task: dict[str, Any] = field(default_factory=dict)
    conn: dict[str, Any] = field(default_factory=dict)
    api: tuple[Any, ...] = ("fake", None)
    sensor: bool = False
    context: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    requests: int | None = None
    request_id: str | None = None


def row(case_id: str, run: str, error: type[BaseException] | None, *fragments: str, **kwargs: Any) -> Any:
    return pytest.param(Case(run, error, fragments, **kwargs), id=case_id)


def filters(**values: Any) -> dict[str, Any]:
    return {"filters": values}


Conn, Filt, API, Resp = (
    ConversationsConnectionError,
    ConversationsFilterError,
    ConversationsAPIError,
    ConversationsResponseError,
)


ARGUMENT_CASES = [
    # -- the connection: checked in the task, before the bucket check and before any request --------------------
    row("conn-no-password", "execute", Conn, "'conversations_default': no API token", "Password", conn={"token": None}),
    row("conn-blank-password", "execute", Conn, "no API token", conn={"token": "   "}),
    row(
        "conn-host-ftp",
        "execute",
        Conn,
        "host: 'ftp://x' is not a valid API base URL",
        "https://",
        conn={"host": "ftp://x"},
    ),
    row(
        "conn-host-http-non-loopback",
        "execute",
        Conn,
        "host: refusing to send the API token over plain http to api.example.com",
        "use https",
        conn={"host": "http://api.example.com"},
    ),
    row(
        "conn-host-credentials",
        "execute",
        Conn,
        "host: the API base URL must not hold a query, fragment or credentials",
        conn={"host": "https://user:pw@api.example.com"},
    ),
    row(
        "conn-extra-timeout-abc",
        "execute",
        Conn,
        "extra timeout: expected a number, got 'abc'",
        conn={"timeout": "abc"},
    ),
    # inf passes the check; the first request then dies in urllib3 with "OverflowError: timestamp out of range".
    row("conn-extra-timeout-inf", "execute", Conn, "extra timeout", "inf", conn={"timeout": "inf"}),
    row(
        "conn-extra-max-retries-negative",
        "execute",
        Conn,
        "extra max_retries: -1 is out of range; allowed: >= 0 and <= 50",
        conn={"max_retries": -1},
    ),
    row(
        "conn-extra-max-retries-float",
        "execute",
        Conn,
        "extra max_retries: expected an integer, got 1.5",
        conn={"max_retries": 1.5},
    ),
    row(
        "conn-extra-budget-share-2",
        "execute",
        Conn,
        "extra budget_share: 2.0 is out of range; allowed: > 0 and <= 1",
        conn={"budget_share": 2},
    ),
    row(
        "conn-extra-max-concurrency-0",
        "execute",
        Conn,
        "extra max_concurrency: 0 is out of range; allowed: >= 1 and <= 32",
        conn={"max_concurrency": 0},
    ),
    # Airflow's extra_dejson logs and returns {} for invalid JSON: the task would run on defaults.
    row("conn-extra-not-json", "execute", Conn, "extra is not valid JSON", conn={"extra": "{timeout: 5"}),
    row("conn-extra-not-object", "execute", Conn, "extra must be a JSON object", conn={"extra": "[1, 2]"}),
    # -- filters: every validated field, out of range or of the wrong type ------------------------------------
    row(
        "filter-platform",
        "init",
        Filt,
        "platform: 'skype' is not allowed; allowed values: bluejeans",
        "zoom",
        task=filters(platform="skype"),
    ),
    row(
        "filter-language-code",
        "init",
        Filt,
        "language_code: 'en-us' is not allowed; allowed values: en-AU",
        "en-US",
        task=filters(language_code="en-us"),
    ),
    row(
        "filter-media-type",
        "init",
        Filt,
        "media_type: 'text' is not allowed; allowed values: audio, video",
        task=filters(media_type="text"),
    ),
    row(
        "filter-duration-negative",
        "init",
        Filt,
        "duration_gte: -1 is out of range; allowed: >= 0",
        task=filters(duration_gte=-1),
    ),
    row(
        "filter-duration-not-int",
        "init",
        Filt,
        "duration_lt: expected an integer >= 0, got 'long'",
        task=filters(duration_lt="long"),
    ),
    row(
        "filter-duration-bool",
        "init",
        Filt,
        "duration_gt: expected an integer >= 0, got True",
        task=filters(duration_gt=True),
    ),
    row(
        "filter-is-api-maybe", "init", Filt, "is_api: expected true or false, got 'maybe'", task=filters(is_api="maybe")
    ),
    row(
        "filter-owner-ids-not-uuid",
        "init",
        Filt,
        "owner_ids: 'owner-7' is not a UUID",
        task=filters(owner_ids=["owner-7"]),
    ),
    row("filter-ids-empty", "init", Filt, "ids: must not be empty (omit the filter instead)", task=filters(ids=[])),
    row(
        "filter-account-ids-dict",
        "init",
        Filt,
        "account_ids: expected a list of ids, got dict",
        task=filters(account_ids={"a": 1}),
    ),
    row("filter-title-empty", "init", Filt, "title: expected a non-empty string, got ''", task=filters(title="")),
    row(
        "filter-unknown-name",
        "init",
        Filt,
        "filters: unknown filter(s) plattform; allowed: account_ids",
        "platform",
        task=filters(plattform="zoom"),
    ),
    row(
        "filter-created-at-inside-filters",
        "init",
        Filt,
        "filters: created_at_gte cannot be a filter here; pass created_at_gte/created_at_lt instead",
        task=filters(created_at_gte="2025-01-01T00:00:00Z"),
    ),
    row(
        "filter-not-a-dict",
        "init",
        Filt,
        "filters: expected a dict of filter names, got list",
        task={"filters": ["platform"]},
    ),
    row(
        "filter-updated-at-naive",
        "init",
        Filt,
        "updated_at_gte: '2025-01-01T00:00:00' has no timezone",
        "'Z'",
        task=filters(updated_at_gte="2025-01-01T00:00:00"),
    ),
    row(
        "filter-updated-at-inverted",
        "init",
        Filt,
        "updated_at: the range is empty or inverted: the lower bound 2025-01-02 00:00:00+00:00 is not before the upper bound 2025-01-01 00:00:00+00:00",
        task=filters(updated_at_gte="2025-01-02T00:00:00Z", updated_at_lt="2025-01-01T00:00:00Z"),
    ),
    # [t, t) matches nothing: the export would succeed with empty windows. created_at refuses the same range.
    row(
        "filter-updated-at-empty",
        "init",
        Filt,
        "updated_at",
        "empty",
        task=filters(updated_at_gte="2025-01-01T00:00:00Z", updated_at_lt="2025-01-01T00:00:00Z"),
    ),
    # -- the created_at range ------------------------------------------------------------------------------------
    row(
        "range-inverted",
        "init",
        Filt,
        "created_at: the range is empty or inverted: created_at_gte=2025-01-02T00:00:00.000000Z must be before "
        "created_at_lt=2025-01-01T00:00:00.000000Z",
        task={"created_at_gte": "2025-01-02T00:00:00Z", "created_at_lt": "2025-01-01T00:00:00Z"},
    ),
    row(
        "range-empty",
        "init",
        Filt,
        "created_at: the range is empty or inverted",
        task={"created_at_gte": "2025-01-01T00:00:00Z", "created_at_lt": "2025-01-01T00:00:00+00:00"},
    ),
    row(
        "range-naive-gte",
        "init",
        Filt,
        "created_at_gte: '2025-01-01T00:00:00' has no timezone",
        task={"created_at_gte": "2025-01-01T00:00:00", "created_at_lt": "2025-01-02T00:00:00Z"},
    ),
    row(
        "range-naive-datetime",
        "init",
        Filt,
        "created_at_lt: datetime.datetime(2025, 1, 2, 0, 0) has no timezone",
        task={"created_at_gte": "2025-01-01T00:00:00Z", "created_at_lt": datetime(2025, 1, 2)},
    ),
    row(
        "range-unparsable",
        "init",
        Filt,
        "created_at_lt: 'yesterday' is not an ISO-8601 timestamp (expected e.g. '2025-02-13T22:11:57.792000Z')",
        task={"created_at_gte": "2025-01-01T00:00:00Z", "created_at_lt": "yesterday"},
    ),
    row(
        "range-impossible-date",
        "init",
        Filt,
        "created_at_gte: '2025-02-30T00:00:00Z' is not a valid timestamp",
        task={"created_at_gte": "2025-02-30T00:00:00Z", "created_at_lt": "2025-03-02T00:00:00Z"},
    ),
    row(
        "range-no-data-interval",
        "execute",
        Filt,
        "created_at_gte and created_at_lt: not given and this run has no data interval",
        "CronDataIntervalTimetable",
        context={"data_interval_start": DAY, "data_interval_end": DAY},
    ),
]
