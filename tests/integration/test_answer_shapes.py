"""The hook and the trigger over real HTTP against the fake's real-shaped answers: gzip, chunked, long text."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.triggers.conversations import ConversationsTrigger
from tests.conftest import TOKEN, read_records

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
SHAPES = {
    "gzip": {"gzip": True},
    "chunked": {"chunked": True},
    "gzip+chunked": {"gzip": True, "chunked": True},
    "long non-ASCII text": {"gzip": True, "title_chars": 2000, "non_ascii_share": 1.0},
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_hook_asks_for_gzip_and_reads_the_records_served(set_conn, conversations_api_factory, shape):
    api = conversations_api_factory(records=700, token=TOKEN, seed=3, strict_params=True, **shape)
    set_conn(api.url, TOKEN)
    gte, lt = START, START + timedelta(days=3)
    read = read_records(ConversationsHook(), gte, lt)
    served = {r["id"]: r for r in api.records()}
    assert len(read) == len(api.ids_in_range(gte, lt)) > 250
    assert all(record == served[record["id"]] for record in read)
    asked = [entry.headers.get("Accept-Encoding", "") for entry in api.request_log]
    assert asked and all("gzip" in value for value in asked)
    gzipped = api.stats.encodings.get("gzip", 0)
    assert gzipped == (len(asked) if shape.get("gzip") else 0)
    assert api.stats.chunked == (len(asked) if shape.get("chunked") else 0)


@pytest.mark.parametrize("shape", [{"gzip": True}, {"gzip": True, "chunked": True}], ids=["gzip", "gzip+chunked"])
def test_trigger_aiohttp_path_asks_for_gzip_and_counts_the_records_served(set_conn, conversations_api_factory, shape):
    api = conversations_api_factory(records=300, token=TOKEN, seed=4, strict_params=True, **shape)
    set_conn(api.url, TOKEN)
    window = {"created_at_gte": "2025-01-02T00:00:00.000000Z", "created_at_lt": "2025-01-04T00:00:00.000000Z"}
    expected = len(api.ids_in_range(START + timedelta(days=1), START + timedelta(days=3)))
    trigger = ConversationsTrigger("conversations_default", window, min_count=expected, poke_interval=0.05)

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    assert asyncio.run(asyncio.wait_for(first_event(), timeout=30)) == {"status": "success", "count": expected}
    assert expected > 50
    assert [("gzip" in e.headers.get("Accept-Encoding", "")) for e in api.request_log] == [True]
    assert api.stats.encodings == {"gzip": 1}
