"""headers: one case-insensitive way to read a response's headers, whatever the transport."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_conversations.api.headers import header, int_header, retry_after_seconds, server_time


def test_lookup_ignores_the_case_of_plain_dict_keys():
    headers = {"X-Request-Id": "r1", "content-type": "application/json"}
    assert header(headers, "x-request-id") == "r1" and header(headers, "content-type") == "application/json"
    assert header(headers, "x-ratelimit-endpoint-cost") is None


@pytest.mark.parametrize(("value", "expected"), [("3", 3), ("3.0", 3), ("599", 599), ("n/a", None), ("", None)])
def test_integer_headers_read_numbers_and_ignore_the_rest(value, expected):
    assert int_header({"X-RateLimit-Remaining-Minute": value}, "x-ratelimit-remaining-minute") == expected
    assert int_header({}, "x-ratelimit-remaining-minute") is None


def test_retry_after_header_forms():
    now = datetime(2026, 11, 26, 10, 0, 40, tzinfo=timezone.utc)
    assert retry_after_seconds({"Retry-After": "3"}, now=now) == 3.0
    assert retry_after_seconds({"retry-after": "0.25"}, now=now) == 0.25
    assert retry_after_seconds({"Retry-After": "Thu, 26 Nov 2026 10:00:50 GMT"}, now=now) == 10.0
    assert retry_after_seconds({"Retry-After": "Thu, 26 Nov 2026 10:00:30 GMT"}, now=now) == 0.0  # past: no wait
    assert retry_after_seconds({"Retry-After": "soon"}, now=now) is None
    assert retry_after_seconds({}, now=now) is None


def test_server_time_reads_the_date_header_as_epoch_seconds():
    assert (
        server_time({"DATE": "Thu, 26 Nov 2026 10:00:50 GMT"})
        == datetime(2026, 11, 26, 10, 0, 50, tzinfo=timezone.utc).timestamp()
    )
    assert server_time({"Date": "yesterday"}) is None and server_time({"Date": ""}) is None and server_time({}) is None
