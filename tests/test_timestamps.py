"""timestamps: user input and the API's own format, both to aware UTC datetimes; the wire format back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pendulum
import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.timestamps import format_timestamp, parse_api_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-13T22:11:57.792Z", datetime(2025, 2, 13, 22, 11, 57, 792000, tzinfo=timezone.utc)),
        ("2025-02-13T22:11:57.123456789Z", datetime(2025, 2, 13, 22, 11, 57, 123456, tzinfo=timezone.utc)),
        ("2025-02-13T23:11+01:00", datetime(2025, 2, 13, 22, 11, tzinfo=timezone.utc)),
        ("2025-02-13 22:11:57+0000", datetime(2025, 2, 13, 22, 11, 57, tzinfo=timezone.utc)),
    ],
)
def test_parse_timestamp_normalises_to_utc(text, expected):
    assert parse_timestamp(text, "x") == expected


def test_format_timestamp_has_microseconds_and_z():
    dt = datetime(2025, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(dt) == "2025-01-01T00:00:00.000000Z"


def test_pendulum_input_becomes_a_plain_utc_datetime():
    dt = parse_timestamp(pendulum.datetime(2025, 1, 1, 1, tz="Europe/Paris"), "x")
    assert type(dt) is datetime and dt == datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-01-01T00:00:00", "x: '2025-01-01T00:00:00' has no timezone"),
        ("yesterday", "x: 'yesterday' is not an ISO-8601 timestamp"),
        ("2025-02-30T00:00:00Z", "x: '2025-02-30T00:00:00Z' is not a valid timestamp"),
        (1735689600, "x: expected a timezone-aware datetime or an ISO-8601 string, got int"),
        ("0001-01-01T00:00:00+01:00", "x: '0001-01-01T00:00:00+01:00' is outside the timestamps Python can hold"),
        ("9999-12-31T23:59:59-01:00", "x: '9999-12-31T23:59:59-01:00' is outside the timestamps Python can hold"),
    ],
)
def test_user_timestamps_are_refused_with_the_field_name(value, message):
    with pytest.raises(ConversationsFilterError) as exc:
        parse_timestamp(value, "x")
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "value",
    [
        "2025-02-13T22:11:57.792000Z",
        "2025-02-13T22:11:57.792Z",
        "2025-02-13T23:11:57.792+01:00",
        "2025-02-13T22:11:57.792",
    ],
)
def test_api_timestamps_in_any_form_give_the_same_instant(value):
    # The API's own form takes a fast path; the others the general parser; no offset means UTC.
    assert parse_api_timestamp(value) == datetime(2025, 2, 13, 22, 11, 57, 792000, tzinfo=timezone.utc)


def test_api_timestamp_that_is_no_timestamp_names_the_field():
    with pytest.raises(ConversationsFilterError, match=r"updated_at: '2025-13-01T00:00:00\.000000Z'"):
        parse_api_timestamp("2025-13-01T00:00:00.000000Z", "updated_at")
