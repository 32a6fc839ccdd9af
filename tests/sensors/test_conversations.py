"""ConversationsSensor, unit level: arguments, one poke, deferral and the trigger's events (no DAG run).

Whole runs (``dag.test()``, poke and deferrable) are in ``tests/integration/test_sensor_dag.py``.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from requests_mock import ANY

from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsAuthError,
    ConversationsConnectionError,
    ConversationsFilterError,
)
from airflow_provider_conversations.sensors.conversations import ConversationsSensor
from airflow_provider_conversations.testing import generate_conversations
from airflow_provider_conversations.triggers.conversations import ConversationsTrigger
from airflow_provider_conversations.version_compat import AirflowFailException, AirflowSensorTimeout
from tests.conftest import TOKEN

UTC = timezone.utc
LOGICAL = datetime(2025, 1, 4, tzinfo=UTC)
DAY = datetime(2025, 1, 3, tzinfo=UTC)
CONTEXT = {"data_interval_start": DAY, "data_interval_end": LOGICAL}
URL = "https://api.example.com/v2/conversations"


def test_count_found_is_pushed_to_xcom(api):
    api.add_records(generate_conversations(7, seed=9, start=DAY, end=DAY + timedelta(days=1)))
    sensor = ConversationsSensor(task_id="s", min_count=5)
    result = sensor.poke(CONTEXT)
    assert result.is_done and result.xcom_value == 7
    assert sensor.execute_complete({}, {"status": "success", "count": 7}) == 7


def test_too_few_is_not_done_yet(api):
    api.add_records(generate_conversations(3, seed=9, start=DAY, end=DAY + timedelta(days=1)))
    result = ConversationsSensor(task_id="s", min_count=5).poke(CONTEXT)
    assert not result.is_done and result.xcom_value == 3


@pytest.fixture
def mocked_api(set_conn, requests_mock):
    set_conn("https://api.example.com", TOKEN, max_retries=0)
    return requests_mock


def test_a_transient_failure_after_retries_waits_for_the_next_poke(mocked_api):
    mocked_api.get(URL, status_code=503, text="down")
    result = ConversationsSensor(task_id="s").poke(CONTEXT)
    assert not result.is_done and mocked_api.call_count == 1


def test_a_client_error_fails_the_poke(mocked_api):
    mocked_api.get(URL, status_code=404, json={"error": "Not Found"})
    with pytest.raises(ConversationsAPIError) as exc:
        ConversationsSensor(task_id="s").poke(CONTEXT)
    assert exc.value.status == 404


def test_refused_credentials_fail_the_poke_without_task_retries(mocked_api):
    mocked_api.get(URL, status_code=401, json={"error": "Unauthorized"})
    with pytest.raises(ConversationsAuthError) as exc:
        ConversationsSensor(task_id="s").poke(CONTEXT)
    assert isinstance(exc.value, AirflowFailException)
    assert exc.value.status == 401 and TOKEN not in str(exc.value)


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_connection_of_another_type_fails_without_retries_before_any_request(monkeypatch, requests_mock, deferrable):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONVERSATIONS_DEFAULT",
        json.dumps({"conn_type": "http", "host": "https://api.example.com", "password": "http-SECRET"}),
    )
    requests_mock.get(ANY, json={})
    with pytest.raises(ConversationsConnectionError, match="is of type 'http'") as exc:
        ConversationsSensor(task_id="s", deferrable=deferrable).execute(CONTEXT)
    assert isinstance(exc.value, AirflowFailException) and requests_mock.call_count == 0


def test_deferrable_execute_hands_the_trigger_the_range_and_an_absolute_deadline(set_conn):
    set_conn("https://api.example.com", TOKEN)
    sensor = ConversationsSensor(
        task_id="s", deferrable=True, min_count=3, poke_interval=5, timeout=60, filters={"platform": "zoom"}
    )
    before = time.time()
    with pytest.raises(BaseException) as exc:  # Airflow's TaskDeferred (a BaseException in Airflow 3)
        sensor.execute(CONTEXT)
    assert type(exc.value).__name__ == "TaskDeferred" and exc.value.method_name == "execute_complete"
    trigger = exc.value.trigger
    assert isinstance(trigger, ConversationsTrigger)
    _classpath, kwargs = trigger.serialize()
    assert kwargs["filters"] == {
        "created_at_gte": "2025-01-03T00:00:00.000000Z",
        "created_at_lt": "2025-01-04T00:00:00.000000Z",
        "platform": "zoom",
    }
    assert (kwargs["min_count"], kwargs["poke_interval"]) == (3, 5.0)
    assert before + 60 <= kwargs["deadline"] <= time.time() + 60
    assert TOKEN not in json.dumps(kwargs)


def test_timeout_event_is_a_sensor_timeout():
    with pytest.raises(AirflowSensorTimeout, match="2 conversation\\(s\\) found, 5 wanted"):
        ConversationsSensor(task_id="s", min_count=5).execute_complete({}, {"status": "timeout", "count": 2})


@pytest.mark.parametrize(
    ("kind", "error", "fails_once"),
    [
        ("connection", ConversationsConnectionError, True),
        ("argument", ConversationsFilterError, True),
        ("auth", ConversationsAuthError, True),
        ("api", ConversationsAPIError, False),
        ("other", ConversationsAPIError, False),
    ],
)
def test_error_event_kinds_become_typed_errors(kind, error, fails_once):
    event = {"status": "error", "message": "nope", "status_code": 401 if kind == "auth" else None, "error": kind}
    with pytest.raises(error, match="waiting for conversations failed: nope") as exc:
        ConversationsSensor(task_id="s").execute_complete({}, event)
    assert isinstance(exc.value, AirflowFailException) is fails_once


def test_error_event_is_an_api_error_with_its_status():
    with pytest.raises(ConversationsAPIError, match="waiting for conversations failed: nope") as exc:
        ConversationsSensor(task_id="s").execute_complete(
            {}, {"status": "error", "message": "nope", "status_code": 403}
        )
    assert exc.value.status == 403


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_count": 0}, "min_count: expected an integer >= 1"),
        ({"min_count": True}, "min_count: expected an integer >= 1, got True"),
        ({"filters": {"media_type": "text"}}, "media_type: 'text' is not allowed"),
        ({"filters": {"created_at_lt": "2025-01-01T00:00:00Z"}}, "created_at_lt cannot be a filter here"),
        ({"created_at_gte": "2025-01-02T00:00:00Z", "created_at_lt": "2025-01-01T00:00:00Z"}, "empty or inverted"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ConversationsFilterError) as exc:
        ConversationsSensor(task_id="s", **kwargs)
    assert message in str(exc.value)


def test_templated_arguments_are_checked_after_rendering_not_at_construction():
    ConversationsSensor(task_id="s", filters={"platform": "{{ params.p }}"}, created_at_gte="{{ ds }}")


@pytest.mark.parametrize("event", [{"status": "weird"}, None, "success"])
def test_unexpected_event_is_refused(event):
    sensor = ConversationsSensor(task_id="s")
    with pytest.raises(Exception, match="unexpected event"):
        sensor.execute_complete({}, event)
