"""ConversationsTrigger: JSON round trip, and its async poll loop over real HTTP against the fake API."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.testing import generate_conversations
from airflow_provider_conversations.triggers.conversations import ConversationsTrigger
from tests.conftest import TOKEN

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW = {"created_at_gte": "2025-01-02T00:00:00.000000Z", "created_at_lt": "2025-01-03T00:00:00.000000Z"}


def test_serialize_round_trips_through_json_without_the_token():
    trigger = ConversationsTrigger("conv", {**WINDOW, "platform": "zoom"}, 5, 0.5, 1_900_000_000.5, 4)
    classpath, kwargs = trigger.serialize()
    assert TOKEN not in json.dumps(kwargs)
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert ConversationFilters.from_mapping(kwargs["filters"]).platform == "zoom"


def first_event(trigger: ConversationsTrigger, during=None) -> dict:
    async def main() -> dict:
        side = asyncio.create_task(during()) if during else None
        try:
            async for event in trigger.run():
                return event.payload
            raise AssertionError("the trigger ended without an event")
        finally:
            if side:
                await side

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def test_records_appearing_after_some_polls_end_in_success(api):
    async def later() -> None:
        while api.stats.requests < 3:
            await asyncio.sleep(0.01)
        api.add_records(
            generate_conversations(40, seed=1, start=START + timedelta(days=1), end=START + timedelta(days=2))
        )

    event = first_event(ConversationsTrigger("conversations_default", WINDOW, min_count=40, poke_interval=0.05), later)
    assert event == {"status": "success", "count": 40}
    assert api.stats.requests >= 4 and api.stats.total_cost == api.stats.requests  # one cheap request a poll
    assert all(dict(e.query)["include_paging_counts"] == "true" for e in api.request_log)


def test_wrong_token_is_an_error_event_at_once(api, set_conn):
    set_conn(api.url, "wrong")
    event = first_event(ConversationsTrigger("conversations_default", WINDOW, poke_interval=0.05))
    assert event["status"] == "error" and event["status_code"] == 401 and "401" in event["message"]
    assert api.stats.requests == 1


def test_5xx_is_retried_with_the_shared_policy_then_success(api):
    api.add_records(generate_conversations(3, seed=2, start=START + timedelta(days=1), end=START + timedelta(days=2)))
    api.faults.error_rate = 1.0

    async def heal() -> None:
        while api.stats.requests < 3:
            await asyncio.sleep(0.01)
        api.faults.error_rate = 0.0

    event = first_event(ConversationsTrigger("conversations_default", WINDOW, min_count=3, poke_interval=0.05), heal)
    assert event == {"status": "success", "count": 3}
    assert (
        api.stats.status_counts.get(500, 0) + api.stats.status_counts.get(502, 0) + api.stats.status_counts.get(503, 0)
        >= 2
    )


def test_deadline_ends_in_a_timeout_event(api):
    started = time.monotonic()
    event = first_event(
        ConversationsTrigger("conversations_default", WINDOW, poke_interval=0.1, deadline=time.time() + 0.5)
    )
    assert event == {"status": "timeout", "count": 0}
    assert time.monotonic() - started < 5


def test_bad_connection_is_an_error_event(set_conn):
    set_conn("http://example.com")
    event = first_event(ConversationsTrigger("conversations_default", WINDOW))
    assert event["status"] == "error" and "plain http" in event["message"]


def test_missing_connection_is_an_error_event_not_a_crash():
    event = first_event(ConversationsTrigger("no_such_conn", WINDOW))
    assert event["status"] == "error" and event["status_code"] is None
    assert "no_such_conn" in event["message"]


def test_bad_filters_are_an_error_event_naming_the_field(api):
    event = first_event(ConversationsTrigger("conversations_default", {**WINDOW, "platform": "skype"}))
    assert event["status"] == "error" and "platform: 'skype' is not allowed" in event["message"]
    assert api.stats.requests == 0


def test_a_connection_of_another_type_is_a_connection_error_event_without_any_request(api, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONVERSATIONS_DEFAULT",
        json.dumps({"conn_type": "aws", "login": "AKIA", "password": "aws-SECRET", "host": api.url}),
    )
    event = first_event(ConversationsTrigger("conversations_default", WINDOW))
    assert event["status"] == "error" and event["error"] == "connection"
    assert "is of type 'aws'; expected a connection of type 'conversations'" in event["message"]
    assert "aws-SECRET" not in json.dumps(event) and api.stats.requests == 0


def test_error_events_say_what_failed(api, set_conn):
    set_conn(api.url, "wrong")
    assert first_event(ConversationsTrigger("conversations_default", WINDOW))["error"] == "auth"
    assert first_event(ConversationsTrigger("conversations_default", {**WINDOW, "platform": "skype"}))["error"] == (
        "argument"
    )
